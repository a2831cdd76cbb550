"""Run test actions in threads that start at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_together(actions: list[Callable[[], object]]) -> list[object]:
    """Run each action in its own thread after a shared barrier; return results.

    An action's exception is returned as its result, so that the test can
    assert on it.
    """
    barrier = threading.Barrier(len(actions), timeout=60)
    results: list[object] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = actions[index]()
        except Exception as exc:  # noqa: BLE001 - handed back to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), (
        "an action did not finish in 120 s"
    )
    return results
