"""Report rendering: figure text, Markdown, JSON, Block Kit and charts."""

from __future__ import annotations

import datetime as dt
import json
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from bot.views.render_text import render_text
from bot.views.report import report_blocks
from tests.fakeslack.limits import block_errors
from tracker import charts
from tracker.report_periods import month_period
from tracker.report_render import (
    format_change,
    format_figure,
    format_value,
    headline,
    to_json,
    to_markdown,
)
from tracker.reports import (
    COUNT,
    CREATED,
    FIGURES,
    NUMBER,
    RATIO,
    SECONDS,
    BucketCounts,
    Failure,
    Figure,
    GroupCounts,
    Leader,
    MetricBest,
    TeamReport,
)

NOVEMBER = month_period(2026, 11)


def figure(unit: str, value: float | None, previous: float | None) -> Figure:
    return Figure("x", "X", unit, CREATED, value, previous)


@pytest.mark.parametrize(
    ("unit", "value", "previous", "expected"),
    [
        (COUNT, 12, 9, "12 (+3)"),
        (COUNT, 3, 5, "3 (-2)"),
        (COUNT, 4, 4, "4 (±0)"),
        (COUNT, 0, None, "0"),
        (RATIO, 0.7, 0.65, "70% (+5 pp)"),
        (RATIO, None, 0.5, "n/a"),
        (RATIO, 0.5, None, "50%"),
        (RATIO, 1.0, 1.0, "100% (±0 pp)"),
        # 199 of 200 must not read as 100%, nor 1 of 1000 as 0%.
        (RATIO, 199 / 200, None, "99.5%"),
        (RATIO, 1 / 1000, None, "0.1%"),
        (SECONDS, 4800, 4500, "1h 20m (+5m)"),
        (SECONDS, 45, 3645, "45s (-1h)"),
        (SECONDS, 2 * 86400 + 3 * 3600, None, "2d 3h"),
        (SECONDS, None, None, "n/a"),
        (NUMBER, 0.5, 0.25, "0.5 (+0.25)"),
        (NUMBER, 1.0, 1.0, "1 (±0)"),
    ],
)
def test_format_figure_cases(
    unit: str, value: float | None, previous: float | None, expected: str
) -> None:
    assert format_figure(figure(unit, value, previous)) == expected


def test_undefined_rate_is_never_100() -> None:
    undefined = figure(RATIO, None, 1.0)
    assert format_value(undefined) == "n/a"
    assert format_change(undefined) == ""


def synthetic_report(**changes: Any) -> TeamReport:
    """A report built by hand, for rendering tests that need no database."""
    values = {
        "created": 12,
        "completed": 7,
        "failed": 2,
        "cancelled": 1,
        "running": 3,
        "completion_rate": 0.7,
        "median_duration": 4800.0,
        "mean_duration": 7200.0,
        "researchers": 3,
        "shared": 4,
        "collaborators_per_experiment": 0.5,
        "git_commit_coverage": 0.75,
        "clean_tree_coverage": 0.5,
        "documentation_coverage": 0.25,
    }
    fields: dict[str, Any] = {
        "team": "nlp",
        "period": NOVEMBER,
        "previous_period": NOVEMBER.previous(),
        "generated_at": dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC),
        "as_of": NOVEMBER.end,
        "figures": tuple(
            Figure(s.key, s.label, s.unit, s.basis, values[s.key], None)
            for s in FIGURES
        ),
        "best": (
            MetricBest(
                "val/loss",
                "min",
                3,
                (
                    Leader(1, 0.21, "a" * 36, "bert-small", "alice"),
                    Leader(2, 0.25, "b" * 36, "bert-base", "carol"),
                ),
            ),
        ),
        "projects": (GroupCounts("mt", 12, 7, 2, 1, 3),),
        "researchers": (
            GroupCounts("alice", 8, 5, 1, 0, 2),
            GroupCounts("carol", 4, 2, 1, 1, 1),
        ),
        "failures": (
            Failure(
                "c" * 36,
                "bert-large",
                "carol",
                "mt",
                "CUDA out of memory",
                dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
            ),
        ),
        "failures_total": 2,
        "buckets": tuple(
            BucketCounts(b.label, b.start, b.end, {"completed": i, "running": 1})
            for i, b in enumerate(NOVEMBER.buckets())
        ),
    }
    fields.update(changes)
    return TeamReport(**fields)


def serialised(report: TeamReport, **options: Any) -> list[dict[str, Any]]:
    return [block.to_dict() for block in report_blocks(report, **options)]


def all_text(node: Any) -> str:
    return json.dumps(node, ensure_ascii=False)


def test_blocks_within_slack_limits() -> None:
    blocks = serialised(synthetic_report(), slack_ids={"alice": "U0ALICE"})
    assert block_errors(blocks, 50) == []
    assert blocks[0]["type"] == "header"


def test_blocks_show_figures_with_changes() -> None:
    figures = tuple(
        Figure(f.key, f.label, f.unit, f.basis, f.value, 9 if f.unit == COUNT else None)
        for f in synthetic_report().figures
    )
    text = all_text(serialised(synthetic_report(figures=figures)))
    assert "12 (+3)" in text  # created 12, previous 9
    assert "70%" in text
    assert "70% (7 of 10 ended)" in text


def test_completion_rate_text_has_brackets() -> None:
    text = render_text(report_blocks(synthetic_report()))

    assert "Completion rate: 70% (7 of 10 ended)" in text


def test_completion_rate_shows_change_inside() -> None:
    figures = tuple(
        Figure(
            f.key, f.label, f.unit, f.basis, f.value, 0.65 if f.unit == RATIO else None
        )
        for f in synthetic_report().figures
    )

    text = render_text(report_blocks(synthetic_report(figures=figures)))

    assert "Completion rate: 70% (7 of 10 ended, +5 pp)" in text


