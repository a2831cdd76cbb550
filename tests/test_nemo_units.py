"""The NeMo Run integration's pure parts: states, stale rules, layout, URLs.

None of these tests imports nemo_run; they build the on-disk layout that
NeMo Run 0.11.1 writes by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from tracker.errors import InvalidInput, NotInTrackedTask
from tracker.nemo import task as nemo_task
from tracker.nemo.layout import BrokenExperiment, read_experiment
from tracker.nemo.stale import Host, stale_reason
from tracker.nemo.states import TaskStatus, outcome
from tracker.nemo.task import current, shareable_url

pytestmark = pytest.mark.nemo

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
LAUNCHED_NS = 1_795_000_000_000_000_000  # 2026-11-18, two days before NOW


def write_experiment(root, name="train", *, tasks=True, env=None, task_config=None):
    """Write an experiment directory shaped like NeMo Run 0.11.1's."""
    directory = root / "experiments" / "demo" / f"demo_{LAUNCHED_NS}"
    configs = directory / name / "configs"
    configs.mkdir(parents=True)
    (directory / "_CONFIG").write_text("eJwDAAAAAAE=")
    (directory / "_VERSION").write_text("0.11.1\n")
    if tasks:
        (directory / "_TASKS").write_text(json.dumps([["job", "task"]]))
    executor = {
        "_target_": "nemo_run.core.execution.local.LocalExecutor",
        "env_vars": env or {},
    }
    (configs / f"{name}_executor.yaml").write_text(json.dumps(executor))
    config = task_config or {"_target_": "pkg.train", "_partial_": True, "lr": 0.1}
    (configs / f"{name}_config.yaml").write_text(json.dumps(config))
    return directory


def status(state, executor="LocalExecutor", name="train"):
    return TaskStatus(name=name, state=state, executor=executor)


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["SUCCEEDED"], "completed"),
        (["SUCCEEDED", "SUCCEEDED"], "completed"),
        (["SUCCEEDED", "FAILED"], "failed"),
        (["CANCELLED", "FAILED"], "failed"),
        (["SUCCEEDED", "CANCELLED"], "cancelled"),
        (["SUCCEEDED", "UNKNOWN"], "failed"),
        (["SUCCEEDED", "RUNNING"], None),
        (["PENDING"], None),
    ],
)
def test_outcome_of_task_states(states, expected):
    tasks = [status(state, name=f"t{i}") for i, state in enumerate(states)]

    result = outcome(tasks)

    assert (result.status if result else None) == expected


def test_outcome_failure_names_task_and_log(tmp_path):
    log = tmp_path / "nemo_run" / "eval-x1" / "eval" / "0" / "combined.log"
    log.parent.mkdir(parents=True)
    log.write_text("Traceback ...\nValueError: bad batch\n\n")
    failed = TaskStatus("eval", "FAILED", "LocalExecutor", str(tmp_path), "eval-x1")

    result = outcome([status("SUCCEEDED"), failed])

    assert "`eval`" in result.reason
    assert str(log) in result.reason
    assert "ValueError: bad batch" in result.reason


def test_outcome_cancelled_names_task():
    result = outcome([status("SUCCEEDED"), status("CANCELLED", name="sweep")])

    assert result.reason == "NeMo Run task `sweep` was cancelled."


def test_read_experiment_summarises_tasks(tmp_path):
    env = {"EXPBOT_LAUNCHER_PID": "4242", "EXPBOT_LAUNCHER_HOST": "gpu-7"}
    directory = write_experiment(tmp_path, env=env)

    found = read_experiment(directory)

    assert found.id == f"demo_{LAUNCHED_NS}"
    assert found.title == "demo"
    assert found.started_at == dt.datetime.fromtimestamp(LAUNCHED_NS / 1e9, dt.UTC)
    assert found.config_summary() == {"lr": 0.1}
    assert found.tasks[0].executor == "LocalExecutor"
    assert found.tasks[0].target == "pkg.train"
    assert found.tasks[0].launcher_pid == 4242
    assert found.tasks[0].launcher_host == "gpu-7"
    assert found.done is False


def test_read_experiment_script_task(tmp_path):
    script = {"_target_": "nemo_run.config.Script", "inline": "echo hi", "args": []}
    directory = write_experiment(tmp_path, name="prep", task_config=script)

    found = read_experiment(directory)

    assert found.tasks[0].target == "script: echo hi"
    assert found.config_summary() == {"args": []}


def test_read_experiment_without_tasks_file(tmp_path):
    directory = write_experiment(tmp_path, tasks=False)

    with pytest.raises(BrokenExperiment, match="no _TASKS file") as caught:
        read_experiment(directory)

    assert str(directory) in str(caught.value)


