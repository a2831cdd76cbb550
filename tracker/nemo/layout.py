"""Read NeMo Run experiment directories without importing nemo_run.

NeMo Run 0.11.1 keeps each experiment in
`$NEMORUN_HOME/experiments/<title>/<title>_<time_ns>/`. `_CONFIG` (the
experiment) and `_VERSION` are written first, `_TASKS` (a JSON list of the
serialized jobs) after every task is packaged, and `_DONE` when the
launching `with` block exits. Each task has `<task>/configs/` with
`<task>_config.yaml` (the function or script and its arguments) and
`<task>_executor.yaml` (the executor, including `env_vars`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tracker.configs import ConfigLoader
from tracker.errors import ExpbotError
from tracker.nemo.task import LAUNCHER_HOST_VAR, LAUNCHER_PID_VAR

CONFIG_FILE = "_CONFIG"
TASKS_FILE = "_TASKS"
DONE_FILE = "_DONE"
MAX_SCRIPT_CHARS = 200


class BrokenExperiment(ExpbotError):
    """An experiment directory that is half-written or unreadable."""


@dataclass(frozen=True)
class TaskInfo:
    """A task's name, executor, function and arguments, from its saved configs."""

    name: str
    executor: str = "unknown"
    target: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    launcher_host: str = ""
    launcher_pid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "executor": self.executor, "target": self.target}


@dataclass(frozen=True)
class ExperimentDir:
    """One NeMo Run experiment as found on disk."""

    id: str
    title: str
    path: Path
    started_at: dt.datetime
    tasks: tuple[TaskInfo, ...]
    done: bool

    def config_summary(self) -> dict[str, Any]:
        """Return the tasks' arguments: flat for one task, by task name for several."""
        if len(self.tasks) == 1:
            return dict(self.tasks[0].arguments)
        return {task.name: dict(task.arguments) for task in self.tasks}

    def custom_fields(self) -> dict[str, Any]:
        return {
            "nemo_experiment_id": self.id,
            "nemo_title": self.title,
            "nemo_directory": str(self.path),
            "nemo_tasks": [task.to_dict() for task in self.tasks],
            "nemo_executors": sorted({task.executor for task in self.tasks}),
        }


def nemo_home(home: str | os.PathLike[str] | None = None) -> Path:
    """Return `home`, else `$NEMORUN_HOME`, else `~/.nemo_run` as NeMo Run does."""
    base = home or os.environ.get("NEMORUN_HOME") or Path.home() / ".nemo_run"
    return Path(base).expanduser().resolve()


def experiments_root(home: str | os.PathLike[str] | None = None) -> Path:
    return nemo_home(home) / "experiments"


def find_experiment_dirs(home: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Yield every `<title>/<id>` directory under the experiments root."""
    root = experiments_root(home)
    if not root.is_dir():
        return
    for title_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        yield from sorted(p for p in title_dir.iterdir() if p.is_dir())


def read_experiment(path: Path) -> ExperimentDir:
    """Read one experiment directory, raising `BrokenExperiment` if unusable."""
    for required in (CONFIG_FILE, TASKS_FILE):
        if not (path / required).is_file():
            raise BrokenExperiment(
                f"NeMo Run experiment directory {path} has no {required} file; it "
                "was never fully written (a launch still starting, or one that "
                "crashed while packaging its tasks)."
            )
    try:
        jobs = json.loads((path / TASKS_FILE).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BrokenExperiment(
            f"NeMo Run experiment directory {path} has an unreadable "
            f"{TASKS_FILE} file: {exc}."
        ) from exc
    if not isinstance(jobs, list) or not jobs:
        raise BrokenExperiment(
            f"NeMo Run experiment directory {path} lists no tasks in {TASKS_FILE}."
        )

    return ExperimentDir(
        id=path.name,
        title=path.parent.name,
        path=path,
        started_at=_started_at(path),
        tasks=tuple(_read_tasks(path)),
        done=(path / DONE_FILE).exists(),
    )


def _started_at(path: Path) -> dt.datetime:
    """Read the launch time from the id suffix `_<time_ns>`, else from `_CONFIG`."""
    _, _, suffix = path.name.rpartition("_")
    if suffix.isdigit() and len(suffix) >= 18:
        return dt.datetime.fromtimestamp(int(suffix) / 1e9, dt.UTC)
    return dt.datetime.fromtimestamp((path / CONFIG_FILE).stat().st_mtime, dt.UTC)


def _read_tasks(path: Path) -> Iterator[TaskInfo]:
    for executor_file in sorted(path.glob("*/configs/*_executor.yaml")):
        name = executor_file.name.removesuffix("_executor.yaml")
        executor = _load_yaml(executor_file)
        task = _load_yaml(executor_file.with_name(f"{name}_config.yaml"))
        env = executor.get("env_vars") or {}
        pid = str(env.get(LAUNCHER_PID_VAR, ""))
        yield TaskInfo(
            name=name,
            executor=str(executor.get("_target_", "unknown")).rpartition(".")[2],
            target=_target(task),
            arguments=_arguments(task),
            launcher_host=str(env.get(LAUNCHER_HOST_VAR, "")),
            launcher_pid=int(pid) if pid.isdigit() else None,
        )


def _load_yaml(path: Path) -> dict[str, Any]:
    """Load a saved config; a missing or unparsable one reads as empty."""
    try:
        data = yaml.load(path.read_text(), Loader=ConfigLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _target(task: dict[str, Any]) -> str:
    target = str(task.get("_target_", ""))
    if target != "nemo_run.config.Script":
        return target
    script = task.get("path") or task.get("inline") or ""
    return f"script: {str(script)[:MAX_SCRIPT_CHARS]}"


def _arguments(task: dict[str, Any]) -> dict[str, Any]:
    """Return a task's arguments as JSON-safe values."""
    if task.get("_target_") == "nemo_run.config.Script":
        arguments = {"args": task.get("args") or []}
    else:
        arguments = {
            k: v for k, v in task.items() if k not in ("_target_", "_partial_")
        }
    result: dict[str, Any] = json.loads(json.dumps(arguments, default=str))
    return result
