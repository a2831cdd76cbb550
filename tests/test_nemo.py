"""Real NeMo Run launches with the local executor, tracked and synced.

Each launch runs in a child process with its own NEMORUN_HOME: nemo_run
reads that variable once, at import, and `import nemo_run` raises a
DeprecationWarning (from starlette) that this suite turns into an error.
NeMo Run starts a Partial task as `python -m ...` found on PATH, so the
test environment puts this interpreter's directory first on PATH.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from tracker import Tracker
from tracker.nemo.cli import register_cli
from tracker.nemo.stale import process_alive
from tracker.nemo.sync import sync


def nemo_import_error() -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import nemo_run  # noqa: F401
        except Exception as exc:  # any import failure means: skip, and report why
            return f"nemo_run is not importable ({type(exc).__name__}: {exc})"
    return None


_IMPORT_ERROR = nemo_import_error()
pytestmark = [
    pytest.mark.nemo,
    pytest.mark.skipif(_IMPORT_ERROR is not None, reason=_IMPORT_ERROR or ""),
]

# Partial tasks start a Python process that imports nemo_run (1-2 s of CPU);
# shell scripts do not, so most tasks here are scripts.
TASKS = """
from tracker.nemo import current


def train(steps: int = 3, lr: float = 0.1, fail: bool = False):
    run = current()
    for step in range(steps):
        run.log_metrics({"loss": 1.0 / (step + 1), "lr": lr}, step=step)
    if fail:
        raise RuntimeError(f"diverged after {steps} steps")


def plain(fail: bool = False):
    if fail:
        raise ValueError("plain task failed")
"""

EVALUATE = """
from tracker.nemo import current

current().log_metrics({"accuracy": 0.75})
"""

HOLD = """
echo $$ > "$1.tmp" && mv "$1.tmp" "$1"
for _ in $(seq 600); do
    [ -e "$2" ] && exit 0
    sleep 0.1
done
"""

LAUNCHER = """
import pathlib
import sys

import nemo_run as run

import nemo_test_tasks as tasks
from tracker import Tracker
from tracker.nemo import tracked_experiment

QUIET = {"log_level": "WARNING", "enable_goodbye_message": False}
HERE = pathlib.Path(__file__).parent


def tracked(title, tracker, **options):
    options.update(QUIET)
    return tracked_experiment(title, tracker=tracker, poll_interval=0.2, **options)


def launch(scenario, tracker, args):
    if scenario == "succeed":
        with tracked("succeed", tracker, project="demo") as exp:
            exp.add(run.Partial(tasks.train, steps=3, lr=0.1), name="train")
            exp.run()
        return [exp.experiment_id]
    if scenario == "fail":
        with tracked("fail", tracker) as exp:
            exp.add(run.Partial(tasks.train, steps=2, fail=True), name="train")
            exp.run()
        return [exp.experiment_id]
    if scenario == "two":
        evaluate = run.Script(path=str(HERE / "evaluate.py"), entrypoint="python")
        with tracked("two", tracker) as exp:
            exp.add(run.Partial(tasks.train, steps=2, lr=0.5), name="train")
            exp.add(evaluate, name="evaluate")
            exp.run()
        return [exp.experiment_id]
    if scenario == "evaluate":
        evaluate = run.Script(path=str(HERE / "evaluate.py"), entrypoint="python")
        with tracked("evaluate", tracker) as exp:
            exp.add(evaluate, name="evaluate")
            exp.run()
        return [exp.experiment_id]
    if scenario == "cancel":
        with tracked("cancel", tracker) as exp:
            exp.add(run.Script(inline="sleep 60"), name="hold")
            exp.add(run.Script(inline="true"), name="quick")
            exp.run()
            exp.cancel("hold")
        return [exp.experiment_id]
    if scenario == "errors":
        ids = []
        try:
            with tracked("raises", tracker) as exp:
                ids.append(exp.experiment_id)
                raise KeyError("no such sweep")
        except KeyError:
            pass
        with tracked("never-run", tracker) as exp:
            ids.append(exp.experiment_id)
        return ids
    if scenario == "hold":
        hold = run.Script(path=str(HERE / "hold.sh"), args=args)
        with tracked("held", tracker) as exp:
            exp.add(hold, name="hold")
            exp.run()
        return [exp.experiment_id]
    if scenario == "plain":
        failing = run.Script(inline="echo 'plain task failed' >&2; exit 3")
        for title, task in (
            ("plain-ok", run.Partial(tasks.plain, fail=False)),
            ("plain-fail", failing),
        ):
            with run.Experiment(title, executor=run.LocalExecutor(), **QUIET) as exp:
                exp.add(task, name=title + "-task")
                exp.run()
        return []
    raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    tracker = Tracker(sys.argv[1])
    for experiment_id in launch(sys.argv[2], tracker, sys.argv[3:]):
        print("EXPBOT_ID=" + experiment_id, flush=True)
