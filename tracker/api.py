"""The Tracker: the public Python API for recording experiments.

Each public method is one database transaction. A change that someone may
want to hear about writes its outbox event in that same transaction, so an
event exists exactly when its change was committed. Nothing here talks to
Slack, so a training script does not wait on Slack or fail because of it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Row, Select, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tracker import capture as capture_facts
from tracker import (
    changes,
    configs,
    directions,
    metric_writes,
    models,
    record_rows,
    runs,
    validation,
    write_access,
)
from tracker.db import Database, ensure_schema, make_engine
from tracker.errors import (
    ExperimentNotFound,
    InvalidInput,
    InvalidTransition,
)
from tracker.lookup import load_records, resolve
from tracker.query import Query, parse
from tracker.records import (
    ConfigVersionRecord,
    EventRecord,
    ExperimentRecord,
    MetricPointRecord,
)
from tracker.runs import Run
from tracker.search import common_tags, page_ids, select_experiments

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000
MAX_OFFSET = 10**9
# Columns of a metric direction that a new setting replaces.
UPSERT_COLUMNS = ("direction", "goal", "set_by", "updated_at")


def default_researcher() -> str:
    configured = os.environ.get("EXPBOT_RESEARCHER") or os.environ.get("USER")
    if configured:
        return configured
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def default_team() -> str:
    return os.environ.get("EXPBOT_TEAM", "default")


class Tracker:
    """Records experiments, their metrics and configs, and runs queries on them.

    `database_url` defaults to `$EXPBOT_DATABASE_URL`, else SQLite in
    `$EXPBOT_HOME/expbot.db`. The schema is created or upgraded on first
    use. With `create=False`, a missing SQLite file raises `DatabaseNotFound`
    instead of being created, for callers that only read. `clock` returns
    the current UTC time and exists for tests.
    """

    def __init__(
        self,
        database_url: str | None = None,
        *,
        clock: Callable[[], dt.datetime] = models.utcnow,
        engine_options: Mapping[str, Any] | None = None,
        create: bool = True,
    ) -> None:
        engine = make_engine(database_url, create=create, **dict(engine_options or {}))
        ensure_schema(engine)
        self.db = Database(engine)
        self.clock = clock

    @property
    def url(self) -> str:
        return self.db.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.db.engine.dispose()

    # -- lifecycle ---------------------------------------------------------

    def track(
        self,
        name: str,
        *,
        description: str = "",
        config: Mapping[str, Any] | None = None,
        tags: Iterable[str] = (),
        team: str | None = None,
        project: str = "",
        researcher: str | None = None,
        visibility: str = "team",
        source: str = "api",
        collaborators: Iterable[str] = (),
        custom: Mapping[str, Any] | None = None,
        capture: bool = True,
        started_at: dt.datetime | None = None,
    ) -> ExperimentRecord:
        """Record a new running experiment and its `created` event."""
        name = validation.name(name)
        description = validation.text_field(
            description, "description", validation.MAX_DESCRIPTION_CHARS
        )
        config = configs.validate_config(config or {})
        tag_list = validation.tags(tags)
        team = validation.label(default_team() if team is None else team, "team")
        project = validation.label(project, "project")
        researcher = validation.handle(researcher or default_researcher())
        people = [
            validation.handle(c, "collaborator")
            for c in validation.as_list(collaborators)
        ]
        visibility = validation.visibility(visibility)
        source = validation.source(source)
        custom = configs.validate_config(custom or {}, source="custom fields")
        if started_at is not None and started_at.tzinfo is None:
            raise InvalidInput(
                f"Start time {started_at.isoformat()} has no time zone; pass an "
                "aware datetime, e.g. datetime.now(timezone.utc)."
            )
        facts = capture_facts.capture() if capture else {}
        now = self.clock()

        experiment: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "name": name,
            "description": description,
            "researcher": researcher,
            "team": team,
            "project": project,
            "status": "running",
            "visibility": visibility,
            "source": source,
            "created_at": now,
            "started_at": started_at or now,
            "ended_at": None,
            "updated_at": now,
            "reason": "",
            "config": config,
            "config_version": 1,
            "custom": custom,
            "reproducibility": facts,
            "search_text": changes.search_text(name, description, []),
        }
        handles = [h for h in dict.fromkeys(people) if h != researcher]
        with self.db.write() as session:
            connection = session.connection()
            changes.insert_experiment(connection, experiment, tag_list, handles, now)
            changes.emit_event(
                connection, experiment["id"], "created", researcher, {}, now
            )
        record = record_rows.build_record(
            experiment, tags=tag_list, collaborators=handles
        )
        logger.info("tracked experiment %s (%s)", record.id, record.name)
        return record

    def update(
        self,
        identifier: str,
        *,
        name: str | None = None,
        description: str | None = None,
        config: Mapping[str, Any] | None = None,
        team: str | None = None,
        project: str | None = None,
        visibility: str | None = None,
        custom: Mapping[str, Any] | None = None,
        actor: str | None = None,
        as_admin: bool = False,
    ) -> ExperimentRecord:
        """Change descriptive fields; a changed config becomes a new version."""
        if config is not None:
            config = configs.validate_config(config)
        if custom is not None:
            custom = configs.validate_config(custom, source="custom fields")
        with self.db.write() as session:
            row = self._load_for_change(session, identifier, actor, as_admin)
            now = self.clock()
            if name is not None:
                row.name = validation.name(name)
            if description is not None:
                row.description = validation.text_field(
                    description, "description", validation.MAX_DESCRIPTION_CHARS
                )
            if team is not None:
                row.team = validation.label(team, "team")
                changes.copy_team(session, row.id, row.team)
            if project is not None:
                row.project = validation.label(project, "project")
            if visibility is not None:
                row.visibility = validation.visibility(visibility)
            if custom is not None:
                row.custom = {**row.custom, **custom}
            if config is not None and config != row.config:
                changes.add_config_version(session, row, config, actor, now)
            if name is not None or description is not None:
                row.search_text = changes.search_text(
                    row.name, row.description, [n.text for n in row.notes]
                )
            row.updated_at = now
            return ExperimentRecord.from_model(row)

    def log_metrics(
        self,
        identifier: str,
        metrics: Mapping[str, Any],
        *,
        step: int | None = None,
        actor: str | None = None,
    ) -> None:
        """Append metric points and move each metric's summary to the latest.

        The summary follows the highest step; points without a step count
        as newer than any before them. Training loops call this at every
        step, so it reads only the experiment's owner, team and visibility
        (and its collaborators when `actor` is not the owner), writes with
        Core statements and returns nothing.
        """
        values = validation.metrics(metrics)
        step = validation.step(step)
        self._record_points(identifier, [(step, values)], actor)

    def log_metrics_batch(
        self,
        identifier: str,
        steps: Iterable[tuple[int | None, Mapping[str, Any]]],
        *,
        actor: str | None = None,
    ) -> None:
        """Log several steps' metrics in one transaction, e.g. a buffered loop.

        `steps` is a sequence of `(step, {metric: value})` pairs, in the
        order they were measured. Summaries and `threshold` events come out
        as if each pair had been passed to `log_metrics` in turn. One
        invalid step or value rejects the whole batch and writes nothing.
        """
        batch = validation.metric_steps(steps)
        self._record_points(identifier, batch, actor)

    def complete(
        self,
        identifier: str,
        metrics: Mapping[str, Any] | None = None,
        *,
        artifacts: Iterable[str] = (),
        actor: str | None = None,
        as_admin: bool = False,
        ended_at: dt.datetime | None = None,
    ) -> ExperimentRecord:
        """Mark a running experiment completed, with its final metrics.

        `ended_at` defaults to now; importers pass the real end time.
        """
        values = validation.metrics(metrics or {})
        uris = [validation.artifact(uri) for uri in artifacts]
        with self.db.write() as session:
            connection = session.connection()
            row = self._lock_for_end(connection, identifier, actor, as_admin)
            changes.require_running(row, "complete")
            now = self.clock()
            metric_writes.record_points(connection, row, [(None, values)], now)
            changes.add_artifacts(connection, row.id, uris, now)
            ended = changes.end_time(row, ended_at, now)
            columns = changes.finish(
                connection, row._mapping, "completed", "", ended, now
            )
            record = record_rows.load_record(connection, columns)
            by = actor or row.researcher
            changes.emit_event(
                connection, row.id, "completed", by, dict(record.metrics), now
            )
            return record

    def fail(
        self,
        identifier: str,
        reason: str = "",
        *,
        actor: str | None = None,
        as_admin: bool = False,
        ended_at: dt.datetime | None = None,
    ) -> ExperimentRecord:
        reason = validation.text_field(reason, "reason", validation.MAX_REASON_CHARS)
        status = "failed"
        return self._end(identifier, status, reason, actor, as_admin, ended_at)

    def cancel(
        self,
        identifier: str,
        reason: str = "",
        *,
        actor: str | None = None,
        as_admin: bool = False,
        ended_at: dt.datetime | None = None,
    ) -> ExperimentRecord:
        reason = validation.text_field(reason, "reason", validation.MAX_REASON_CHARS)
        status = "cancelled"
        return self._end(identifier, status, reason, actor, as_admin, ended_at)

    def add_artifacts(
        self, identifier: str, uris: Iterable[str], *, actor: str | None = None
    ) -> ExperimentRecord:
        checked = [validation.artifact(uri) for uri in uris]
        with self.db.write() as session:
            row = self._load_for_change(session, identifier, actor, False)
            now = self.clock()
            row.artifacts.extend(
                models.Artifact(uri=u, created_at=now) for u in checked
            )
            row.updated_at = now
            return ExperimentRecord.from_model(row)

    # -- collaboration -----------------------------------------------------

    def share(
        self,
        identifier: str,
        users: Iterable[str],
        *,
        actor: str | None = None,
        as_admin: bool = False,
    ) -> ExperimentRecord:
        """Add collaborators; the lifecycle status stays as it is.

        Users who already collaborate are skipped, and the `shared` event
        names only the newly added ones (none added, no event).
        """
        handles = [
            validation.handle(u, "collaborator") for u in validation.as_list(users)
        ]
        if not handles:
            raise InvalidInput("Name at least one user to share with, e.g. `bob`.")
        with self.db.write() as session:
            row = self._load_for_change(session, identifier, actor, as_admin)
            now = self.clock()
            present = {c.handle for c in row.collaborators} | {row.researcher}
            added = [h for h in dict.fromkeys(handles) if h not in present]
            by = actor or row.researcher
            row.collaborators.extend(
                models.Collaborator(handle=h, added_by=by, added_at=now) for h in added
            )
            if added:
                row.updated_at = now
                changes.emit(session, row, "shared", by, {"added": added}, now)
            return ExperimentRecord.from_model(row)

    def add_note(
        self,
        identifier: str,
        text: str,
        *,
        author: str | None = None,
        as_admin: bool = False,
    ) -> ExperimentRecord:
        text = validation.note(text)
        with self.db.write() as session:
            row = self._load_for_change(session, identifier, author, as_admin)
            now = self.clock()
            by = author or default_researcher()
            note = models.Note(author=by, text=text, created_at=now)
            row.notes.append(note)
            row.search_text = f"{row.search_text}\n{text.lower()}"
            row.updated_at = now
            session.flush()
            payload = {"note_id": note.id, "text": text[:500]}
            changes.emit(session, row, "noted", by, payload, now)
            return ExperimentRecord.from_model(row)

    def tag(
        self,
        identifier: str,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        actor: str | None = None,
        as_admin: bool = False,
    ) -> ExperimentRecord:
        to_add = validation.tags(add)
        to_remove = set(validation.tags(remove))
        with self.db.write() as session:
            row = self._load_for_change(session, identifier, actor, as_admin)
            present = {t.tag for t in row.tags}
            row.tags = [t for t in row.tags if t.tag not in to_remove]
            row.tags.extend(
                models.Tag(tag=t, team=row.team)
                for t in to_add
                if t not in present and t not in to_remove
            )
            row.updated_at = self.clock()
            return ExperimentRecord.from_model(row)

    # -- metric directions -------------------------------------------------

    def set_metric_direction(
        self,
        metric: str,
        direction: str,
        *,
        team: str = "",
        goal: float | None = None,
        clear_goal: bool = False,
        actor: str = "",
    ) -> None:
        """Set whether larger or smaller is better, for a team or everyone.

        Without `goal`, a stored goal stays unless `clear_goal` is true.
        """
        metric = validation.metric_name(metric)
        direction = directions.parse_direction(direction)
        team = validation.label(team, "team")
        if goal is not None and clear_goal:
            raise InvalidInput(f"Give a goal for {metric!r} or clear it, not both.")
        if goal is not None:
            goal = validation.metric_value(metric, goal)
        keep = (
            {"team", "name"}
            if goal is not None or clear_goal
            else {"team", "name", "goal"}
        )
        values = {
            "team": team,
            "name": metric,
            "direction": direction,
            "goal": goal,
            "set_by": actor,
            "updated_at": self.clock(),
        }
        with self.db.write() as session:
            # An upsert, because several processes may set a new metric at once.
            insert = sqlite_insert if self.db.dialect == "sqlite" else postgres_insert
            statement = insert(models.MetricDirection).values(**values)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["team", "name"],
                    set_={k: statement.excluded[k] for k in values if k not in keep},
                )
            )

    def directions(self, team: str = "") -> directions.Directions:
        with self.db.read() as session:
            rows = session.execute(
                select(
                    models.MetricDirection.team,
                    models.MetricDirection.name,
                    models.MetricDirection.direction,
                )
            ).all()
        return directions.Directions({(t, n): d for t, n, d in rows}, team)

    def metric_directions(self) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = session.scalars(
                select(models.MetricDirection).order_by(
                    models.MetricDirection.team, models.MetricDirection.name
                )
            ).all()
            return [
                {
                    "team": r.team,
                    "metric": r.name,
                    "direction": r.direction,
                    "goal": r.goal,
                }
                for r in rows
            ]

    def metric_goal(self, metric: str, team: str = "") -> float | None:
        """Return the goal stored for a metric and team ("" for everyone)."""
        with self.db.read() as session:
            return session.scalar(
                select(models.MetricDirection.goal).where(
                    models.MetricDirection.team == team,
                    models.MetricDirection.name == metric,
                )
            )

    def teams(self) -> list[str]:
        """Return the teams that experiments record, private ones included."""
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(models.Experiment.team)
                    .distinct()
                    .order_by(models.Experiment.team)
                )
            )

    # -- reads -------------------------------------------------------------

    def get(self, identifier: str, *, viewer: str | None = None) -> ExperimentRecord:
        """Return one experiment by id or unique prefix of 6+ characters.

        With a `viewer`, a private experiment they may not see is reported
        as not found, so its existence does not leak.
        """
        with self.db.read() as session:
            row = resolve(session, identifier)
            (record,) = load_records(session.connection(), [row.id])
        if viewer is not None and not record.can_be_seen_by(viewer):
            raise ExperimentNotFound(identifier)
        return record

    def get_many(
        self, identifiers: Sequence[str], *, viewer: str | None = None
    ) -> list[ExperimentRecord]:
        return [self.get(identifier, viewer=viewer) for identifier in identifiers]

    def search(
        self,
        query: str = "",
        *,
        viewer: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ExperimentRecord]:
        """Return experiments matching the search language, best first.

        One read transaction selects the page's ids, then loads their
        records from plain rows (see `load_records`), without ORM objects.
        """
        parsed = parse(query or "")
        limit, offset = _page(limit, offset)
        with self.db.read_connection() as connection:
            ids = page_ids(
                connection,
                parsed,
                now=self.clock(),
                direction_of=_sort_directions(connection, parsed),
                viewer=viewer,
                limit=limit,
                offset=offset,
                common_tags=common_tags(connection, parsed),
            )
            return load_records(connection, ids)

    def count(
        self, query: str = "", *, viewer: str | None = None, limit: int | None = None
    ) -> int:
        """Count the experiments matching a query, or at most `limit` of them.

        With a limit the database stops after that many matches, so a
        caller can show "1,000+" without counting 100,000 rows.
        """
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise InvalidInput(
                f"Invalid count limit {limit!r}: pass a whole number of 1 or more, "
                "or None to count every match."
            )
        parsed = parse(query or "")
        # The order does not change a count, so the sort keys are left out.
        # Selecting a constant lets SQLite count from an index alone, where
        # reading `id` would fetch each table row. The FROM is kept
        # explicitly: without a filter nothing else names the table, and
        # `SELECT 1` alone would count one row.
        matching: Select[Any] = (
            select_experiments(
                Query(parsed.where),
                now=self.clock(),
                direction_of=directions.default_direction,
                viewer=viewer,
                limit=limit,
            )
            .order_by(None)
            .with_only_columns(literal_column("1"), maintain_column_froms=True)
        )
        counted = select(func.count()).select_from(matching.subquery())
        with self.db.read_connection() as connection:
            return int(connection.scalar(counted) or 0)

    def metric_history(
        self, identifier: str, key: str | None = None, *, viewer: str | None = None
    ) -> list[MetricPointRecord]:
        with self.db.read() as session:
            row = self._resolve_visible(session, identifier, viewer)
            statement = select(models.MetricPoint).where(
                models.MetricPoint.experiment_id == row.id
            )
            if key is not None:
                statement = statement.where(models.MetricPoint.key == key)
            statement = statement.order_by(
                models.MetricPoint.key, models.MetricPoint.id
            )
            return [
                MetricPointRecord(p.key, p.value, p.step, p.logged_at)
                for p in session.scalars(statement)
            ]

    def config_history(
        self, identifier: str, *, viewer: str | None = None
    ) -> list[ConfigVersionRecord]:
        with self.db.read() as session:
            row = self._resolve_visible(session, identifier, viewer)
            versions = session.scalars(
                select(models.ConfigVersion)
                .where(models.ConfigVersion.experiment_id == row.id)
                .order_by(models.ConfigVersion.version)
            )
            return [
                ConfigVersionRecord(v.version, v.config, v.author, v.created_at)
                for v in versions
            ]

    def config_diff(
        self, identifier: str, old: int, new: int, *, viewer: str | None = None
    ) -> dict[str, dict[str, Any]]:
        """Return the keys that differ between two config versions."""
        versions = self.config_history(identifier, viewer=viewer)
        history = {v.version: v.config for v in versions}
        for version in (old, new):
            if version not in history:
                raise InvalidInput(
                    f"Experiment `{identifier}` has no config version {version}; "
                    f"it has versions 1 to {max(history)}."
                )
        return configs.diff({f"v{old}": history[old], f"v{new}": history[new]})

    def events(self, after_id: int = 0, limit: int = 100) -> list[EventRecord]:
        with self.db.read() as session:
            rows = session.scalars(
                select(models.Event)
                .where(models.Event.id > after_id)
                .order_by(models.Event.id)
                .limit(limit)
            )
            return [
                EventRecord(
                    e.id, e.experiment_id, e.kind, e.actor, e.payload, e.created_at
                )
                for e in rows
            ]

    # -- analysis (implemented in tracker.analysis and tracker.reports) ------

    def summary(self, team: str | None = None, *, viewer: str | None = None) -> Any:
        from tracker.analysis import summarize

        return summarize(self, team=team, viewer=viewer)

    def compare(self, identifiers: Sequence[str], *, viewer: str | None = None) -> Any:
        from tracker.analysis import compare

        return compare(self, identifiers, viewer=viewer)

    def leaderboard(
        self,
        metric: str,
        query: str = "",
        *,
        limit: int = 10,
        viewer: str | None = None,
    ) -> Any:
        from tracker.analysis import leaderboard

        return leaderboard(self, metric, query, limit=limit, viewer=viewer)

    def report(self, team: str, year: int, month: int, tz: str = "UTC") -> Any:
        from tracker.reports import monthly_report

        return monthly_report(self, team, year, month, tz)

    # -- context manager for scripts --------------------------------------

    @contextmanager
    def run(self, name: str, **track_options: Any) -> Iterator[Run]:
        """Track an experiment for the duration of a `with` block.

        On a normal exit, and on `sys.exit(0)` or `sys.exit()`, a
        still-running experiment is completed. Any other exception, a
        non-zero exit status included, fails it with the exception as the
        reason and is re-raised. Ctrl-C cancels it.
        """
        record = self.track(name, **track_options)
        handle = Run(self, record.id)
        token = runs.activate(handle)
        try:
            yield handle
        except KeyboardInterrupt:
            self._end_quietly(record.id, "cancelled", "interrupted (KeyboardInterrupt)")
            raise
        except SystemExit as exc:
            if exc.code in (0, None):
                self._complete_if_running(record.id)
            else:
                reason = f"the script exited with status {exc.code!r} (SystemExit)"
                self._end_quietly(record.id, "failed", reason)
            raise
        except BaseException as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self._end_quietly(record.id, "failed", reason)
            raise
        else:
            self._complete_if_running(record.id)
        finally:
            runs.deactivate(token)

    def _complete_if_running(self, identifier: str) -> None:
        # The block may already have ended the experiment itself.
        if self.get(identifier).status == "running":
            self.complete(identifier)

    # -- internals ---------------------------------------------------------

    def _end(
        self,
        identifier: str,
        status: str,
        reason: str,
        actor: str | None,
        as_admin: bool,
        ended_at: dt.datetime | None = None,
    ) -> ExperimentRecord:
        with self.db.write() as session:
            connection = session.connection()
            row = self._lock_for_end(connection, identifier, actor, as_admin)
            action = {"failed": "fail", "cancelled": "cancel"}[status]
            changes.require_running(row, action)
            now = self.clock()
            ended = changes.end_time(row, ended_at, now)
            columns = changes.finish(
                connection, row._mapping, status, reason, ended, now
            )
            by = actor or row.researcher
            changes.emit_event(connection, row.id, status, by, {"reason": reason}, now)
            return record_rows.load_record(connection, columns)

    def _lock_for_end(
        self, connection: Connection, identifier: str, actor: str | None, as_admin: bool
    ) -> Row[Any]:
        """Lock an experiment for complete, fail or cancel, with every column."""
        row = write_access.lock_experiment(
            connection, identifier, record_rows.RECORD_COLUMNS
        )
        write_access.check_actor(connection, identifier, row, actor, as_admin)
        return row

    def _record_points(
        self,
        identifier: str,
        steps: Sequence[metric_writes.StepValues],
        actor: str | None,
    ) -> None:
        """Write metric points in one transaction and bump `updated_at`.

        The experiment's status is not checked, so a finished experiment
        takes points too.
        """
        with self.db.write() as session:
            connection = session.connection()
            now = self.clock()
            experiment = write_access.lock_and_touch(connection, identifier, now)
            write_access.check_actor(connection, identifier, experiment, actor, False)
            metric_writes.record_points(connection, experiment, steps, now)

    def _end_quietly(self, identifier: str, status: str, reason: str) -> None:
        try:
            self._end(
                identifier, status, reason[: validation.MAX_REASON_CHARS], None, False
            )
        except InvalidTransition:
            # The block already ended the experiment itself.
            pass

    def _resolve_visible(
        self, session: Session, identifier: str, viewer: str | None
    ) -> models.Experiment:
        row = resolve(session, identifier, eager=viewer is not None)
        if viewer is not None:
            if not ExperimentRecord.from_model(row).can_be_seen_by(viewer):
                raise ExperimentNotFound(identifier)
        return row

    def _load_for_change(
        self,
        session: Session,
        identifier: str,
        actor: str | None,
        as_admin: bool,
    ) -> models.Experiment:
        row = resolve(session, identifier, eager=True, for_update=True)
        if actor is not None and not as_admin:
            collaborator = actor in {c.handle for c in row.collaborators}
            write_access.require_change_allowed(
                identifier, row, actor, as_admin, collaborator
            )
        return row


def _sort_directions(connection: Connection, query: Query) -> directions.Directions:
    """Read the workspace directions of the metrics that `query` sorts by.

    Reading them in the search's own transaction, by primary key, costs
    less than a cache that would need the same lookup to stay current
    when another process changes a direction.
    """
    names = sorted({key.name for key in query.sort if key.is_metric})
    if not names:
        return directions.Directions({})
    columns = models.MetricDirection.__table__.c
    rows = connection.execute(
        select(columns.name, columns.direction).where(
            columns.team == "", columns.name.in_(names)
        )
    )
    return directions.Directions({("", name): direction for name, direction in rows})


def _page(limit: Any, offset: Any) -> tuple[int, int]:
    """Check a page's limit and offset, clamped to what a database takes."""
    try:
        limit, offset = int(limit), int(offset)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"Invalid page: limit {limit!r} and offset {offset!r} must be "
            "whole numbers."
        ) from None
    return max(1, min(limit, MAX_PAGE_SIZE)), max(0, min(offset, MAX_OFFSET))
