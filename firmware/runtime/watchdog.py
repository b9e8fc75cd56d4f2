"""Watchdog and watchdog counter (application spec 14, "Watchdog counter"; docs/power_quality.md).

Feeding: at power-up the service starts the board's hardware watchdog (`board.watchdog(ms)`,
optional: absent or None where the board has none) and feeds it from an asyncio task every quarter
of the timeout. The task runs in the one cooperative scheduler with every other task, so a task
that blocks stops the feeding and the watchdog resets the MCU: that is what it is for. The feeding
stops with the power-fail path, like every task of the Meter.

Counting: at power-up the board says why the MCU started (`board.reset_cause()`, optional: a board
without it had a normal power-on). After a watchdog reset the watchdog counter (0-0:128.15.0,
double-long-unsigned, saturating) counts it in the NV record "watchdog", event 15 "watchdog error"
goes through the one event path (standard event log, alarm register 1 bit 12, push on alarm) and
`meter.notify("watchdog")` makes the error service latch error register bit 12.
"""
import asyncio
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from runtime import log
from runtime.service import Service

try:
    _sleep_ms = asyncio.sleep_ms
except AttributeError:     # CPython
    async def _sleep_ms(ms):
        await asyncio.sleep(ms / 1000)

KEY = "watchdog"
_FORMAT = "<I"
_COUNT_MAX = const(0xFFFFFFFF)

# Reset causes a board's reset_cause() reports.
POWER_ON = const(0)     # power-on, or any reset that is not the watchdog's
WATCHDOG = const(1)

# Default timeout: a wide margin over any step a task should take without yielding, below the
# STM32 independent watchdog's 32 s maximum, short enough that a hung meter misses little
# measurement. Meter option "watchdog_ms" (--watchdog-ms on the host) replaces it.
TIMEOUT_MS = const(8000)
EVENT_WATCHDOG = const(15)


class Watchdog(Service):
    """The watchdog feeding and the watchdog counter of one Meter."""

    def __init__(self, meter):
        self.meter = meter
        self.timeout_ms = meter.opts.get("watchdog_ms", TIMEOUT_MS)
        self.count = 0
        self._task = None

    def bind(self, sources):
        sources.getters["watchdog.count"] = lambda: self.count

    def power_on(self, now_s):
        self.count = self._load()
        cause = getattr(self.meter.board, "reset_cause", None)
        if cause is not None and cause() == WATCHDOG:
            self._count_reset()
        self._start()

    def power_off(self, now_s, hard):
        if self._task is not None:
            self._task.cancel()
            self._task = None

    # -- watchdog reset ----------------------------------------------------------------------

    def _count_reset(self):
        # Counted first: a cut right after still leaves the reset counted.
        self.count = min(self.count + 1, _COUNT_MAX)
        log.error("watchdog reset (%d so far)", self.count)
        try:
            self.meter.store.write(KEY, struct.pack(_FORMAT, self.count))
        except OSError:
            pass    # counted by the store: the error service latches its NV write error
        self.meter.raise_event(EVENT_WATCHDOG)
        self.meter.notify("watchdog")

    def _load(self):
        raw = self.meter.store.read(KEY)
        if raw is None:
            return 0
        if len(raw) != struct.calcsize(_FORMAT):
            log.error("watchdog record unusable (%d octets): counter starts at 0", len(raw))
            return 0
        return struct.unpack(_FORMAT, raw)[0]

    # -- feeding -----------------------------------------------------------------------------

    def _start(self):
        start = getattr(self.meter.board, "watchdog", None)
        wdt = start(self.timeout_ms) if start is not None else None
        if wdt is None:
            return
        run = self._feed(wdt, self.timeout_ms // 4)
        try:
            self._task = asyncio.create_task(run)
        except RuntimeError as e:  # no event loop running (a meter driven without its tasks)
            run.close()
            log.warning("watchdog not fed: %s", e)

    async def _feed(self, wdt, period_ms):
        while True:
            wdt.feed()
            await _sleep_ms(period_ms)


def make(meter):
    """The watchdog service of `meter`."""
    return Watchdog(meter)