"""


def write_scripts(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "nemo_test_tasks.py").write_text(TASKS)
    (directory / "evaluate.py").write_text(EVALUATE)
    (directory / "hold.sh").write_text(HOLD)
    launcher = directory / "launch.py"
    launcher.write_text(LAUNCHER)
    return launcher


def launch_environment(base: Path, scripts: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPBOT_")}
    env["NEMORUN_HOME"] = str(base / "nemo_home")
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(scripts), env.get("PYTHONPATH")])
    )
    return env


class Launcher:
    """Runs the launcher script's scenarios against one database and home."""

    def __init__(self, base: Path, database_url: str) -> None:
        self.script = write_scripts(base / "scripts")
        self.env = launch_environment(base, self.script.parent)
        self.home = Path(self.env["NEMORUN_HOME"])
        self.database_url = database_url

    def command(self, scenario: str, *args: str) -> list[str]:
        return [sys.executable, str(self.script), self.database_url, scenario, *args]

    def start(self, scenario: str, *args: str) -> subprocess.Popen[str]:
        # The child keeps its own copy of the file descriptor.
        with (self.script.parent / f"{scenario}.out").open("w") as output:
            return subprocess.Popen(
                self.command(scenario, *args),
                env=self.env,
                cwd=self.script.parent,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )

    def wait(self, process: subprocess.Popen[str]) -> list[str]:
        """Wait for a launcher and return the expbot ids it printed."""
        scenario = process.args[3]  # type: ignore[index]
        process.wait(timeout=120)
        output = (self.script.parent / f"{scenario}.out").read_text()
        assert process.returncode == 0, output[-3000:]
        # Rich may leave its live display's last line unterminated.
        return re.findall(r"EXPBOT_ID=(\S+)", output)

    def run(self, scenario: str, *args: str) -> list[str]:
        return self.wait(self.start(scenario, *args))


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
    """Run every tracked scenario at once, each in its own launcher process.

    The launchers share one SQLite database, as a team's jobs on one
    machine would; NeMo Run's 2-second status polling makes running them
    side by side much faster than one after another.
    """
    base = tmp_path_factory.mktemp("nemo_launch")
    launcher = Launcher(base, f"sqlite:///{base / 'expbot.db'}")
    scenarios = {
        "succeed": [],
        "fail": [],
        "two": [],
        "cancel": [],
        "errors": [],
    }
    before = time.time()
    processes = {name: launcher.start(name, *args) for name, args in scenarios.items()}
    ids = {name: launcher.wait(process) for name, process in processes.items()}
    after = time.time()

    tracker = Tracker(launcher.database_url)
    yield SimpleNamespace(
        tracker=tracker, launcher=launcher, ids=ids, before=before, after=after
    )
    tracker.close()


def kinds(tracker, experiment_id):
    return [e.kind for e in tracker.events() if e.experiment_id == experiment_id]


# -- tracked launches ------------------------------------------------------


def test_tracked_task_succeeds(launches):
    [experiment_id] = launches.ids["succeed"]

    record = launches.tracker.get(experiment_id)
    losses = launches.tracker.metric_history(experiment_id, "loss")
    assert record.status == "completed"
    assert record.source == "nemo_run"
    assert record.project == "demo"
    assert launches.before <= record.started_at.timestamp()
    assert record.started_at <= record.ended_at
    assert record.ended_at.timestamp() <= launches.after
    assert record.metrics == {"loss": pytest.approx(1 / 3), "lr": 0.1}
    assert [point.step for point in losses] == [0, 1, 2]
    assert record.config == {"steps": 3, "lr": 0.1}
    assert record.custom["nemo_task_states"] == {"train": "SUCCEEDED"}
    assert record.custom["nemo_executors"] == ["LocalExecutor"]
    assert kinds(launches.tracker, experiment_id) == ["created", "completed"]


