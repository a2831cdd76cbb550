"""A made-up team with two months of experiments, for sample reports.

`expbot report-sample` renders the report of this data so that a reviewer
can see the charts and the Slack message without a workspace. The data
comes from a seeded random generator, so every run draws the same team.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from tracker import models
from tracker.api import Tracker

SAMPLE_TEAM = "nlp"
SAMPLE_YEAR = 2026
SAMPLE_MONTH = 10
_RESEARCHERS = ("alice", "bob", "carol", "dan")
_PROJECTS = {
    "mt": ("bleu", "val/loss"),
    "asr": ("wer", "val/loss"),
    "lm": ("perplexity", "accuracy"),
}
_FAILURE_REASONS = (
    "CUDA out of memory at batch size 64",
    "NaN loss at step 1200",
    "preempted by the cluster scheduler",
    "dataset shard 17 is missing",
)


@dataclass
class SampleClock:
    """A settable clock for the Tracker, so sample rows get chosen times."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


def fill_sample_team(database_url: str, seed: int = 7) -> Tracker:
    """Create the sample team's experiments in a new database and return its Tracker.

    The month before the sample month gets fewer experiments, so the
    report shows changes in both directions.
    """
    first = dt.datetime(SAMPLE_YEAR, SAMPLE_MONTH, 1, tzinfo=dt.UTC)
    clock = SampleClock(first - dt.timedelta(days=31))
    tracker = Tracker(database_url, clock=clock)
    generator = random.Random(seed)
    for count, start in ((24, first - dt.timedelta(days=30)), (36, first)):
        for _ in range(count):
            created = start + dt.timedelta(hours=generator.uniform(0, 29 * 24))
            _add_experiment(tracker, clock, generator, created)
    # The report is generated after the month is over.
    clock.now = first + dt.timedelta(days=32)
    return tracker


def set_reproducibility(
    tracker: Tracker, experiment_id: str, facts: dict[str, Any]
) -> None:
    """Overwrite an experiment's captured facts, as a tracked run would have them."""
    with tracker.db.write() as session:
        row = session.get(models.Experiment, experiment_id)
        assert row is not None, f"no experiment {experiment_id}"
        row.reproducibility = facts


def _add_experiment(
    tracker: Tracker,
    clock: SampleClock,
    generator: random.Random,
    created: dt.datetime,
) -> None:
    project = generator.choice(sorted(_PROJECTS))
    researcher = generator.choice(_RESEARCHERS)
    others = [r for r in _RESEARCHERS if r != researcher]
    clock.now = created
    record = tracker.track(
        f"{project}-{generator.choice(['baseline', 'sweep', 'ablation'])}"
        f"-{generator.randrange(100, 999)}",
        team=SAMPLE_TEAM,
        project=project,
        researcher=researcher,
        description="" if generator.random() < 0.3 else f"{project} experiment",
        collaborators=generator.sample(others, k=generator.choice([0, 0, 1, 2])),
        capture=False,
    )
    if generator.random() < 0.8:
        facts: dict[str, Any] = {
            "git_commit": f"{generator.getrandbits(160):040x}",
            "git_dirty": generator.random() < 0.25,
        }
        set_reproducibility(tracker, record.id, facts)

    clock.now = created + dt.timedelta(minutes=generator.uniform(20, 36 * 60))
    outcome = generator.random()
    if outcome < 0.62:
        tracker.complete(record.id, _metrics(project, generator))
    elif outcome < 0.80:
        tracker.fail(record.id, generator.choice(_FAILURE_REASONS))
    elif outcome < 0.88:
        tracker.cancel(record.id, "superseded by a better config")


def _metrics(project: str, generator: random.Random) -> dict[str, float]:
    first, second = _PROJECTS[project]
    values = {
        "bleu": round(generator.uniform(24, 36), 2),
        "wer": round(generator.uniform(0.06, 0.15), 4),
        "perplexity": round(generator.uniform(11, 25), 2),
        "accuracy": round(generator.uniform(0.7, 0.93), 4),
        "val/loss": round(generator.uniform(0.8, 2.4), 4),
    }
    return {first: values[first], second: values[second]}
