"""Setting a metric's direction keeps its goal unless the goal is cleared."""

from __future__ import annotations

import pytest

from tracker import Tracker
from tracker.errors import InvalidInput


def goals(tracker: Tracker) -> dict[tuple[str, str], float | None]:
    return {(r["team"], r["metric"]): r["goal"] for r in tracker.metric_directions()}


def test_direction_again_keeps_goal(tracker):
    tracker.set_metric_direction("wer", "min", goal=0.1)

    tracker.set_metric_direction("wer", "min")
    tracker.set_metric_direction("wer", "lower")

    assert goals(tracker) == {("", "wer"): 0.1}
    assert tracker.metric_goal("wer") == 0.1


def test_new_goal_replaces_old(tracker):
    tracker.set_metric_direction("bleu", "max", goal=30)

    tracker.set_metric_direction("bleu", "max", goal=32)

    assert tracker.metric_goal("bleu") == 32


def test_clear_goal_removes_it(tracker):
    tracker.set_metric_direction("bleu", "max", goal=30, team="nlp")

    tracker.set_metric_direction("bleu", "min", team="nlp", clear_goal=True)

    assert goals(tracker) == {("nlp", "bleu"): None}
    assert tracker.directions("nlp")("bleu") == "min"


def test_first_setting_without_goal(tracker):
    tracker.set_metric_direction("bleu", "max")

    assert goals(tracker) == {("", "bleu"): None}
    assert tracker.metric_goal("bleu") is None
    assert tracker.metric_goal("never-set") is None


def test_goal_and_clear_rejected(tracker):
    with pytest.raises(InvalidInput, match="not both"):
        tracker.set_metric_direction("bleu", "max", goal=30, clear_goal=True)


def test_kept_goal_still_fires(tracker):
    tracker.set_metric_direction("val/loss", "min", goal=0.2)
    tracker.set_metric_direction("val/loss", "min")
    record = tracker.track("run", researcher="alice")

    tracker.log_metrics(record.id, {"val/loss": 0.5}, step=1)
    tracker.log_metrics(record.id, {"val/loss": 0.1}, step=2)

    assert [e.kind for e in tracker.events()].count("threshold") == 1
