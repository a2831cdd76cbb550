"""Metric directions: whether a metric is maximized or minimized."""

from __future__ import annotations

import re
from collections.abc import Mapping

MAXIMIZE = "max"
MINIMIZE = "min"

# Whole words in a metric name that mean smaller is better. Matching on
# words keeps `val/loss` and `eval_wer` minimized but not `lossless_acc`.
_MINIMIZE_WORDS = frozenset(
    {
        "loss",
        "error",
        "err",
        "perplexity",
        "ppl",
        "wer",
        "cer",
        "mae",
        "mse",
        "rmse",
        "latency",
        "time",
        "duration",
        "seconds",
        "ms",
    }
)
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def default_direction(metric: str) -> str:
    words = _WORD_SPLIT.split(metric.lower())
    if any(word in _MINIMIZE_WORDS for word in words):
        return MINIMIZE
    return MAXIMIZE


# The words the CLI and the slash command accept for each direction, with
# British spellings, because "maximise" is as natural to type as "maximize".
MAXIMIZE_WORDS = ("max", "maximize", "maximise", "higher")
MINIMIZE_WORDS = ("min", "minimize", "minimise", "lower")


def parse_direction(text: str) -> str:
    value = text.strip().lower()
    if value in MAXIMIZE_WORDS:
        return MAXIMIZE
    if value in MINIMIZE_WORDS:
        return MINIMIZE
    from tracker.errors import InvalidInput

    raise InvalidInput(
        f"Invalid direction {text!r}: use {_word_list(MAXIMIZE_WORDS)} when "
        f"larger is better, or {_word_list(MINIMIZE_WORDS)} when smaller is better."
    )


def _word_list(words: tuple[str, ...]) -> str:
    quoted = [f"`{word}`" for word in words]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def goal_change(previous: float | None, goal: float | None, cleared: bool) -> str:
    """Describe what setting a direction did to the metric's goal, or ""."""
    if goal is not None:
        return f"goal {goal:g}"
    if cleared:
        return "no goal to clear" if previous is None else f"goal {previous:g} cleared"
    return "" if previous is None else f"goal {previous:g} kept"


class Directions:
    """Direction lookup: a team's setting, then the workspace's, then the name.

    `settings` maps (team, metric) to a direction, with team "" for the
    workspace-wide rows.
    """

    def __init__(self, settings: Mapping[tuple[str, str], str], team: str = ""):
        self._settings = settings
        self._team = team

    def __call__(self, metric: str) -> str:
        for team in (self._team, ""):
            direction = self._settings.get((team, metric))
            if direction:
                return direction
        return default_direction(metric)

    def for_team(self, team: str) -> Directions:
        return Directions(self._settings, team)


def is_better(value: float, other: float, direction: str) -> bool:
    return value < other if direction == MINIMIZE else value > other


def reaches(value: float, goal: float, direction: str) -> bool:
    return value <= goal if direction == MINIMIZE else value >= goal