def test_linked_researcher_is_mentioned() -> None:
    text = all_text(serialised(synthetic_report(), slack_ids={"alice": "U0ALICE"}))
    assert "<@U0ALICE>" in text


def test_unlinked_researcher_shown_by_handle() -> None:
    text = all_text(serialised(synthetic_report(), slack_ids={"alice": "U0ALICE"}))
    assert "carol" in text
    assert "<@carol>" not in text
    assert text.count("<@") == text.count("<@U0ALICE>")


def test_blocks_link_experiment_cards() -> None:
    blocks = serialised(synthetic_report())
    buttons = [b["accessory"] for b in blocks if b.get("accessory")]
    assert {b["action_id"] for b in buttons} == {"expbot.show"}
    assert {b["value"] for b in buttons} == {"a" * 36, "c" * 36}


def test_undefined_completion_rate_block() -> None:
    figures = tuple(
        Figure(f.key, f.label, f.unit, f.basis, None, None)
        if f.key in ("completion_rate", "median_duration", "mean_duration")
        else f
        for f in synthetic_report().figures
    )
    text = all_text(serialised(synthetic_report(figures=figures)))
    assert "*Completion rate*\\nn/a" in text
    assert "100%" not in text


def test_empty_report_says_so() -> None:
    figures = tuple(
        Figure(f.key, f.label, f.unit, f.basis, 0 if f.unit == COUNT else None, None)
        for f in synthetic_report().figures
    )
    empty = synthetic_report(
        figures=figures, best=(), projects=(), researchers=(), failures=()
    )
    blocks = serialised(empty)
    assert len(blocks) == 3
    assert "No experiments were created" in blocks[2]["text"]["text"]


def test_huge_report_stays_within_limits() -> None:
    long = "x" * 5000
    report = synthetic_report(
        team="t" * 100,
        best=tuple(
            MetricBest(
                f"metric_{m}_" + "m" * 190,
                "max",
                5,
                tuple(
                    Leader(r, 1.0 / r, f"{m}{r}" * 18, long, "h" * 100)
                    for r in range(1, 6)
                ),
            )
            for m in range(5)
        ),
        projects=tuple(GroupCounts(f"p{i}" + "p" * 98, i) for i in range(300)),
        researchers=tuple(GroupCounts(f"r{i}", i) for i in range(300)),
        failures=tuple(
            Failure(
                f"{i:036d}", long, "h" * 100, "mt", "<!channel> " + long, NOVEMBER.end
            )
            for i in range(20)
        ),
        failures_total=500,
    )
    blocks = serialised(report)
    assert block_errors(blocks, 50) == []
    assert len(blocks) <= 50
    assert "<!channel>" not in all_text(blocks)
    assert "and 485 more" in all_text(blocks)


def test_markdown_lists_every_section() -> None:
    text = to_markdown(synthetic_report())
    assert text.startswith("# Monthly report: nlp, November 2026\n")
    assert "| Completion rate | 70% (7 of 10 ended) | - |" in text
    assert "1. 0.21: bert-small (`aaaaaaaa`) by alice" in text
    assert "| mt | 12 | 7 | 2 | 1 | 3 |" in text
    assert "CUDA out of memory" in text
    assert "- and 1 more" in text


def test_json_round_trips() -> None:
    data = json.loads(to_json(synthetic_report()))
    assert data["figures"]["completion_rate"]["value"] == 0.7
    assert data["best"][0]["leaders"][0]["experiment_id"] == "a" * 36


def test_headline_summarises() -> None:
    assert headline(synthetic_report()) == (
        "Monthly report: nlp, November 2026: 12 experiments created, "
        "completion rate 70%, 2 failed."
    )


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_charts_are_1200_by_600() -> None:
    rendered = charts.render_charts(synthetic_report())
    assert [name for name, _ in rendered] == [
        "nlp-2026-11-status.png",
        "nlp-2026-11-leaderboard.png",
    ]
    for _, data in rendered:
        assert png_size(data) == (1200, 600)


def test_no_leaderboard_without_metrics() -> None:
    rendered = charts.render_charts(synthetic_report(best=()))
    assert len(rendered) == 1


def test_chart_rendering_is_fast() -> None:
    report = synthetic_report()
    charts.render_charts(report)  # the first call loads fonts
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        charts.render_charts(report)
        timings.append(time.perf_counter() - started)
    # Both charts took about 0.5 s warm on a 2-core machine. The bound
    # leaves room for a loaded one.
    assert min(timings) < 1.5, timings


def test_charts_use_agg_not_pyplot() -> None:
    import matplotlib

    charts.render_charts(synthetic_report())
    source = Path(charts.__file__).read_text(encoding="utf-8")
    assert matplotlib.get_backend().lower() == "agg"
    assert "matplotlib.pyplot" not in source
    assert "from matplotlib import pyplot" not in source


def test_docs_define_every_figure() -> None:
    docs = Path(__file__).parent.parent / "docs" / "reports.md"
    text = docs.read_text(encoding="utf-8")
    missing = [spec.label for spec in FIGURES if spec.label not in text]
    assert missing == []


def test_only_private_failures_counted_not_listed() -> None:
    report = synthetic_report(failures=(), failures_total=1)

    text = to_markdown(report)
    blocks = all_text(serialised(report))

    failures_section = text.split("## Failures")[1].split("\n## ")[0]
    assert "1 failure in private experiments, not listed." in failures_section
    assert "None." not in failures_section
    assert "*Failures* (1)" in blocks
    assert "1 failure in private experiments, not listed." in blocks
