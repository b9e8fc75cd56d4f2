# Latching relay of the pyboard_ads131 board; runs under MicroPython and CPython.
import sys

for _p in ("host_tests", "boards/pyboard_ads131"):
    if _p not in sys.path:
        sys.path.append(_p)

import asyncio

from ads131_sim import Pin
from relay_latch import LatchingRelay


def _eq(got, want):
    if got != want:
        raise AssertionError("%r != %r" % (got, want))


class _Coils:
    """Two pins and a sleep that records the coil levels seen during each pulse."""

    def __init__(self):
        self.set = Pin(1)
        self.reset = Pin(1)
        self.seen = []

    async def sleep_ms(self, ms):
        self.seen.append((self.set.value(), self.reset.value(), ms))
        await asyncio.sleep(0)


def test_close_and_open_pulse_one_coil():
    c = _Coils()
    states = []
    r = LatchingRelay(c.set, c.reset, pulse_ms=30, on_change=states.append, sleep_ms=c.sleep_ms)
    _eq((c.set.value(), c.reset.value(), r.closed), (0, 0, None))

    async def go():
        await r.close()
        _eq((c.set.value(), c.reset.value(), r.closed), (0, 0, True))
        await r.open()
        _eq((c.set.value(), c.reset.value(), r.closed), (0, 0, False))

    asyncio.run(go())
    _eq(c.seen, [(1, 0, 30), (0, 1, 30)])
    _eq(states, [True, False])
    _eq(r.pulses, 2)


def test_concurrent_commands_never_energise_both_coils():
    c = _Coils()
    r = LatchingRelay(c.set, c.reset, pulse_ms=5, closed=False, sleep_ms=c.sleep_ms)

    async def go():
        await asyncio.gather(r.close(), r.open(), r.close(), r.open())

    asyncio.run(go())
    _eq(len(c.seen), 4)
    for s, rs, _ in c.seen:
        _eq(s + rs, 1)
    _eq(r.closed, False)


def test_interrupted_pulse_leaves_state_unknown():
    c = _Coils()
    r = LatchingRelay(c.set, c.reset, closed=False, sleep_ms=c.sleep_ms)

    async def go():
        t = asyncio.create_task(r.close())
        await asyncio.sleep(0)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            pass

    asyncio.run(go())
    _eq((c.set.value(), c.reset.value(), r.closed), (0, 0, None))


def test_real_sleep_and_pulse_width_check():
    c = _Coils()
    r = LatchingRelay(c.set, c.reset, pulse_ms=1)
    asyncio.run(r.close())
    _eq((c.set.history[-2:], r.closed), ([1, 0], True))
    for bad in (0, 1001, 2.5):
        try:
            LatchingRelay(c.set, c.reset, pulse_ms=bad)
        except ValueError:
            continue
        raise AssertionError("pulse_ms %r accepted" % (bad,))
