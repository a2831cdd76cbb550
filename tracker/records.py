"""Plain, immutable views of tracker data, detached from the database.

The Tracker returns these instead of ORM objects so that callers (the CLI,
the bot, training scripts) never hold a session or trigger lazy loads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tracker import models


@dataclass(frozen=True)
class NoteRecord:
    id: int
    author: str
    text: str
    created_at: dt.datetime


@dataclass(frozen=True)
class ExperimentRecord:
    id: str
    name: str
    description: str
    researcher: str
    team: str
    project: str
    status: str
    visibility: str
    source: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    updated_at: dt.datetime
    reason: str
    config: dict[str, Any]
    config_version: int
    tags: tuple[str, ...]
    metrics: dict[str, float]
    collaborators: tuple[str, ...]
    notes: tuple[NoteRecord, ...]
    artifacts: tuple[str, ...]
    custom: dict[str, Any]
    reproducibility: dict[str, Any]

    @property
    def short_id(self) -> str:
        return self.id[:8]

    @property
    def duration(self) -> dt.timedelta | None:
        """Time from start to end; None while running or if never started."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def can_be_seen_by(self, handle: str) -> bool:
        if self.visibility == "team":
            return True
        return handle == self.researcher or handle in self.collaborators

    def can_be_changed_by(self, handle: str) -> bool:
        return handle == self.researcher or handle in self.collaborators

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: timestamps as ISO 8601 strings."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, dt.datetime):
                data[key] = value.isoformat()
        data["notes"] = [
            {**note, "created_at": note["created_at"].isoformat()}
            for note in data["notes"]
        ]
        data["tags"] = list(self.tags)
        data["collaborators"] = list(self.collaborators)
        data["artifacts"] = list(self.artifacts)
        duration = self.duration
        data["duration_seconds"] = duration.total_seconds() if duration else None
        return data

    @classmethod
    def from_model(cls, row: models.Experiment) -> ExperimentRecord:
        return cls(
            id=row.id,
            name=row.name,
            description=row.description,
            researcher=row.researcher,
            team=row.team,
            project=row.project,
            status=row.status,
            visibility=row.visibility,
            source=row.source,
            created_at=row.created_at,
            started_at=row.started_at,
            ended_at=row.ended_at,
            updated_at=row.updated_at,
            reason=row.reason,
            config=dict(row.config or {}),
            config_version=row.config_version,
            tags=tuple(sorted(tag.tag for tag in row.tags)),
            metrics={m.key: m.value for m in sorted(row.metrics, key=_metric_key)},
            collaborators=tuple(sorted(c.handle for c in row.collaborators)),
            notes=tuple(
                NoteRecord(n.id, n.author, n.text, n.created_at) for n in row.notes
            ),
            artifacts=tuple(a.uri for a in row.artifacts),
            custom=dict(row.custom or {}),
            reproducibility=dict(row.reproducibility or {}),
        )


def _metric_key(metric: models.MetricSummary) -> str:
    return metric.key


@dataclass
class ChildRows:
    """One experiment's related rows, gathered before its record is built.

    `notes` and `artifacts` must be in id order, the order of the ORM
    relationships. Tags, metrics and collaborators are sorted on build.
    """

    tags: list[str] = field(default_factory=list)
    metrics: list[tuple[str, float]] = field(default_factory=list)
    collaborators: list[str] = field(default_factory=list)
    notes: list[NoteRecord] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)


def record_from_columns(
    columns: Mapping[Any, Any], children: ChildRows
) -> ExperimentRecord:
    """Build the same record as `ExperimentRecord.from_model`, from plain rows.

    `columns` maps each record field stored in `experiments` to its value.
    Sorting happens in Python, as in `from_model`, so the order does not
    depend on the database's collation.
    """
    return ExperimentRecord(
        id=columns["id"],
        name=columns["name"],
        description=columns["description"],
        researcher=columns["researcher"],
        team=columns["team"],
        project=columns["project"],
        status=columns["status"],
        visibility=columns["visibility"],
        source=columns["source"],
        created_at=columns["created_at"],
        started_at=columns["started_at"],
        ended_at=columns["ended_at"],
        updated_at=columns["updated_at"],
        reason=columns["reason"],
        config=dict(columns["config"] or {}),
        config_version=columns["config_version"],
        tags=tuple(sorted(children.tags)),
        metrics=dict(sorted(children.metrics, key=_pair_key)),
        collaborators=tuple(sorted(children.collaborators)),
        notes=tuple(children.notes),
        artifacts=tuple(children.artifacts),
        custom=dict(columns["custom"] or {}),
        reproducibility=dict(columns["reproducibility"] or {}),
    )


def _pair_key(pair: tuple[str, float]) -> str:
    return pair[0]


@dataclass(frozen=True)
class MetricPointRecord:
    key: str
    value: float
    step: int | None
    logged_at: dt.datetime


@dataclass(frozen=True)
class ConfigVersionRecord:
    version: int
    config: dict[str, Any]
    author: str
    created_at: dt.datetime


@dataclass(frozen=True)
class EventRecord:
    id: int
    experiment_id: str
    kind: str
    actor: str
    payload: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class ProjectProgress:
    project: str
    total: int
    running: int
    completed: int
    failed: int
    cancelled: int


@dataclass(frozen=True)
class BestResult:
    metric: str
    direction: str
    value: float
    experiment_id: str
    experiment_name: str


@dataclass(frozen=True)
class Summary:
    team: str | None
    total: int
    by_status: dict[str, int]
    completion_rate: float | None
    mean_duration_seconds: float | None
    median_duration_seconds: float | None
    researchers: dict[str, int]
    projects: list[ProjectProgress]
    tags: dict[str, int]
    best: list[BestResult]
    latest_completed: list[ExperimentRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latest_completed"] = [e.to_dict() for e in self.latest_completed]
        # Flat per-status counts beside `by_status`, as scripts expect them.
        data.update(self.by_status)
        return data


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    direction: str
    values: dict[str, float | None]
    best_id: str | None


@dataclass(frozen=True)
class Comparison:
    experiments: list[ExperimentRecord]
    config_differences: dict[str, dict[str, Any]]
    metrics: list[MetricComparison]

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiments": [e.to_dict() for e in self.experiments],
            "config_differences": self.config_differences,
            "metrics": [asdict(m) for m in self.metrics],
        }


@dataclass(frozen=True)
class LeaderboardEntry:
    rank: int
    value: float
    experiment: ExperimentRecord

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "value": self.value,
            "experiment": self.experiment.to_dict(),
        }
