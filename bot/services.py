"""Background services that run beside the Slack listeners in `expbot serve`.

A service is a function `start(app, settings, tracker) -> Stoppable` that
starts its threads and returns at once. `SERVICES` lists them by import
path ("module:function"), so this module imports none of them until
`expbot serve` starts, and `expbot shell` never does. They stop in the
reverse order of starting.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.settings import Settings
    from tracker import Tracker

logger = logging.getLogger(__name__)


class Stoppable(Protocol):
    def stop(self) -> None:
        """Stop the service and wait briefly for work in flight."""


Starter = Callable[["App", "Settings", "Tracker"], Stoppable]

# Each entry is "module:function": the outbox dispatcher that delivers
# notifications, and the scheduler that posts scheduled reports.
SERVICES: list[str] = ["bot.dispatcher:start", "bot.scheduler:start"]


class ServiceGroup:
    """Started services, stopped together in reverse order."""

    def __init__(self, services: Sequence[tuple[str, Stoppable]] = ()) -> None:
        self.services = list(services)

    def stop(self) -> None:
        for name, service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                logger.exception("service %s did not stop cleanly", name)
            else:
                logger.info("stopped %s", name)
        self.services.clear()


def load(path: str) -> Starter:
    module_name, _, function_name = path.partition(":")
    module = importlib.import_module(module_name)
    starter: Starter = getattr(module, function_name or "start")
    return starter


def start_services(
    app: App,
    settings: Settings,
    tracker: Tracker,
    paths: Sequence[str] | None = None,
) -> ServiceGroup:
    """Start every service in `paths` (default `SERVICES`).

    If one fails to start, those already started are stopped and the
    error is raised, so `expbot serve` never runs half its services.
    """
    group = ServiceGroup()
    for path in SERVICES if paths is None else paths:
        try:
            service = load(path)(app, settings, tracker)
        except BaseException:
            group.stop()
            raise
        group.services.append((path, service))
        logger.info("started %s", path)
    return group
