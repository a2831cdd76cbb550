"""Requests in flight, and the dispatcher making way for them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot import in_flight
from bot.router import SlashCommand
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.dispatcher_harness import history_slack, make_dispatcher
from tracker import Tracker


def test_idle_wait_returns_at_once() -> None:
    requests = in_flight.RequestsInFlight()

    assert requests.wait_until_idle(0) is True


def test_wait_times_out_while_busy() -> None:
    requests = in_flight.RequestsInFlight()
    requests.begin()

    assert requests.wait_until_idle(0.01) is False
    assert requests.count == 1


def test_wait_ends_when_request_ends() -> None:
    requests = in_flight.RequestsInFlight()
    requests.begin()
    ender = threading.Timer(0.05, requests.end)
    ender.start()

    assert requests.wait_until_idle(10) is True
    ender.join()
    assert requests.count == 0


def test_unmatched_end_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no request in flight"):
        in_flight.RequestsInFlight().end()


class _Recorder:
    """A stand-in for `run_command` that records the in-flight count."""

    def __init__(self, fail: bool = False) -> None:
        self.counts: list[int] = []
        self.fail = fail

    def __call__(self, *args: Any) -> None:
        self.counts.append(in_flight.REQUESTS.count)
        if self.fail:
            raise RuntimeError("command crashed")


@pytest.mark.parametrize("fail", [False, True])
def test_command_counted_until_answered(
    sqlite_tracker: Tracker, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    before = in_flight.REQUESTS.count
    recorder = _Recorder(fail)
    with ThreadPoolExecutor(1) as workers:
        command = SlashCommand(sqlite_tracker, Settings(), workers)
        monkeypatch.setattr(command, "run_command", recorder)
        command.acknowledge_command(lambda: None, {}, None, None)  # type: ignore[arg-type]

    assert recorder.counts == [before + 1]
    assert in_flight.REQUESTS.count == before


def test_dispatcher_waits_between_transactions(
    sqlite_tracker: Tracker, clock: FakeClock
) -> None:
    with history_slack() as fake:
        dispatcher = make_dispatcher(sqlite_tracker, fake, clock)
        in_flight.REQUESTS.begin()
        ender = threading.Timer(0.2, in_flight.REQUESTS.end)
        ender.start()

        dispatcher._make_way_for_requests(0)
        count_after_pause = in_flight.REQUESTS.count
        ender.join()

    assert count_after_pause == 0
