"""Run the benchmark: load the workload into each side, then time it.

Loading has two parts. The first `write_sample` experiments go through each
side's public API with a training script's call pattern (create, log each
of the 10 steps, end), and that part gives the write throughput. The sides
take turns, in writing and in answering questions, so that other work on
a shared machine slows them alike. The same sample is then written again
into scratch databases with every step in one call on both sides (expbot's
`log_metrics_batch`, one MLflow `log_batch`), for the batched write
figure, and those databases are deleted. The rest
only feed the query figures, with the last step's metrics only. expbot
still loads them through its public API. MLflow's rows are inserted
straight into its tables, because its client would take hours at 100,000
runs.
"""

from __future__ import annotations

import gc
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench import expbot_only, slack_side
from bench.questions import questions
from bench.timing import measure_in_turns, rate
from bench.workload import WORKLOAD_END, ExperimentSpec, generate

logger = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).parent / "results"
# Experiments each side writes before the other takes its turn.
WRITE_TURN = 50


@dataclass
class Options:
    size: int = 10_000
    repeat: int = 30
    # Untimed calls before each timed series.
    warmup: int = 3
    # Time after which a question's timed series stops early (see
    # `measure_in_turns`).
    budget_seconds: float = 120.0
    postgres: bool = False
    skip_mlflow: bool = False
    seed: int = 7
    write_sample: int = 2_000
    slash_requests: int = 100
    workdir: Path = field(default_factory=lambda: RESULTS_DIR / "work")
    # Keep the databases of an earlier run with the same size, seed and
    # sample instead of loading them again.
    reuse: bool = False


@dataclass
class Entry:
    """One side under test, with what it needs to load and what it measured."""

    key: str
    side: Any
    fresh: bool
    load_rest: Callable[[list[ExperimentSpec]], None]
    figures: dict[str, Any] = field(default_factory=dict)
    # Opens this side on an empty database in a scratch folder, for the
    # batched write sample; None where that sample is not written.
    open_scratch: Callable[[Path], Any] | None = None


def run(options: Options) -> dict[str, Any]:
    options.workdir.mkdir(parents=True, exist_ok=True)
    specs = generate(options.size, options.seed)
    warnings: list[str] = []
    backends: dict[str, Any] = {}

    sqlite_url = f"sqlite:///{options.workdir / 'expbot.db'}"
    entries = [open_expbot(sqlite_url, "expbot_sqlite", options)]
    if not options.skip_mlflow:
        mlflow = open_mlflow(options)
        if isinstance(mlflow, str):
            backends["mlflow_sqlite"] = mlflow
        else:
            entries.append(mlflow)
    try:
        measure_entries(entries, specs, options, warnings)
    finally:
        for entry in entries:
            entry.side.close()
    entries[0].figures["slash_search"] = measure_slash(sqlite_url, options)
    backends.update({entry.key: entry.figures for entry in entries})

    if options.postgres:
        backends["expbot_postgres"] = run_on_postgres(specs, options, warnings)
    gc.unfreeze()
    return {
        "options": {**asdict(options), "workdir": str(options.workdir)},
        "backends": backends,
        "warnings": warnings,
    }


def open_expbot(url: str, key: str, options: Options) -> Entry:
    from bench.expbot_side import ExpbotSide

    fresh = not _reusable(options, key)
    if fresh:
        _remove_sqlite_files(url)
    side = ExpbotSide(url)
    entry = Entry(key, side, fresh, lambda rest: _write_quick(side, rest))
    if url.startswith("sqlite:"):
        entry.open_scratch = lambda folder: ExpbotSide(
            f"sqlite:///{folder / 'expbot.db'}"
        )
    return entry


def open_mlflow(options: Options) -> Entry | str:
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
    entry = Entry(key, side, fresh, side.bulk_load)
    entry.open_scratch = lambda folder: MlflowSide(
        f"sqlite:///{folder / 'mlflow.db'}", folder / "mlflow-artifacts"
    )
    return entry


