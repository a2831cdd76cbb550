"""The results table, the machine and versions it ran on, and the JSON file.

`python -m bench.report FILE.json` prints a saved result as a Markdown
table, which is how docs/benchmarks.md is updated.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.questions import questions


@dataclass(frozen=True)
class Row:
    figure: str
    expbot: str
    postgres: str
    mlflow: str
    ratio: str
    target: str


def machine_info() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "ram_gib": round(_meminfo_kib("MemTotal") / 1024 / 1024, 1),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            name: _version(name)
            for name in ("expbot", "SQLAlchemy", "mlflow", "psycopg")
        },
        "git_commit": _git_commit(),
        # Other work on the machine skews the figures; this shows how much.
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def save(results: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    size = results["options"]["size"]
    path = directory / f"{stamp}-{size}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def rows(results: dict[str, Any]) -> list[Row]:
    backends = results["backends"]
    expbot = backends.get("expbot_sqlite", {})
    pg = backends.get("expbot_postgres", "not run")
    mlflow = backends.get("mlflow_sqlite", "not run")
    table = [_write_row(expbot, pg, mlflow), _batched_write_row(expbot, mlflow)]
    for question in questions():
        table.append(_question_row(question.key, question.title, expbot, pg, mlflow))
    table.extend(_expbot_only_rows(expbot, pg))
    return table


def _write_row(expbot: Any, pg: Any, mlflow: Any) -> Row:
    def runs_per_second(side: Any) -> float | None:
        if isinstance(side, str) or not side["load"]["write_sample"]:
            return None
        return float(side["load"]["runs_per_second"])

    ours, theirs = runs_per_second(expbot), runs_per_second(mlflow)
    ratio = _speedup(ours / theirs) if ours and theirs else "-"
    if ratio != "-" and expbot["load"].get("write_cpu_seconds"):
        cpu = mlflow["load"]["write_cpu_seconds"] / expbot["load"]["write_cpu_seconds"]
        ratio += f" (CPU {cpu:.1f}x)"
    return Row(
        "write, experiments/s (API)",
        _number(ours),
        _number(runs_per_second(pg)),
        _number(theirs),
        ratio,
        ">= 5x",
    )


def _batched_write_row(expbot: Any, mlflow: Any) -> Row:
    """Return the row of the sample written with every step in one call."""

    def runs_per_second(side: Any) -> float | None:
        if isinstance(side, str):
            return None
        return side["load"].get("batched_runs_per_second") or None

    ours, theirs = runs_per_second(expbot), runs_per_second(mlflow)
    ratio = _speedup(ours / theirs) if ours and theirs else "-"
    if ratio != "-" and expbot["load"].get("batched_write_cpu_seconds"):
        cpu = (
            mlflow["load"]["batched_write_cpu_seconds"]
            / expbot["load"]["batched_write_cpu_seconds"]
        )
        ratio += f" (CPU {cpu:.1f}x)"
    return Row(
        "write, all steps in one call, experiments/s (API)",
        _number(ours),
        "-",
        _number(theirs),
        ratio,
        "-",
    )


def _question_row(key: str, title: str, expbot: Any, pg: Any, mlflow: Any) -> Row:
    def cell(side: Any) -> str:
        if isinstance(side, str):
            return side
        answer = side["questions"][key]
        mark = "" if answer["matches_reference"] else " (!)"
        return f"{answer['median_ms']:.1f} / {answer['p95_ms']:.1f}{mark}"

    ratio = "-"
    if not isinstance(expbot, str) and not isinstance(mlflow, str):
        ours, theirs = expbot["questions"][key], mlflow["questions"][key]
        ratio = _speedup(theirs["p95_ms"] / ours["p95_ms"])
        if ours.get("cpu_median_ms") and theirs.get("cpu_median_ms"):
            cpu = theirs["cpu_median_ms"] / ours["cpu_median_ms"]
            ratio += f" (CPU {cpu:.1f}x)"
    return Row(
        f"search: {title}, ms median / p95",
        cell(expbot),
        cell(pg),
        cell(mlflow),
        ratio,
        "p95 <= 20 ms, >= 10x",
    )


def _expbot_only_rows(expbot: Any, pg: Any) -> list[Row]:
    specs = [
        ("summary", "summary of a team, ms median / p95", "p95_ms", "< 50 ms"),
        ("report", "monthly report, figures, ms median / p95", "p95_ms", "-"),
        (
            "report_charts",
            "monthly report with charts, ms median / p95",
            "p95_ms",
            "< 1000 ms",
        ),
    ]
    table = []
    for key, label, _, target in specs:
        table.append(
            Row(
                label,
                _stats_cell(expbot, key),
                _stats_cell(pg, key),
                "n/a",
                "-",
                target,
            )
        )
    table.append(
        Row(
            "/exp search ack, ms median / p99",
            _slash_cell(expbot, "ack", "p99_ms"),
            _slash_cell(pg, "ack", "p99_ms"),
            "n/a",
            "-",
            "p99 < 100 ms",
        )
    )
    table.append(
        Row(
            "/exp search answer, ms median / p95",
            _slash_cell(expbot, "answer", "p95_ms"),
            _slash_cell(pg, "answer", "p95_ms"),
            "n/a",
            "-",
            "p95 < 300 ms",
        )
    )
    table.append(
        Row(
            "expbot serve peak RSS, MiB",
            _rss_cell(expbot),
            _rss_cell(pg),
            "n/a",
            "-",
            "< 250 MB",
        )
    )
    return table


def _stats_cell(side: Any, key: str) -> str:
    if isinstance(side, str):
        return side
    value = side.get(key, "n/a")
    if isinstance(value, str):
        return value
    return f"{value['median_ms']:.1f} / {value['p95_ms']:.1f}"


def _slash_cell(side: Any, part: str, tail: str) -> str:
    if isinstance(side, str):
        return side
    value = side.get("slash_search", "n/a")
    if isinstance(value, str):
        return value
    return f"{value[part]['median_ms']:.1f} / {value[part][tail]:.1f}"


def _rss_cell(side: Any) -> str:
    if isinstance(side, str):
        return side
    value = side.get("slash_search", "n/a")
    if isinstance(value, str):
        return value
    return f"{value['peak_rss_mb']:.0f}"


HEADER = Row(
    "figure",
    "expbot SQLite",
    "expbot PostgreSQL",
    "MLflow SQLite",
    "expbot vs MLflow",
    "target",
)
_FIELDS = tuple(Row.__dataclass_fields__)


def format_text(results: dict[str, Any]) -> str:
    table = [HEADER, *rows(results)]
    widths = [max(len(_short(getattr(r, f))) for r in table) for f in _FIELDS]
    lines = []
    for row in table:
        cells = [_short(getattr(row, f)) for f in _FIELDS]
        lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(results: dict[str, Any]) -> str:
    lines = []
    for row in [HEADER, *rows(results)]:
        lines.append("| " + " | ".join(getattr(row, f) for f in _FIELDS) + " |")
    lines.insert(1, "|" + "---|" * len(_FIELDS))
    return "\n".join(lines)


def _short(text: str) -> str:
    """Keep "n/a (long reason)" cells narrow in the terminal table."""
    return "n/a" if text.startswith("n/a") else text


def _speedup(factor: float) -> str:
    """Describe how many times faster expbot is; below 1 it is slower."""
    return f"{factor:.1f}x faster" if factor >= 1 else f"{1 / factor:.1f}x slower"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m bench.report RESULTS.json", file=sys.stderr)
        return 2
    results = json.loads(Path(argv[0]).read_text())
    print(format_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
