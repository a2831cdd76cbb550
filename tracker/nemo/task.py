"""The link between a NeMo Run task and its expbot experiment.

A launcher under expbot puts two environment variables into every task's
executor: the experiment id and the database to write to. Code inside the
task calls `current()` to get a handle on that experiment. This module does
not import nemo_run, so a training script pays nothing for it.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import URL, make_url

from tracker.db import normalize_url
from tracker.errors import InvalidInput, NotInTrackedTask

if TYPE_CHECKING:
    from tracker.api import Run, Tracker

EXPERIMENT_ID_VAR = "EXPBOT_EXPERIMENT_ID"
DATABASE_URL_VAR = "EXPBOT_DATABASE_URL"
# The launching process, as host and pid, so `expbot nemo sync` can tell a
# local task whose launcher died (NeMo Run then reports RUNNING forever).
LAUNCHER_HOST_VAR = "EXPBOT_LAUNCHER_HOST"
LAUNCHER_PID_VAR = "EXPBOT_LAUNCHER_PID"

_handles: dict[tuple[str, str], Run] = {}


def task_database_url(tracker: Tracker) -> str:
    """Return the tracker's database URL in a form safe to hand to tasks."""
    return shareable_url(tracker.db.engine.url)


def shareable_url(url: URL | str) -> str:
    """Return a database URL without its password, and with an absolute SQLite path.

    NeMo Run writes executor environment variables to disk in plain text,
    so any password is removed: tasks authenticate to PostgreSQL through
    `~/.pgpass` or `$PGPASSFILE` instead. A SQLite path becomes absolute,
    because a task may start in another working directory.
    """
    url = make_url(normalize_url(url) if isinstance(url, str) else url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or url.query.get("mode") == "memory":
            raise InvalidInput(
                "An in-memory SQLite database cannot be shared with NeMo Run "
                "tasks: give the Tracker a file, e.g. `sqlite:////tmp/expbot.db`."
            )
        path = Path(database).expanduser().resolve()
        return url.set(database=str(path)).render_as_string(hide_password=False)
    # `URL.set(password=None)` leaves the password as it is, so rebuild.
    stripped = URL.create(
        url.drivername,
        username=url.username,
        host=url.host,
        port=url.port,
        database=url.database,
        query={k: v for k, v in url.query.items() if k != "password"},
    )
    return stripped.render_as_string(hide_password=False)


def task_environment(tracker: Tracker, experiment_id: str) -> dict[str, str]:
    """Return the variables a task needs to find its experiment."""
    return {
        EXPERIMENT_ID_VAR: experiment_id,
        DATABASE_URL_VAR: task_database_url(tracker),
        LAUNCHER_HOST_VAR: socket.gethostname(),
        LAUNCHER_PID_VAR: str(os.getpid()),
    }


def current() -> Run:
    """Return a handle on the experiment of the NeMo Run task running now.

    Training code calls `current().log_metrics({"loss": 0.3}, step=10)`.
    Inside `with tracker.run(...)` it returns that block's run. Elsewhere,
    outside a task launched under expbot, it raises `NotInTrackedTask`
    naming the missing variable. Handles are cached per process, so
    calling this at every step opens one database engine.
    """
    from tracker.runs import active_run

    running = active_run()
    if running is not None:
        return running
    experiment_id = os.environ.get(EXPERIMENT_ID_VAR, "").strip()
    database_url = os.environ.get(DATABASE_URL_VAR, "").strip()
    for name, value in (
        (EXPERIMENT_ID_VAR, experiment_id),
        (DATABASE_URL_VAR, database_url),
    ):
        if not value:
            raise NotInTrackedTask(
                f"${name} is not set, so this process is not a NeMo Run task "
                "launched under expbot. Launch the task inside "
                "`with tracker.nemo.tracked_experiment(...) as exp:` (see "
                f"docs/nemo.md) or `with tracker.run(...)`, or set "
                f"${EXPERIMENT_ID_VAR} and ${DATABASE_URL_VAR} yourself."
            )

    key = (experiment_id, database_url)
    if key not in _handles:
        from tracker.api import Run, Tracker

        tracker = Tracker(database_url)
        record = tracker.get(experiment_id)
        _handles[key] = Run(tracker, record.id)
    return _handles[key]
