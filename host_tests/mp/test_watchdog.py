# Watchdog (runtime.watchdog, boards/host/sim_wdt.py) under MicroPython: the feeding task on
# asyncio.sleep_ms, a blocking stall resetting the meter through sim_wdt.supervise (time.ticks_ms),
# the counter, event 15 and error register bit 12 after the reset, kept across a power cycle.
import asyncio
import gc
import time

import hw
import sim_wdt
from runtime import error_service as es
from runtime import meter as meter_mod
from runtime import watchdog as wd

START = 836481600   # 2026-07-04 12:00 UTC


def _check(cond, what):
    if not cond:
        raise AssertionError(what)


def _service(m, cls):
    for s in m.services:
        if isinstance(s, cls):
            return s


async def _until(cond, steps=300, ms=10):
    # Bounded wait for something the scheduler has to do.
    for _ in range(steps):
        if cond():
            return True
        await asyncio.sleep_ms(ms)
    return cond()


def _boot(board, codes):
    m = meter_mod.Meter(board, {"model": "me382", "watchdog_ms": 1000})
    raise_event = m.events.raise_event

    def recorded(code, t_s, log_key=None):
        codes.append(code)
        return raise_event(code, t_s, log_key)
    m.events.raise_event = recorded
    m.power_on_sync()
    return m


def test_stall_resets_and_counts():
    meter_mod.current = None
    gc.collect()
    board = hw.Board("me382", {"start": START, "state_dir": None, "realtime": False})
    codes = []

    async def main():
        m = _boot(board, codes)
        sup = asyncio.create_task(sim_wdt.supervise(m, 10))
        try:
            wdt = board.wdt
            _check(await _until(lambda: wdt.feeds >= 2), "fed every 250 ms")
            time.sleep_ms(50)
            _check(not wdt.expired(), "a 50 ms stall is within the timeout")
            time.sleep_ms(1500)
            _check(wdt.expired(), "a 1500 ms stall is not")
            svc = _service(m, wd.Watchdog)
            _check(await _until(lambda: svc.count == 1), "reset and counted")
            _check(codes.count(15) == 1, codes)
            _check(board.reset_cause() == sim_wdt.WATCHDOG and m.powered, "booted again")
            errs = _service(m, es.ErrorService)
            _check(errs.idis & es.WATCHDOG and errs.ie & es.IE_WATCHDOG, (errs.idis, errs.ie))
            _check(m.events.alarm[0] & (1 << 12), m.events.alarm)
        finally:
            sup.cancel()
            board.cut_power()
            m.power_off(hard=True)
        # A normal boot on a new Meter: the counter is kept, nothing raised.
        board.restore_power(0)
        del codes[:]
        m = _boot(board, codes)
        _check(_service(m, wd.Watchdog).count == 1 and 15 not in codes, codes)
        m.power_off(hard=True)

    asyncio.run(main())