def test_read_experiment_corrupt_tasks_file(tmp_path):
    directory = write_experiment(tmp_path)
    (directory / "_TASKS").write_text('[["job", ')

    with pytest.raises(BrokenExperiment, match="unreadable _TASKS"):
        read_experiment(directory)


def finished_pid():
    """Return the pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    ("state", "executor", "launcher", "commands", "stale"),
    [
        ("SUBMITTED", "SlurmExecutor", None, [], True),
        ("PENDING", "SlurmExecutor", None, [], True),
        ("RUNNING", "SlurmExecutor", None, [], False),
        ("RUNNING", "LocalExecutor", "dead", [], True),
        ("PENDING", "LocalExecutor", "dead", [], True),
        ("RUNNING", "LocalExecutor", "alive", [], False),
        ("RUNNING", "LocalExecutor", "other-host", [], False),
        ("RUNNING", "LocalExecutor", None, [], True),
        ("RUNNING", "LocalExecutor", None, ["python -m fdl_runner {dir}/t/c"], False),
        ("RUNNING", "LocalExecutor", None, None, False),
        ("SUCCEEDED", "LocalExecutor", "dead", [], False),
    ],
)
def test_stale_reason_rules(tmp_path, state, executor, launcher, commands, stale):
    env = {}
    if launcher is not None:
        pid = os.getpid() if launcher == "alive" else finished_pid()
        host = "elsewhere" if launcher == "other-host" else "here"
        env = {"EXPBOT_LAUNCHER_PID": str(pid), "EXPBOT_LAUNCHER_HOST": host}
    experiment = read_experiment(write_experiment(tmp_path, env=env))
    if commands is not None:
        commands = [c.format(dir=experiment.path) for c in commands]

    reason = stale_reason(
        experiment,
        status(state, executor),
        now=NOW,
        host=Host("here", commands),
        waiting_limit=dt.timedelta(days=1),
    )

    assert bool(reason) is stale


def test_stale_reason_recent_submission(tmp_path):
    experiment = read_experiment(write_experiment(tmp_path))

    reason = stale_reason(
        experiment,
        status("SUBMITTED", "SlurmExecutor"),
        now=NOW,
        host=Host("here", []),
        waiting_limit=dt.timedelta(days=3),
    )

    assert reason == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://bob:s3cret@db:5432/expbot?sslmode=require",
            "postgresql+psycopg://bob@db:5432/expbot?sslmode=require",
        ),
        (
            "postgresql+psycopg://bob@db/expbot?password=s3cret",
            "postgresql+psycopg://bob@db/expbot",
        ),
        ("sqlite:////var/expbot.db", "sqlite:////var/expbot.db"),
    ],
)
def test_shareable_url_drops_password(url, expected):
    assert shareable_url(url) == expected


def test_shareable_url_makes_sqlite_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert shareable_url("sqlite:///runs/expbot.db") == (
        f"sqlite:///{tmp_path / 'runs' / 'expbot.db'}"
    )


def test_shareable_url_rejects_memory():
    with pytest.raises(InvalidInput, match="in-memory"):
        shareable_url("sqlite://")


@pytest.mark.parametrize("missing", ["EXPBOT_EXPERIMENT_ID", "EXPBOT_DATABASE_URL"])
def test_current_outside_task_names_variable(monkeypatch, sqlite_url, missing):
    monkeypatch.setenv("EXPBOT_EXPERIMENT_ID", "3f2a9c00-0000-4000-8000-000000000000")
    monkeypatch.setenv("EXPBOT_DATABASE_URL", sqlite_url)
    monkeypatch.delenv(missing)

    with pytest.raises(NotInTrackedTask, match=f"\\${missing} is not set"):
        current()


def test_current_returns_cached_handle(monkeypatch, sqlite_tracker, sqlite_url):
    record = sqlite_tracker.track("in-task", researcher="alice")
    monkeypatch.setenv("EXPBOT_EXPERIMENT_ID", record.id)
    monkeypatch.setenv("EXPBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setattr(nemo_task, "_handles", {})

    first = current()
    first.log_metrics({"loss": 0.5}, step=1)

    assert current() is first
    assert sqlite_tracker.get(record.id).metrics == {"loss": 0.5}
    first.tracker.close()


def test_import_tracker_skips_nemo_run():
    code = (
        "import sys, tracker, tracker.nemo\n"
        "from tracker.nemo import current\n"
        "print('nemo_run' in sys.modules)\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "False"


def test_read_experiment_yaml_float_forms(tmp_path):
    directory = write_experiment(tmp_path)
    config_file = directory / "train" / "configs" / "train_config.yaml"
    config_file.write_text("_target_: pkg.train\n_partial_: true\nlr: 3e-4\n")

    found = read_experiment(directory)

    assert found.config_summary() == {"lr": 3e-4}
