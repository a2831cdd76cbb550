"""Launch a NeMo Run experiment and record it as an expbot experiment."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nemo_run as run

from tracker.api import Tracker
from tracker.errors import ExpbotError
from tracker.nemo.layout import BrokenExperiment, read_experiment
from tracker.nemo.plugin import ExpbotPlugin
from tracker.nemo.records import finish, task_states
from tracker.nemo.states import Outcome, TaskStatus, end_time, outcome
from tracker.nemo.task import task_database_url, task_environment

logger = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 5.0
# Consecutive polls with every unfinished task UNKNOWN before expbot stops
# waiting. torchx reports UNKNOWN for a brief scheduler hiccup and also for a
# task whose status can no longer be read.
MAX_UNKNOWN_POLLS = 3


class TrackedExperiment:
    """A `run.Experiment` whose tasks report to one expbot experiment.

    `add` attaches `ExpbotPlugin` to every task, `run` records the tasks,
    and any other attribute (`status`, `logs`, `cancel`, ...) is the NeMo
    Run experiment's own. `nemo` is the `run.Experiment` itself; tasks
    added through it directly get no plugin.
    """

    def __init__(
        self,
        nemo: run.Experiment,
        tracker: Tracker,
        experiment_id: str,
        *,
        keep_config: bool,
    ) -> None:
        self.nemo = nemo
        self.tracker = tracker
        self.experiment_id = experiment_id
        self.environment = task_environment(tracker, experiment_id)
        self.plugin = ExpbotPlugin(environment=self.environment)
        self.launched = False
        self._keep_config = keep_config

    def __getattr__(self, name: str) -> Any:
        return getattr(self.nemo, name)

    @property
    def nemo_id(self) -> str:
        # NeMo Run 0.11.1 has no public accessor for the id or directory.
        return str(self.nemo._id)

    @property
    def directory(self) -> Path:
        return Path(self.nemo._exp_dir)

    def add(
        self,
        task: run.Partial | run.Script | list[run.Partial | run.Script],
        executor: run.Executor | list[run.Executor] | None = None,
        name: str = "",
        plugins: Iterable[run.Plugin] | None = None,
        **options: Any,
    ) -> str:
        """Add a task as `run.Experiment.add` does, with the expbot plugin."""
        all_plugins = [*(plugins or []), self.plugin]
        job_id: str = self.nemo.add(
            task, executor=executor, name=name, plugins=all_plugins, **options
        )
        return job_id

    def run(self, **options: Any) -> None:
        """Launch the tasks as `run.Experiment.run` does, then record them.

        With `direct=True` the tasks run in this process, so the expbot
        variables are set in this process's environment while they run.
        """
        self._record_jobs()
        if options.get("direct"):
            with _environment(self.environment):
                self.nemo.run(**options)
        else:
            self.nemo.run(**options)
        self.launched = True
        self._record_tasks()

    def task_statuses(self) -> list[TaskStatus]:
        statuses = self.nemo.status(return_dict=True) or {}
        return [TaskStatus.from_nemo(name, info) for name, info in statuses.items()]

    def wait_for_tasks(self, poll_interval: float) -> list[TaskStatus]:
        """Poll task states until every task is final (or stuck in UNKNOWN).

        NOTE: only run against the local executor. For detached remote
        executors this relies on `status()` still working after NeMo Run's
        `with` block has exited, which its source suggests but no test shows.
        """
        unknown_polls = 0
        previous: dict[str, str] = {}
        while True:
            tasks = self.task_statuses()
            states = task_states(tasks)
            if states != previous:
                logger.info("NeMo Run experiment %s: %s", self.nemo_id, states)
                previous = states
            if all(task.finished for task in tasks):
                return tasks
            if all(task.finished or task.state == "UNKNOWN" for task in tasks):
                unknown_polls += 1
                if unknown_polls >= MAX_UNKNOWN_POLLS:
                    return tasks
            else:
                unknown_polls = 0
            time.sleep(poll_interval)

    def finish(self, *, follow: bool, poll_interval: float) -> None:
        """Record the tasks' final states and end the expbot experiment."""
        if not self.launched:
            reason = (
                f"NeMo Run experiment {self.nemo_id} was never launched (no exp.run())."
            )
            finish(
                self.tracker,
                self.experiment_id,
                Outcome("cancelled", reason),
                self.tracker.clock(),
            )
            return

        if follow:
            tasks = self.wait_for_tasks(poll_interval)
        else:
            tasks = self.task_statuses()
        custom = {"nemo_task_states": task_states(tasks)}
        self.tracker.update(self.experiment_id, custom=custom)
        result = outcome(tasks)
        if result is None:
            logger.info(
                "NeMo Run experiment %s is still running; `expbot nemo sync` "
                "will record its end",
                self.nemo_id,
            )
            return
        finish(
            self.tracker,
            self.experiment_id,
            result,
            end_time(tasks, self.tracker.clock()),
        )

    def _record_jobs(self) -> None:
        """Record task names and executors before launch; a sequential run blocks."""
        tasks = []
        for job in self.nemo.jobs:
            executor = getattr(job, "executor", None) or getattr(job, "executors", None)
            if isinstance(executor, list):
                executor = executor[0] if executor else None
            tasks.append({"name": job.id, "executor": type(executor).__name__})
        executors = sorted({task["executor"] for task in tasks})
        custom = {"nemo_tasks": tasks, "nemo_executors": executors}
        self.tracker.update(self.experiment_id, custom=custom)

    def _record_tasks(self) -> None:
        try:
            found = read_experiment(self.directory)
        except BrokenExperiment as exc:
            logger.warning("could not record the tasks: %s", exc)
            return
        config = None if self._keep_config else found.config_summary()
        self.tracker.update(
            self.experiment_id, config=config, custom=found.custom_fields()
        )