def measure_entries(
    entries: list[Entry],
    specs: list[ExperimentSpec],
    options: Options,
    warnings: list[str],
    after_load: Callable[[], None] | None = None,
) -> None:
    """Load the sides, then time the questions and expbot's own figures."""
    load_entries(entries, specs, options)
    if after_load is not None:
        after_load()
    # The workload and the loading leave many objects behind. Freezing them
    # keeps Python's full garbage collections, which walk every tracked
    # object, from landing in a timed call and deciding its p95.
    gc.collect()
    gc.freeze()
    for entry in entries:
        if entry.key.startswith("expbot"):
            # Reads run as of the day after the workload's last month, as
            # the scheduled monthly report would.
            entry.side.clock.now = WORKLOAD_END
    ask_questions(entries, specs, options, warnings)
    for entry in entries:
        if entry.key.startswith("expbot"):
            measure_expbot_only(entry, specs, options, warnings)


def run_on_postgres(
    specs: list[ExperimentSpec], options: Options, warnings: list[str]
) -> dict[str, Any] | str:
    from bench import postgres

    if not postgres.reachable():
        return f"n/a (PostgreSQL unreachable at {postgres.SERVER_URL})"
    name = f"expbot_bench_{options.size}"
    key = "expbot_postgres"
    if options.reuse:
        # The marker in the workdir records what an earlier run loaded. A
        # database without a matching marker may be half loaded, so it is
        # loaded again from empty.
        reusable = postgres.exists(name) and _reusable(options, key)
        database = postgres.kept_database(name, fresh=not reusable)
    else:
        database = postgres.scratch_database(name)
    with database as url:
        entry = open_expbot(url, key, options)
        entry.figures["server_version"] = postgres.server_version()
        vacuum = partial(postgres.vacuum_analyze, url)
        try:
            measure_entries([entry], specs, options, warnings, after_load=vacuum)
        finally:
            entry.side.close()
        entry.figures["slash_search"] = measure_slash(url, options)
        return entry.figures


def load_entries(
    entries: list[Entry], specs: list[ExperimentSpec], options: Options
) -> None:
    """Load every fresh side; reused ones take their figures from the marker.

    The write sample goes to the fresh sides in turns of `WRITE_TURN`
    experiments, so that other work on the machine slows them alike.
    """
    fresh = [entry for entry in entries if entry.fresh]
    for entry in entries:
        if not entry.fresh:
            entry.figures["load"] = _load_marker(options, entry.key)
    sample = specs[: options.write_sample]
    rest = specs[options.write_sample :]
    wall = dict.fromkeys((entry.key for entry in fresh), 0.0)
    cpu = dict.fromkeys((entry.key for entry in fresh), 0.0)
    if fresh:
        logger.info("writing %d experiments through each API", len(sample))
    for start in range(0, len(sample), WRITE_TURN):
        turn = sample[start : start + WRITE_TURN]
        for entry in fresh:
            wall_started, cpu_started = time.perf_counter(), time.process_time()
            for spec in turn:
                entry.side.write(spec)
            wall[entry.key] += time.perf_counter() - wall_started
            cpu[entry.key] += time.process_time() - cpu_started
    batched = write_batched_sample(fresh, sample, options)
    for entry in fresh:
        logger.info("%s: loading %d more experiments", entry.key, len(rest))
        rest_seconds, _ = rate(len(rest), lambda e=entry: e.load_rest(rest))
        seconds = wall[entry.key]
        entry.figures["load"] = {
            "write_sample": len(sample),
            "write_seconds": round(seconds, 3),
            "runs_per_second": round(len(sample) / seconds, 2) if seconds else 0.0,
            "write_cpu_seconds": round(cpu[entry.key], 3),
            **batched.get(entry.key, {}),
            "rest": len(rest),
            "rest_seconds": round(rest_seconds, 3),
        }
        _save_marker(options, entry.key, entry.figures["load"])