def test_tracked_task_fails_with_log(launches):
    [experiment_id] = launches.ids["fail"]

    record = launches.tracker.get(experiment_id)
    log_file = Path(record.reason.split("log: ", 1)[1].rstrip("."))
    assert record.status == "failed"
    assert "Task `train` failed" in record.reason
    assert "RuntimeError: diverged after 2 steps" in record.reason
    assert log_file.is_file()
    assert log_file.is_relative_to(launches.launcher.home)
    assert record.metrics["loss"] == 0.5
    assert record.started_at <= record.ended_at
    assert kinds(launches.tracker, experiment_id) == ["created", "failed"]


def test_tracked_two_tasks_complete(launches):
    [experiment_id] = launches.ids["two"]

    record = launches.tracker.get(experiment_id)
    assert record.status == "completed"
    assert record.metrics == {"loss": 0.5, "lr": 0.5, "accuracy": 0.75}
    assert record.config == {"train": {"steps": 2, "lr": 0.5}, "evaluate": {"args": []}}
    assert {t["name"] for t in record.custom["nemo_tasks"]} == {"train", "evaluate"}
    assert record.custom["nemo_task_states"] == {
        "train": "SUCCEEDED",
        "evaluate": "SUCCEEDED",
    }


@pytest.mark.postgres
def test_tracked_tasks_on_postgresql(tmp_path, postgres_url):
    [experiment_id] = Launcher(tmp_path, postgres_url).run("evaluate")

    tracker = Tracker(postgres_url)
    record = tracker.get(experiment_id)
    tracker.close()
    assert record.status == "completed"
    assert record.metrics == {"accuracy": 0.75}


def test_tracked_cancelled_task_cancels(launches):
    [experiment_id] = launches.ids["cancel"]

    record = launches.tracker.get(experiment_id)
    assert record.status == "cancelled"
    assert record.reason == "NeMo Run task `hold` was cancelled."
    assert record.custom["nemo_task_states"] == {
        "hold": "CANCELLED",
        "quick": "SUCCEEDED",
    }


def test_tracked_block_errors_end_experiment(launches):
    raised_id, never_run_id = launches.ids["errors"]

    raised = launches.tracker.get(raised_id)
    never_run = launches.tracker.get(never_run_id)
    assert raised.status == "failed"
    assert raised.reason == "KeyError: 'no such sweep'"
    assert never_run.status == "cancelled"
    assert "was never launched" in never_run.reason


def test_plugin_adds_task_variables():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import nemo_run as run

        from tracker.nemo.plugin import ExpbotPlugin
    executor = run.LocalExecutor()
    environment = {
        "EXPBOT_EXPERIMENT_ID": "3f2a9c00-0000-4000-8000-000000000000",
        "EXPBOT_DATABASE_URL": "sqlite:////tmp/expbot.db",
    }

    ExpbotPlugin(environment=environment).setup(run.Script(inline="true"), executor)

    assert executor.env_vars == environment


# -- sync ------------------------------------------------------------------


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def held_state(jobs_file: Path) -> str:
    """Return the `hold` task's state in NeMo Run's local jobs file."""
    try:
        jobs = json.loads(jobs_file.read_text())
    except (OSError, ValueError):
        return ""
    states = [state for key, (state, *_) in jobs.items() if key.startswith("hold-")]
    return states[0] if states else ""


