"""Repeated timing with a warm-up, summarised as median, p95 and p99."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

# Timed calls kept even when a series runs over its time budget.
MIN_SAMPLES = 5


@dataclass(frozen=True)
class Stats:
    """Latencies in milliseconds over `count` timed calls.

    The `cpu_` figures are this process's CPU time per call, which other
    work on a shared machine disturbs less than the wall-clock figures.
    They are None where the work runs in another process.
    """

    count: int
    median_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    cpu_median_ms: float | None = None
    cpu_p95_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(samples: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile: the smallest value with at least
    `fraction` of the samples at or below it."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(samples_ms: list[float], cpu_ms: list[float] | None = None) -> Stats:
    return Stats(
        count=len(samples_ms),
        median_ms=statistics.median(samples_ms),
        p95_ms=percentile(samples_ms, 0.95),
        p99_ms=percentile(samples_ms, 0.99),
        max_ms=max(samples_ms),
        cpu_median_ms=statistics.median(cpu_ms) if cpu_ms else None,
        cpu_p95_ms=percentile(cpu_ms, 0.95) if cpu_ms else None,
    )


def measure(call: Callable[[], object], repeat: int, warmup: int = 3) -> Stats:
    """Call `call` `warmup` times untimed, then `repeat` times timed."""
    for _ in range(warmup):
        call()
    samples, cpu_samples = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - started) * 1000)
        cpu_samples.append((time.process_time() - cpu_started) * 1000)
    return summarize(samples, cpu_samples)


def measure_in_turns(
    calls: list[Callable[[], object]],
    repeat: int,
    warmup: int = 3,
    budget_seconds: float = math.inf,
) -> list[Stats]:
    """Time several calls in turns, so that other load on the machine
    affects them alike; return one `Stats` per call, in order.

    Once the timed turns have taken `budget_seconds`, no further turn
    starts after the `MIN_SAMPLES`th, so a call that takes a minute
    (MLflow's sorted search at 100,000 runs) does not hold up the run.
    A warm-up call slower than a second ends that call's warm-up.
    """
    for call in calls:
        for _ in range(warmup):
            started = time.perf_counter()
            call()
            if time.perf_counter() - started > 1.0:
                break
    samples: list[list[float]] = [[] for _ in calls]
    cpu_samples: list[list[float]] = [[] for _ in calls]
    turns_started = time.perf_counter()
    for turn in range(repeat):
        elapsed = time.perf_counter() - turns_started
        if turn >= MIN_SAMPLES and elapsed > budget_seconds:
            break
        for index, call in enumerate(calls):
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            samples[index].append((time.perf_counter() - started) * 1000)
            cpu_samples[index].append((time.process_time() - cpu_started) * 1000)
    return [summarize(s, c) for s, c in zip(samples, cpu_samples, strict=True)]


def rate(count: int, call: Callable[[], object]) -> tuple[float, float]:
    """Run `call` once; return (seconds taken, `count` per second)."""
    started = time.perf_counter()
    call()
    seconds = time.perf_counter() - started
    return seconds, count / seconds if seconds > 0 else 0.0