def write_batched_sample(
    entries: list[Entry], sample: list[ExperimentSpec], options: Options
) -> dict[str, dict[str, Any]]:
    """Write the sample with all steps in one call per side, in turns.

    Each side writes into an empty scratch database, deleted afterwards,
    so the query figures see the same data as without this sample.
    """
    folder = options.workdir / "batched"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    sides = {
        entry.key: entry.open_scratch(folder)
        for entry in entries
        if entry.open_scratch is not None
    }
    wall = dict.fromkeys(sides, 0.0)
    cpu = dict.fromkeys(sides, 0.0)
    if sides and sample:
        logger.info("writing %d experiments again, all steps in one call", len(sample))
    try:
        for start in range(0, len(sample), WRITE_TURN):
            turn = sample[start : start + WRITE_TURN]
            for key, side in sides.items():
                wall_started, cpu_started = time.perf_counter(), time.process_time()
                for spec in turn:
                    side.write(spec, batched=True)
                wall[key] += time.perf_counter() - wall_started
                cpu[key] += time.process_time() - cpu_started
    finally:
        for side in sides.values():
            side.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {
        key: {
            "batched_write_seconds": round(wall[key], 3),
            "batched_runs_per_second": (
                round(len(sample) / wall[key], 2) if wall[key] else 0.0
            ),
            "batched_write_cpu_seconds": round(cpu[key], 3),
        }
        for key in sides
    }


def ask_questions(
    entries: list[Entry],
    specs: list[ExperimentSpec],
    options: Options,
    warnings: list[str],
) -> None:
    """Check each side's results, then time the sides in turns, call by call."""
    for entry in entries:
        entry.figures["questions"] = {}
    for question in questions():
        expected = question.expected_names(specs)
        for entry in entries:
            found = entry.side.search(question)
            if found != expected:
                message = (
                    f"{entry.key} returned {len(found)} experiments for "
                    f"{question.key!r} that differ from the reference's {len(expected)}"
                )
                logger.warning("%s", message)
                warnings.append(message)
            entry.figures["questions"][question.key] = {
                "returned": len(found),
                "total_matching": question.total(specs),
                "matches_reference": found == expected,
            }
        calls = [lambda e=entry, q=question: e.side.search(q) for entry in entries]
        for entry, stats in zip(
            entries,
            measure_in_turns(
                calls, options.repeat, options.warmup, options.budget_seconds
            ),
            strict=True,
        ):
            entry.figures["questions"][question.key].update(stats.as_dict())
            logger.info(
                "%s: %s median %.1f ms, p95 %.1f ms",
                entry.key,
                question.key,
                stats.median_ms,
                stats.p95_ms,
            )


def measure_expbot_only(
    entry: Entry, specs: list[ExperimentSpec], options: Options, warnings: list[str]
) -> None:
    tracker = entry.side.tracker
    counts = {q.key: entry.side.count(q) for q in questions()}
    _check_counts(entry.key, counts, specs, warnings)
    logger.info("%s: summary and monthly report", entry.key)
    summary = expbot_only.measure_summary(tracker, options.repeat, options.warmup)
    entry.figures["summary"] = _figure(summary)
    report = expbot_only.measure_report(tracker, options.repeat, options.warmup)
    for name, value in report.items():
        entry.figures[name] = _figure(value)


def measure_slash(url: str, options: Options) -> dict[str, Any] | str:
    logger.info("/exp search through expbot serve on %s", url.split(":", 1)[0])
    slash = slack_side.measure_slash_search(
        url,
        options.workdir,
        [q.expbot_query for q in questions()],
        options.slash_requests,
        options.warmup,
    )
    return slash if isinstance(slash, str) else slash.as_dict()


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


def _remove_sqlite_files(url: str) -> None:
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
