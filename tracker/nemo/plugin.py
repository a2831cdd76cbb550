"""A NeMo Run plugin that points each task at its expbot experiment."""

from __future__ import annotations

from dataclasses import dataclass, field

import nemo_run as run

from tracker.errors import InvalidInput
from tracker.nemo.task import EXPERIMENT_ID_VAR


@dataclass(kw_only=True)
class ExpbotPlugin(run.Plugin):
    """Adds the expbot experiment's variables to a task's executor.

    NeMo Run calls `setup` once per task at `exp.add`, on the executor
    that task will use, and passes `env_vars` to the task's process.
    `environment` comes from `tracker.nemo.task.task_environment`. It
    contains no password, because NeMo Run saves it in the experiment's
    directory as plain text. The plugin itself is saved there too, so
    `Experiment.from_id` must be able to import this module.
    """

    environment: dict[str, str] = field(default_factory=dict)

    def setup(self, task: run.Partial | run.Script, executor: run.Executor) -> None:
        if not self.environment.get(EXPERIMENT_ID_VAR):
            raise InvalidInput(
                f"ExpbotPlugin needs {EXPERIMENT_ID_VAR} in `environment`; build "
                "it with tracker.nemo.task.task_environment(tracker, id)."
            )
        executor.env_vars.update(self.environment)
