"""Watchdog of the host board (docs/boards.md): the MCU watchdog and its reset line, simulated.

`SimWdt` is what `Board.watchdog(timeout_ms)` starts: `feed()` notes the wall-clock tick
(time.ticks_ms). The watchdog fires when no feed comes for more than the timeout: `expired()`
sees it at any time, and a feed that comes too late latches it. Once the scheduler moves again
after a stall, the feeding task may run before the checking one; the hardware would have reset
the MCU already, so the late feed must not hide the stall.

`supervise(meter)` is the reset line: a task that checks the started watchdog every CHECK_MS and,
when it fired, restarts the meter as a watchdog reset does: no save (a hard cut), an immediate
boot from NV, and `Board.reset_cause()` says WATCHDOG for that boot. It lives apart from the
Meter's tasks, which the reset cancels and restarts.
"""
import asyncio

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

try:
    from time import ticks_diff, ticks_ms
except ImportError:     # CPython
    import time

    def ticks_ms():
        return time.monotonic_ns() // 1000000

    def ticks_diff(a, b):
        return a - b

try:
    _sleep_ms = asyncio.sleep_ms
except AttributeError:  # CPython
    async def _sleep_ms(ms):
        await asyncio.sleep(ms / 1000)

# Reset causes (the values of the board contract, as runtime.watchdog reads them).
POWER_ON = const(0)
WATCHDOG = const(1)

CHECK_MS = const(50)
TIMEOUT_MAX_MS = const(60000)


class SimWdt:
    """A started watchdog of `timeout_ms`; `ticks` gives the wall-clock milliseconds."""

    def __init__(self, timeout_ms, ticks=ticks_ms):
        if not isinstance(timeout_ms, int) or not 1 <= timeout_ms <= TIMEOUT_MAX_MS:
            raise ValueError("watchdog timeout must be 1..%d ms, got %r"
                             % (TIMEOUT_MAX_MS, timeout_ms))
        self.timeout_ms = timeout_ms
        self.feeds = 0
        self._ticks = ticks
        self._last = ticks()
        self._fired = False

    def feed(self):
        """Restart the timeout (too late once it has run out: the watchdog has fired)."""
        now = self._ticks()
        if ticks_diff(now, self._last) > self.timeout_ms:
            self._fired = True
        self._last = now
        self.feeds += 1

    def expired(self):
        """True once no feed came for more than the timeout."""
        if ticks_diff(self._ticks(), self._last) > self.timeout_ms:
            self._fired = True
        return self._fired


def reset(meter):
    """The watchdog resets the MCU: the meter stops without saving and boots again at once."""
    board = meter.board
    board.cut_power()
    meter.power_off(hard=True)
    board.restore_power(0, WATCHDOG)
    meter.power_on_sync()


async def supervise(meter, check_ms=CHECK_MS):
    """Reset the meter whenever the watchdog it started has fired (runs until cancelled)."""
    board = meter.board
    while True:
        await _sleep_ms(check_ms)
        wdt = board.wdt
        if wdt is not None and wdt.expired() and meter.powered:
            reset(meter)