@contextmanager
def tracked_experiment(
    title: str,
    *,
    tracker: Tracker | None = None,
    executor: run.Executor | None = None,
    description: str = "",
    team: str | None = None,
    project: str = "",
    researcher: str | None = None,
    tags: Iterable[str] = (),
    config: Mapping[str, Any] | None = None,
    poll_interval: float = DEFAULT_POLL_SECONDS,
    follow: bool = True,
    **experiment_options: Any,
) -> Iterator[TrackedExperiment]:
    """Open a `run.Experiment` recorded as an expbot experiment (source nemo_run).

    Use it where `with run.Experiment(title, executor=...) as exp:` would
    go; other keyword arguments (`log_level`, `base_dir`, ...) go to
    `run.Experiment`. When the block ends, NeMo Run waits for local tasks
    and, with `follow`, expbot polls every `poll_interval` seconds until
    all tasks end: any failed task fails the experiment, else any
    cancelled task cancels it, else it is completed. An exception in the
    block fails it, Ctrl-C cancels it. Without `config` the tasks'
    arguments become the experiment's config.
    """
    owned = tracker is None
    tracker = tracker or Tracker()
    task_database_url(tracker)  # reject an unshareable database before recording
    nemo = run.Experiment(title, executor=executor, **experiment_options)
    # The NeMo Run id is recorded at once, so a concurrent `expbot nemo sync`
    # never imports this experiment a second time.
    record = tracker.track(
        title,
        description=description,
        config=config or {},
        tags=tags,
        team=team,
        project=project,
        researcher=researcher,
        source="nemo_run",
        custom={
            "nemo_experiment_id": str(nemo._id),
            "nemo_title": title,
            "nemo_directory": str(nemo._exp_dir),
        },
    )
    try:
        tracked = TrackedExperiment(
            nemo, tracker, record.id, keep_config=config is not None
        )
        with nemo:
            yield tracked
        tracked.finish(follow=follow, poll_interval=poll_interval)
    except KeyboardInterrupt:
        _end_after_error(
            tracker, record.id, Outcome("cancelled", "interrupted (Ctrl-C)")
        )
        raise
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}"
        _end_after_error(tracker, record.id, Outcome("failed", reason))
        raise
    finally:
        if owned:
            tracker.close()


def _end_after_error(tracker: Tracker, experiment_id: str, result: Outcome) -> None:
    """End the experiment without hiding the exception being handled."""
    try:
        finish(tracker, experiment_id, result, tracker.clock())
    except ExpbotError:
        logger.exception("could not record the end of experiment %s", experiment_id)


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
