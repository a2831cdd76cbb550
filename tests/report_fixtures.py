"""A hand-built team whose report figures the report tests work out by hand.

Team `nlp` in UTC, October and November 2026 (1 November is a Sunday).
Each experiment's comment gives the times that matter; the tests spell
out the arithmetic of every figure from this list.

October:
  O1  alice mt   created 5 Oct 10:00, completed 5 Oct 12:00 (2h)
                 accuracy 0.80, loss 0.5; description; clean git commit
  O2  bob   asr  created 10 Oct 00:00, failed 10 Oct 01:00 (1h), "OOM"
  S   carol mt   created 31 Oct 22:00, completed 1 Nov 04:00 (6h)
                 accuracy 0.95, loss 0.2; spans the two months
November:
  N1  alice mt   created 2 Nov 09:00, completed 2 Nov 12:00 (3h)
                 accuracy 0.90, loss 0.30, score 3.0; description;
                 clean commit; shared with bob on 3 Nov
  N2  bob   asr  created 3 Nov 09:00, completed 4 Nov 09:00 (24h)
                 accuracy 0.85, loss 0.25, score 1.0; no description
                 but a note on 4 Nov; dirty commit
  N3  bob   asr  created 5 Nov 09:00, failed 5 Nov 10:00 (1h),
                 "CUDA out of memory"; nothing captured
  N4  alice mt   created 10 Nov 09:00, cancelled 10 Nov 09:30 (30m),
                 "superseded"; blank description; clean commit; shared
                 with bob and carol on 10 Nov
  N5  carol ""   created 20 Nov 09:00, still running; a dirty flag but
                 no commit; a note and a collaborator only on 2 Dec
  N6  carol mt   created 28 Nov 09:00, completed 2 Dec 09:00 (ends in
                 December); description; an empty commit string
  N7  dan   lm   created 15 Nov 09:00, completed 15 Nov 13:00 (4h),
                 PRIVATE, accuracy 0.99; description; clean commit
Other team:
  X1  erin  cv   created 6 Nov, completed 6 Nov, accuracy 0.999

The team sets `score` to minimize; S also has a `score` summary of -inf,
written past validation, which must never win. alice and bob are linked
to Slack ids; carol and dan are not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tests.conftest import FakeClock
from tracker import Tracker, models
from tracker.report_sample import set_reproducibility

TEAM = "nlp"
SLACK_IDS = {"alice": "U0ALICE", "bob": "U0BOB"}
CLEAN = {"git_commit": "a" * 40, "git_dirty": False}
DIRTY = {"git_commit": "b" * 40, "git_dirty": True}


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


@dataclass
class Team:
    ids: dict[str, str]


def _track(
    tracker: Tracker,
    clock: FakeClock,
    when: dt.datetime,
    name: str,
    researcher: str,
    project: str,
    *,
    team: str = TEAM,
    description: str = "",
    facts: dict[str, Any] | None = None,
    visibility: str = "team",
) -> str:
    clock.now = when
    record = tracker.track(
        name,
        team=team,
        project=project,
        researcher=researcher,
        description=description,
        visibility=visibility,
        capture=False,
    )
    if facts is not None:
        set_reproducibility(tracker, record.id, facts)
    return record.id


def _at(clock: FakeClock, when: dt.datetime) -> None:
    clock.now = when


def build_team(tracker: Tracker, clock: FakeClock) -> Team:
    """Record the experiments listed in the module docstring."""
    ids: dict[str, str] = {}
    tracker.set_metric_direction("score", "min", team=TEAM)
    for handle, slack_id in SLACK_IDS.items():
        _link(tracker, handle, slack_id)

    ids["O1"] = _track(
        tracker, clock, utc(10, 5, 10), "O1", "alice", "mt",
        description="baseline", facts=CLEAN,
    )  # fmt: skip
    _at(clock, utc(10, 5, 12))
    tracker.complete(ids["O1"], {"accuracy": 0.80, "loss": 0.5})

    ids["O2"] = _track(tracker, clock, utc(10, 10), "O2", "bob", "asr")
    _at(clock, utc(10, 10, 1))
    tracker.fail(ids["O2"], "OOM")

    ids["S"] = _track(tracker, clock, utc(10, 31, 22), "S", "carol", "mt")
    _at(clock, utc(11, 1, 4))
    tracker.complete(ids["S"], {"accuracy": 0.95, "loss": 0.2})

    ids["N1"] = _track(
        tracker, clock, utc(11, 2, 9), "N1", "alice", "mt",
        description="lr sweep", facts=CLEAN,
    )  # fmt: skip
    _at(clock, utc(11, 2, 12))
    tracker.complete(ids["N1"], {"accuracy": 0.90, "loss": 0.30, "score": 3.0})
    _at(clock, utc(11, 3, 8))
    tracker.share(ids["N1"], ["bob"])

    ids["N2"] = _track(tracker, clock, utc(11, 3, 9), "N2", "bob", "asr", facts=DIRTY)
    _at(clock, utc(11, 4, 9))
    tracker.add_note(ids["N2"], "warmup helped", author="bob")
    tracker.complete(ids["N2"], {"accuracy": 0.85, "loss": 0.25, "score": 1.0})

    ids["N3"] = _track(tracker, clock, utc(11, 5, 9), "N3", "bob", "asr")
    _at(clock, utc(11, 5, 10))
    tracker.fail(ids["N3"], "CUDA out of memory")

    ids["N4"] = _track(
        tracker, clock, utc(11, 10, 9), "N4", "alice", "mt",
        description="   ", facts=CLEAN,
    )  # fmt: skip
    tracker.share(ids["N4"], ["bob", "carol"])
    _at(clock, utc(11, 10, 9, 30))
    tracker.cancel(ids["N4"], "superseded")

    ids["N5"] = _track(
        tracker, clock, utc(11, 20, 9), "N5", "carol", "", facts={"git_dirty": False}
    )

    ids["N6"] = _track(
        tracker, clock, utc(11, 28, 9), "N6", "carol", "mt",
        description="long run", facts={"git_commit": "", "git_dirty": False},
    )  # fmt: skip

    ids["N7"] = _track(
        tracker, clock, utc(11, 15, 9), "N7", "dan", "lm",
        description="private", facts=CLEAN, visibility="private",
    )  # fmt: skip
    _at(clock, utc(11, 15, 13))
    tracker.complete(ids["N7"], {"accuracy": 0.99})

    ids["X1"] = _track(tracker, clock, utc(11, 6, 9), "X1", "erin", "cv", team="cv")
    _at(clock, utc(11, 6, 10))
    tracker.complete(ids["X1"], {"accuracy": 0.999})

    # Changes after November ends, which November's figures must not see.
    _at(clock, utc(12, 2, 9))
    tracker.complete(ids["N6"], {"accuracy": 0.5})
    tracker.add_note(ids["N5"], "still going", author="carol")
    tracker.share(ids["N5"], ["alice"])
    _write_score(tracker, ids["S"], float("-inf"))

    clock.now = utc(12, 3, 12)
    return Team(ids)


def _link(tracker: Tracker, handle: str, slack_id: str) -> None:
    with tracker.db.write() as session:
        session.add(
            models.Person(
                handle=handle,
                slack_user_id=slack_id,
                display_name=handle,
                team=TEAM,
                updated_at=utc(10, 1),
            )
        )


def _write_score(tracker: Tracker, experiment_id: str, value: float) -> None:
    """Store a summary that validation would reject, as another tool might."""
    with tracker.db.write() as session:
        experiment = session.get_one(models.Experiment, experiment_id)
        session.add(
            models.MetricSummary(
                experiment_id=experiment_id,
                key="score",
                value=value,
                step=None,
                updated_at=utc(12, 2),
                team=experiment.team,
            )
        )
