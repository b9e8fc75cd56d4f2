# The Meter's service protocol (runtime.service): calls, due instants, advance cut at them.
import asyncio

import hw
from runtime import meter as meter_mod
from runtime.service import Service

START = 86400 * 365


class Recorder(Service):
    """Asks for a tick every `period` seconds (aligned) and records every call."""

    def __init__(self, period):
        self.period = period
        self.calls = []
        self.due = None

    def power_on(self, now_s):
        self.calls.append(("power_on", now_s))
        self.due = (now_s // self.period + 1) * self.period

    def next_due(self, now_s):
        return self.due

    def tick(self, now_s):
        self.calls.append(("tick", now_s))
        self.due = (now_s // self.period + 1) * self.period

    def save(self):
        self.calls.append(("save",))

    def power_off(self, now_s, hard):
        self.calls.append(("power_off", now_s, hard))

    def clock_set(self, old_s, new_s):
        self.calls.append(("clock_set", old_s, new_s))
        self.due = (new_s // self.period + 1) * self.period


def _meter(*services):
    board = hw.Board("me382", {"start": START + 7, "state_dir": None, "realtime": False})
    board.afe.configure(None, u=230.0, i=5.0, phi=0.0)
    m = meter_mod.Meter(board, {"model": "me382"})
    for s in services:
        m.services.append(s)
    return m


def _ticks(s):
    return [c[1] for c in s.calls if c[0] == "tick"]


def _check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_advance_stops_exactly_at_every_due_instant():
    a, b = Recorder(900), Recorder(3600)

    async def run():
        m = _meter(a, b)
        m.power_on_sync()
        await m.advance(2 * 3600)
        m.power_off()
    asyncio.run(run())
    _check(a.calls[0] == ("power_on", START + 7), a.calls[:2])
    # The sampling task measures between analytic steps: meter time may run a little further.
    end = a.calls[-1][1]
    _check(a.calls[-1] == ("power_off", end, False) and 0 <= end - START - 7207 < 60, a.calls[-1])
    _check(_ticks(a) == [START + 900 * k for k in range(1, 9)], _ticks(a))
    _check(_ticks(b) == [START + 3600, START + 7200], _ticks(b))
    # The power-fail save reaches the services before the power-off call.
    _check(a.calls[-2] == ("save",), a.calls[-2])


def test_measured_windows_tick_due_services_and_periodic_saves_reach_them():
    a = Recorder(60)

    async def run():
        m = _meter(a)
        m.power_on_sync()
        await m.run_until_stopped(400)
    asyncio.run(run())
    ticks = _ticks(a)
    # A tick comes with the first block at or after each minute (blocks of 100 ms here); the
    # run ends some blocks after its 400 s (it checks every 10 ms of wall time).
    _check(len(ticks) >= 6 and ticks == [START + 60 * k for k in range(1, len(ticks) + 1)], ticks)
    _check(("save",) in a.calls[:a.calls.index(("tick", START + 360))], a.calls)


def test_hard_cut_clock_set_and_notify():
    a = Recorder(900)
    heard = []

    async def run():
        m = _meter(a)
        m.listen("billing", heard.append)
        m.power_on_sync()
        m.set_time(START + 5000)
        await m.advance(1000)
        m.notify("billing", 42)
        m.power_off(hard=True)
    asyncio.run(run())
    _check(("clock_set", START + 7, START + 5000) in a.calls, a.calls)
    _check(_ticks(a) == [START + 5400], _ticks(a))
    end = a.calls[-1][1]
    _check(a.calls[-1] == ("power_off", end, True) and 0 <= end - START - 6000 < 60, a.calls[-1])
    # Periodic saves at 5400 and 6000 (300 s apart at least); none for the hard cut.
    saves = len([c for c in a.calls if c == ("save",)])
    _check(saves == 2, a.calls)
    _check(heard == [42], heard)


def test_raise_event_goes_through_the_meter_event_path():
    m = _meter()
    _check(m.raise_event(1) == "standard", "log")
    _check(m.events.last_code("standard") == 1, "last code")
