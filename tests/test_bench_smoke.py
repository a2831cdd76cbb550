"""The benchmark harness at a tiny size: it runs, and both sides agree.

Timings are not checked here; `python -m bench` is for that. MLflow's side
is skipped when MLflow is not installed (it is in the `bench` extra).
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.questions import questions
from bench.runner import Options, run
from bench.workload import STEPS, generate

HAS_MLFLOW = importlib.util.find_spec("mlflow") is not None

# MLflow 3.17's store uses the `noload` loader option, which SQLAlchemy 2.1
# deprecates; the warning is MLflow's, not expbot's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated"
)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    options = Options(
        size=50,
        repeat=2,
        warmup=1,
        write_sample=10,
        slash_requests=3,
        skip_mlflow=not HAS_MLFLOW,
        workdir=tmp_path_factory.mktemp("bench"),
    )
    return run(options)


def test_workload_same_seed_same_experiments() -> None:
    assert generate(30, seed=3) == generate(30, seed=3)


def test_workload_other_seed_differs() -> None:
    assert generate(30, seed=3) != generate(30, seed=4)


def test_workload_status_mix_like_teams() -> None:
    counts = Counter(spec.status for spec in generate(2000))
    for status, share in [
        ("completed", 0.70),
        ("failed", 0.15),
        ("cancelled", 0.05),
        ("running", 0.10),
    ]:
        assert abs(counts[status] / 2000 - share) < 0.03, status


def test_workload_sorted_by_creation() -> None:
    created = [spec.created for spec in generate(200)]
    assert created == sorted(created)


def test_workload_logs_every_step() -> None:
    spec = generate(1)[0]
    assert len(spec.points) == STEPS


def test_expbot_results_match_reference(results: dict[str, Any]) -> None:
    answers = results["backends"]["expbot_sqlite"]["questions"]
    for question in questions():
        assert answers[question.key]["matches_reference"], question.key


@pytest.mark.skipif(not HAS_MLFLOW, reason="MLflow is not installed")
def test_mlflow_results_match_reference(results: dict[str, Any]) -> None:
    answers = results["backends"]["mlflow_sqlite"]["questions"]
    for question in questions():
        assert answers[question.key]["matches_reference"], question.key


def test_bench_run_has_no_warnings(results: dict[str, Any]) -> None:
    assert results["warnings"] == []


def test_bench_times_write_sample(results: dict[str, Any]) -> None:
    load = results["backends"]["expbot_sqlite"]["load"]
    assert load["write_sample"] == 10
    assert load["runs_per_second"] > 0


def test_bench_table_lists_every_question(results: dict[str, Any]) -> None:
    table = report.format_text(results)
    for question in questions():
        assert question.title in table, question.key


def test_bench_results_saved_as_json(results: dict[str, Any], tmp_path: Path) -> None:
    path = report.save(results, tmp_path)
    assert json.loads(path.read_text())["options"]["size"] == 50


def test_bench_times_summary_and_report(results: dict[str, Any]) -> None:
    figures = results["backends"]["expbot_sqlite"]
    for key in ("summary", "report", "report_charts"):
        assert isinstance(figures[key], dict), figures[key]


def test_bench_times_batched_writes(results: dict[str, Any]) -> None:
    sides = ["expbot_sqlite", "mlflow_sqlite"] if HAS_MLFLOW else ["expbot_sqlite"]
    for key in sides:
        load = results["backends"][key]["load"]
        assert load["batched_runs_per_second"] > 0, key
        assert load["batched_write_cpu_seconds"] > 0, key
    assert "write, all steps in one call" in report.format_text(results)


def test_expbot_batched_write_same_data(tmp_path: Path) -> None:
    from bench.expbot_side import ExpbotSide

    spec = next(s for s in generate(20) if s.status == "completed")
    stepwise = ExpbotSide(f"sqlite:///{tmp_path / 'stepwise.db'}")
    batched = ExpbotSide(f"sqlite:///{tmp_path / 'batched.db'}")

    stepwise.write(spec)
    batched.write(spec, batched=True)

    logged = stepwise.tracker.search("")[0]
    buffered = batched.tracker.search("")[0]
    assert buffered.metrics == logged.metrics == spec.final
    assert buffered.status == logged.status == "completed"
    history = [
        (p.key, p.step, p.value) for p in batched.tracker.metric_history(buffered.id)
    ]
    expected = [
        (p.key, p.step, p.value) for p in stepwise.tracker.metric_history(logged.id)
    ]
    assert history == expected
    assert len(history) == STEPS * len(spec.final)
    stepwise.close()
    batched.close()


@pytest.mark.skipif(not HAS_MLFLOW, reason="MLflow is not installed")
def test_mlflow_batched_write_same_data(tmp_path: Path) -> None:
    from bench.mlflow_side import MlflowSide

    spec = next(s for s in generate(20) if s.status == "completed")
    side = MlflowSide(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts")

    side.write(spec)
    side.write(spec, batched=True)

    runs = side.client.search_runs(list(side.experiment_ids.values()))
    assert len(runs) == 2
    for mlflow_run in runs:
        assert mlflow_run.data.metrics == spec.final
        params = {k: str(v) for k, v in spec.config.items()}
        assert mlflow_run.data.params == params
        run_id = mlflow_run.info.run_id
        history = side.client.get_metric_history(run_id, "accuracy")
        assert sorted(m.step for m in history) == list(range(STEPS))
