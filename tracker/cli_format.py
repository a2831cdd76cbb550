"""Plain-text rendering of tracker records for the terminal."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from tracker.grammar import plural
from tracker.records import Comparison, ExperimentRecord, LeaderboardEntry, Summary

MAX_CELL = 40


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def when(value: dt.datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M} UTC"


def cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def experiment(record: ExperimentRecord) -> str:
    span = record.duration
    lines = [
        f"{record.name}  [{record.status}]",
        f"id:            {record.id}",
        f"researcher:    {record.researcher}",
        f"team/project:  {record.team or '-'} / {record.project or '-'}",
        f"visibility:    {record.visibility}   source: {record.source}",
        f"created:       {when(record.created_at)}",
        f"ended:         {when(record.ended_at)}"
        + (f"  (took {duration(span.total_seconds())})" if span else ""),
    ]
    if record.description:
        lines.append(f"description:   {record.description}")
    if record.reason:
        lines.append(f"reason:        {record.reason}")
    if record.tags:
        lines.append(f"tags:          {', '.join(record.tags)}")
    if record.collaborators:
        lines.append(f"collaborators: {', '.join(record.collaborators)}")
    for key, value in sorted(record.metrics.items()):
        lines.append(f"metric {key}: {value:g}")
    if record.config:
        lines.append(f"config (v{record.config_version}):")
        lines.append(json.dumps(record.config, indent=2, sort_keys=True))
    for note in record.notes:
        lines.append(f"note by {note.author} at {when(note.created_at)}: {note.text}")
    for uri in record.artifacts:
        lines.append(f"artifact: {uri}")
    return "\n".join(lines)


def experiment_table(records: Sequence[ExperimentRecord]) -> str:
    if not records:
        return "No experiments match."
    rows = [
        (
            r.short_id,
            r.name,
            r.status,
            r.researcher,
            r.project or "-",
            f"{r.created_at:%Y-%m-%d}",
            ", ".join(f"{k}={v:g}" for k, v in sorted(r.metrics.items())[:3]),
        )
        for r in records
    ]
    headers = ("ID", "NAME", "STATUS", "BY", "PROJECT", "CREATED", "METRICS")
    return table(headers, rows)


def summary(result: Summary) -> str:
    title = f"Team {result.team}" if result.team else "All teams"
    counts = ", ".join(f"{k} {v}" for k, v in result.by_status.items())
    lines = [
        f"{title}: {plural(result.total, 'experiment')} ({counts})",
        f"completion rate: {percent(result.completion_rate)}; "
        f"mean duration {duration(result.mean_duration_seconds)}, "
        f"median {duration(result.median_duration_seconds)}",
    ]
    if result.projects:
        lines.append("")
        rows = [
            (p.project or "-", p.total, p.completed, p.running, p.failed, p.cancelled)
            for p in result.projects
        ]
        headers = ("PROJECT", "TOTAL", "DONE", "RUNNING", "FAILED", "CANCELLED")
        lines.append(table(headers, rows))
    if result.best:
        lines.append("")
        for best in result.best:
            lines.append(
                f"best {best.metric} ({best.direction}): {best.value:g} "
                f"by {best.experiment_name} ({best.experiment_id[:8]})"
            )
    return "\n".join(lines)


def comparison(result: Comparison) -> str:
    ids = [r.id for r in result.experiments]
    headers = ("", *(r.short_id for r in result.experiments))
    rows: list[list[Any]] = [["name", *(r.name for r in result.experiments)]]
    for key, values in result.config_differences.items():
        rows.append([f"config.{key}", *(values.get(i) for i in ids)])
    for metric in result.metrics:
        row: list[Any] = [f"{metric.metric} ({metric.direction})"]
        for identifier in ids:
            value = metric.values.get(identifier)
            mark = " *" if identifier == metric.best_id else ""
            row.append("-" if value is None else f"{value:g}{mark}")
        rows.append(row)
    return table(headers, rows) + "\n(* best by the metric's direction)"


def leaderboard(metric: str, entries: Sequence[LeaderboardEntry]) -> str:
    if not entries:
        return f"No experiments have the metric `{metric}`."
    rows = [
        (
            e.rank,
            f"{e.value:g}",
            e.experiment.short_id,
            e.experiment.name,
            e.experiment.researcher,
        )
        for e in entries
    ]
    return table(("#", metric.upper(), "ID", "NAME", "BY"), rows)


def config_diff(difference: dict[str, dict[str, Any]]) -> str:
    if not difference:
        return "The configs are the same."
    names = list(next(iter(difference.values())))
    rows = [
        [key, *(values.get(n) for n in names)] for key, values in difference.items()
    ]
    return table(("KEY", *names), rows)


def metric_settings(rows: Sequence[dict[str, Any]]) -> str:
    """Format `Tracker.metric_directions()` rows as a table."""
    if not rows:
        return (
            "No metric directions are set; names decide (loss, error, perplexity, "
            "wer, mae, mse, rmse and latency are minimized). Set one with "
            "`expbot metric NAME max|min`."
        )
    return table(
        ["metric", "direction", "team", "goal"],
        [
            [
                row["metric"],
                row["direction"],
                row["team"] or "(all)",
                "" if row["goal"] is None else f"{row['goal']:g}",
            ]
            for row in rows
        ],
    )
