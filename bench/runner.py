"""Run the benchmark: load the workload into each side, then time it.

Loading has two parts. The first `write_sample` experiments go through each
side's public API with a training script's call pattern (create, log each
of the 10 steps, end), and that part gives the write throughput. The rest
only feed the query figures, with the last step's metrics only. expbot
still loads them through its public API. MLflow's rows are inserted
straight into its tables, because its client would take hours at 100,000
runs.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench import expbot_only, slack_side
from bench.questions import Question, questions
from bench.timing import measure, rate
from bench.workload import WORKLOAD_END, ExperimentSpec, generate

logger = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class Options:
    size: int = 10_000
    repeat: int = 30
    # Untimed calls before each timed series.
    warmup: int = 3
    postgres: bool = False
    skip_mlflow: bool = False
    seed: int = 7
    write_sample: int = 2_000
    slash_requests: int = 100
    workdir: Path = field(default_factory=lambda: RESULTS_DIR / "work")
    # Keep the databases of an earlier run with the same size, seed and
    # sample instead of loading them again.
    reuse: bool = False


class Side(Protocol):
    name: str

    def write(self, spec: ExperimentSpec, *, history: bool = True) -> None: ...

    def search(self, question: Question) -> list[str]: ...

    def close(self) -> None: ...


def run(options: Options) -> dict[str, Any]:
    options.workdir.mkdir(parents=True, exist_ok=True)
    specs = generate(options.size, options.seed)
    warnings: list[str] = []
    backends: dict[str, Any] = {}

    sqlite_url = f"sqlite:///{options.workdir / 'expbot.db'}"
    backends["expbot_sqlite"] = run_expbot(
        sqlite_url, "expbot_sqlite", specs, options, warnings
    )
    if options.postgres:
        backends["expbot_postgres"] = run_expbot_on_postgres(specs, options, warnings)
    if not options.skip_mlflow:
        backends["mlflow_sqlite"] = run_mlflow(specs, options, warnings)

    return {
        "options": {**asdict(options), "workdir": str(options.workdir)},
        "backends": backends,
        "warnings": warnings,
    }


def run_expbot(
    url: str,
    key: str,
    specs: list[ExperimentSpec],
    options: Options,
    warnings: list[str],
) -> dict[str, Any]:
    from bench.expbot_side import ExpbotSide

    fresh = not _reusable(options, key)
    if fresh:
        _remove_sqlite_files(url)
    side = ExpbotSide(url)
    try:
        if fresh:
            load = load_side(
                side, specs, options, lambda rest: _write_quick(side, rest)
            )
            _save_marker(options, key, load)
        else:
            load = _load_marker(options, key)
        # Reads run as of the day after the workload's last month, as the
        # scheduled monthly report would.
        side.clock.now = WORKLOAD_END
        figures: dict[str, Any] = {"load": load}
        figures["questions"] = ask_questions(side, specs, options, warnings)
        counts = {q.key: side.count(q) for q in questions()}
        _check_counts(side.name, counts, specs, warnings)
        logger.info("%s: summary and monthly report", key)
        figures["summary"] = _figure(
            expbot_only.measure_summary(side.tracker, options.repeat, options.warmup)
        )
        for name, value in expbot_only.measure_report(
            side.tracker, options.repeat, options.warmup
        ).items():
            figures[name] = _figure(value)
    finally:
        side.close()

    logger.info("%s: /exp search through expbot serve", key)
    slash = slack_side.measure_slash_search(
        url,
        options.workdir,
        [q.expbot_query for q in questions()],
        options.slash_requests,
        options.warmup,
    )
    figures["slash_search"] = slash if isinstance(slash, str) else slash.as_dict()
    return figures


def run_expbot_on_postgres(
    specs: list[ExperimentSpec], options: Options, warnings: list[str]
) -> dict[str, Any] | str:
    from bench import postgres

    if not postgres.reachable():
        return f"n/a (PostgreSQL unreachable at {postgres.SERVER_URL})"
    name = f"expbot_bench_{options.size}"
    with postgres.scratch_database(name) as url:
        return run_expbot(
            url, "expbot_postgres", specs, _without_reuse(options), warnings
        )


def run_mlflow(
    specs: list[ExperimentSpec], options: Options, warnings: list[str]
) -> dict[str, Any] | str:
    try:
        from bench.mlflow_side import MlflowSide
    except ImportError as exc:
        return f"n/a (MLflow not importable: {exc})"

    key = "mlflow_sqlite"
    url = f"sqlite:///{options.workdir / 'mlflow.db'}"
    fresh = not _reusable(options, key)
    if fresh:
        _remove_sqlite_files(url)
    side = MlflowSide(url, options.workdir / "mlflow-artifacts")
    if fresh:
        load = load_side(side, specs, options, side.bulk_load)
        _save_marker(options, key, load)
    else:
        load = _load_marker(options, key)
    return {"load": load, "questions": ask_questions(side, specs, options, warnings)}


def load_side(
    side: Side,
    specs: list[ExperimentSpec],
    options: Options,
    load_rest: Callable[[list[ExperimentSpec]], None],
) -> dict[str, Any]:
    sample = specs[: options.write_sample]
    rest = specs[options.write_sample :]
    logger.info("%s: writing %d experiments through the API", side.name, len(sample))
    cpu_started = time.process_time()
    seconds, per_second = rate(len(sample), lambda: [side.write(s) for s in sample])
    cpu_seconds = time.process_time() - cpu_started
    logger.info(
        "%s: %.1f experiments/s; loading %d more", side.name, per_second, len(rest)
    )
    rest_seconds, _ = rate(len(rest), lambda: load_rest(rest))
    return {
        "write_sample": len(sample),
        "write_seconds": round(seconds, 3),
        "runs_per_second": round(per_second, 2),
        "write_cpu_seconds": round(cpu_seconds, 3),
        "rest": len(rest),
        "rest_seconds": round(rest_seconds, 3),
    }


def ask_questions(
    side: Side, specs: list[ExperimentSpec], options: Options, warnings: list[str]
) -> dict[str, Any]:
    answers = {}
    for question in questions():
        found = side.search(question)
        expected = question.expected_names(specs)
        if found != expected:
            message = (
                f"{side.name} answered {question.key!r} with {len(found)} experiments "
                f"that differ from the reference's {len(expected)}"
            )
            logger.warning("%s", message)
            warnings.append(message)
        stats = measure(
            lambda q=question: side.search(q), options.repeat, options.warmup
        )
        logger.info(
            "%s: %s median %.1f ms, p95 %.1f ms",
            side.name,
            question.key,
            stats.median_ms,
            stats.p95_ms,
        )
        answers[question.key] = {
            **stats.as_dict(),
            "returned": len(found),
            "total_matching": question.total(specs),
            "matches_reference": found == expected,
        }
    return answers


def _write_quick(side: Any, rest: list[ExperimentSpec]) -> None:
    for spec in rest:
        side.write(spec, history=False)


def _check_counts(
    name: str, counts: dict[str, int], specs: list[ExperimentSpec], warnings: list[str]
) -> None:
    for question in questions():
        expected = question.total(specs)
        if counts[question.key] != expected:
            message = (
                f"{name} counts {counts[question.key]} experiments for "
                f"{question.key!r}; the reference counts {expected}"
            )
            logger.warning("%s", message)
            warnings.append(message)


def _figure(value: Any) -> Any:
    return value if isinstance(value, str) else value.as_dict()


def _marker_path(options: Options, key: str) -> Path:
    return options.workdir / f"{key}.loaded.json"


def _reusable(options: Options, key: str) -> bool:
    if not options.reuse or not _marker_path(options, key).exists():
        return False
    marker = json.loads(_marker_path(options, key).read_text())
    return bool(marker.get("identity") == _identity(options))


def _identity(options: Options) -> list[int]:
    return [options.size, options.seed, options.write_sample]


def _save_marker(options: Options, key: str, load: dict[str, Any]) -> None:
    marker = {"identity": _identity(options), "load": load}
    _marker_path(options, key).write_text(json.dumps(marker))


def _load_marker(options: Options, key: str) -> dict[str, Any]:
    load = json.loads(_marker_path(options, key).read_text())["load"]
    return {**load, "reused": True}


def _without_reuse(options: Options) -> Options:
    return Options(**{**asdict(options), "reuse": False})


def _remove_sqlite_files(url: str) -> None:
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
