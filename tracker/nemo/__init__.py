"""expbot's NeMo Run integration.

    from tracker.nemo import tracked_experiment, current

`tracked_experiment` launches a `run.Experiment` whose tasks report to one
expbot experiment, `current()` is that experiment inside a task, and
`sync` imports experiments found under NEMORUN_HOME. Importing this
package does not import nemo_run (which takes 1-2 s); the names that need
it load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from tracker.nemo.task import current

__all__ = [
    "ExpbotPlugin",
    "SyncResult",
    "TrackedExperiment",
    "current",
    "scheduled_sync",
    "sync",
    "tracked_experiment",
]

_LAZY = {
    "ExpbotPlugin": "tracker.nemo.plugin",
    "TrackedExperiment": "tracker.nemo.experiment",
    "tracked_experiment": "tracker.nemo.experiment",
    "SyncResult": "tracker.nemo.sync",
    "scheduled_sync": "tracker.nemo.sync",
    "sync": "tracker.nemo.sync",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracker.nemo' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