def kill_launcher_mid_task(launcher: Launcher, base: Path) -> tuple[str, int]:
    """Launch a tracked task, SIGKILL its launcher, and let the task end.

    NeMo Run then reports the task RUNNING forever. Returns the expbot id
    and the dead launcher's pid.
    """
    marker, release = base / "held-started", base / "held-release"
    process = subprocess.Popen(
        launcher.command("hold", str(marker), str(release)),
        env=launcher.env,
        cwd=launcher.script.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jobs_file = launcher.home / ".local_jobs.json"
    try:
        wait_for(marker.exists, 60, "the held task to start")
        # The launcher records RUNNING at its first poll, 2 s after launch.
        wait_for(lambda: held_state(jobs_file) == "RUNNING", 60, "RUNNING")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    task_pid = int(marker.read_text())
    release.touch()
    wait_for(lambda: not process_alive(task_pid), 30, "the held task to exit")

    tracker = Tracker(launcher.database_url)
    [record] = tracker.search("held")
    tracker.close()
    return record.id, process.pid


def write_broken_experiments(home: Path) -> list[str]:
    half = home / "experiments" / "half" / "half_1796000000000000000"
    half.mkdir(parents=True)
    (half / "_CONFIG").write_text("eJwDAAAAAAE=")
    corrupt = home / "experiments" / "corrupt" / "corrupt_1796000000000000001"
    corrupt.mkdir(parents=True)
    (corrupt / "_CONFIG").write_text("eJwDAAAAAAE=")
    (corrupt / "_TASKS").write_text("[[")
    return [half.name, corrupt.name]


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """Sync a NEMORUN_HOME with finished, failed, broken and stale experiments."""
    base = tmp_path_factory.mktemp("nemo_sync")
    launcher = Launcher(base, f"sqlite:///{base / 'expbot.db'}")
    plain = launcher.start("plain")
    stale_id, launcher_pid = kill_launcher_mid_task(launcher, base)
    launcher.wait(plain)
    broken = write_broken_experiments(launcher.home)

    tracker = Tracker(launcher.database_url)
    handler = ListHandler()
    logging.getLogger("tracker.nemo.sync").addHandler(handler)
    root_before = list(logging.getLogger().handlers)
    try:
        result = sync(tracker, launcher.home)
    finally:
        logging.getLogger("tracker.nemo.sync").removeHandler(handler)
    yield SimpleNamespace(
        tracker=tracker,
        launcher=launcher,
        result=result,
        stale_id=stale_id,
        launcher_pid=launcher_pid,
        broken=broken,
        warnings=handler.messages,
        root_before=root_before,
        root_after=list(logging.getLogger().handlers),
    )
    tracker.close()


def imported(synced, title):
    [record] = synced.tracker.search(f'"{title}" source:nemo_run')
    return record


def test_sync_imports_finished_experiment(synced):
    record = imported(synced, "plain-ok")
    nemo_id = record.custom["nemo_experiment_id"]
    launched_ns = int(nemo_id.rpartition("_")[2])

    assert nemo_id in synced.result.imported
    assert nemo_id in synced.result.finished
    assert record.status == "completed"
    assert record.custom["nemo_imported"] is True
    assert record.config == {"fail": False}
    assert record.started_at.timestamp() == pytest.approx(launched_ns / 1e9, abs=1e-3)
    assert record.reproducibility == {}
    assert kinds(synced.tracker, record.id) == ["created", "completed"]


def test_sync_imports_failed_experiment(synced):
    record = imported(synced, "plain-fail")

    assert record.status == "failed"
    assert "Task `plain-fail-task` failed" in record.reason
    assert "(plain task failed)" in record.reason
    assert "combined.log" in record.reason


def test_sync_skips_broken_directories(synced):
    assert sorted(synced.result.skipped) == sorted(synced.broken)
    for name in synced.broken:
        assert any(name in message for message in synced.warnings)


def test_sync_flags_stale_launch(synced):
    record = synced.tracker.get(synced.stale_id)
    stale = record.custom["nemo_stale"]

    assert record.custom["nemo_experiment_id"] in synced.result.stale
    assert record.status == "running"
    assert f"process {synced.launcher_pid}" in stale
    assert record.custom["nemo_tasks"][0]["target"].endswith("hold.sh")
    # The frozen state is whatever NeMo Run saved before the launcher died:
    # RUNNING after its first poll, SUBMITTED or PENDING if the kill came
    # first. One CI run read SUBMITTED while the jobs file contained RUNNING.
    assert set(record.custom["nemo_task_states"]) == {"hold"}
    assert record.custom["nemo_task_states"]["hold"] in {
        "RUNNING",
        "SUBMITTED",
        "PENDING",
    }
    assert [note.text for note in record.notes] == [stale]
    assert record.notes[0].author == "nemo-sync"


def test_sync_keeps_root_logging(synced):
    assert synced.root_after == synced.root_before


def test_sync_command_again_changes_nothing(synced, capsys):
    parser = argparse.ArgumentParser(prog="expbot")
    register_cli(parser.add_subparsers(dest="command"))
    home = str(synced.launcher.home)
    args = parser.parse_args(["nemo", "sync", "--home", home, "--json"])
    events_before = len(synced.tracker.events(limit=1000))

    status = args.handler(synced.tracker, args)

    output = json.loads(capsys.readouterr().out)
    assert status == 0
    assert output["home"] == home
    assert output["imported"] == []
    assert output["finished"] == []
    assert output["stale"] == []
    assert output["unchanged"] == 3
    assert sorted(output["skipped"]) == sorted(synced.broken)
    assert len(synced.tracker.events(limit=1000)) == events_before
