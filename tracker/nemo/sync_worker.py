"""Read NeMo Run task states in a child process.

Run as `python -m tracker.nemo.sync_worker --home PATH` with a JSON list of
experiment ids on stdin. The last line of stdout is one JSON object that
maps each id to `{"tasks": [...]}` or `{"error": "..."}`.

It is a separate process because `import nemo_run` takes 1-2 s and
`Experiment.from_id` replaces the root logger's handlers (it calls
`logging.basicConfig(force=True)`), which must not happen to the bot or
the CLI. NEMORUN_HOME is set before the import, because nemo_run 0.11.1
reads it at import time for the local jobs file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any

from tracker.nemo.states import TaskStatus

EXIT_NEMO_MISSING = 3


def read_statuses(experiment_ids: list[str]) -> dict[str, Any]:
    import nemo_run as run

    result: dict[str, Any] = {}
    for experiment_id in experiment_ids:
        try:
            statuses = run.Experiment.from_id(experiment_id).status(return_dict=True)
            tasks = [
                TaskStatus.from_nemo(k, v).to_dict()
                for k, v in (statuses or {}).items()
            ]
            result[experiment_id] = {"tasks": tasks}
        # One unreadable experiment (a plugin class that no longer imports,
        # a corrupt config) must not stop the others from syncing.
        except Exception as exc:
            message = str(exc).strip().splitlines()
            detail = message[0] if message else ""
            result[experiment_id] = {"error": f"{type(exc).__name__}: {detail}"}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracker.nemo.sync_worker")
    parser.add_argument("--home", required=True, help="the NEMORUN_HOME directory")
    args = parser.parse_args(argv)
    os.environ["NEMORUN_HOME"] = args.home
    experiment_ids = json.load(sys.stdin)

    output = sys.stdout
    # NeMo Run prints through rich to sys.stdout; keep stdout for the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            result = read_statuses(experiment_ids)
        except ImportError as exc:
            print(f"nemo_run cannot be imported: {exc}", file=sys.stderr)
            return EXIT_NEMO_MISSING
    output.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
