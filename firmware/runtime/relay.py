"""Driver of the latching disconnector relay, board independent.

The board's relay object (boards: `board.relay`) offers `pulse_ms` (coil pulse width), `async
close()` / `async open()` (one set / reset coil pulse) and `feedback()` (the auxiliary contact:
True closed, False open, None when the relay has none). The board's power object offers `ok()`
and, where the board measures it, `coil_mv()` (the coil supply, mV).

`command(closed)` records the target in NV first, then the driver's task pulses the coil:
1. it refuses to start a pulse while the supply cannot complete one (mains lost, coil supply
   below MIN_COIL_MV): a pulse cut short could leave the contact between its positions;
2. after the pulse and SETTLE_MS it reads the auxiliary contact; a contact that did not follow
   is pulsed again with twice the width (a sluggish armature), up to RETRIES attempts;
3. when every attempt failed it raises event 68 (disconnect/reconnect failure, alarm 2 bit 31)
   and keeps the target: the next command or power-up tries again.
At power-up the relay is pulsed to the stored target, whatever it was doing when the power went,
unless its auxiliary contact already shows the target (no needless coil pulse at every boot).
"""
import asyncio
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from runtime import log

KEY = "relay"
EVENT_FAILURE = const(68)
RETRIES = const(3)
SETTLE_MS = const(20)
RETRY_MS = const(200)
MIN_COIL_MV = const(9000)
PULSE_MS = const(30)
PULSE_MAX_MS = const(1000)
_FORMAT = "<BBB"    # target, confirmed state (0 open, 1 closed, 2 unknown), failed

_UNKNOWN = const(2)


async def _sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


class RelayDriver:
    """Target, confirmed state and failure of the relay; `run()` is its task."""

    def __init__(self, relay, power, store=None, raise_event=None, pulse_ms=PULSE_MS,
                 retries=RETRIES, sleep_ms=None):
        if not isinstance(pulse_ms, int) or not 1 <= pulse_ms <= PULSE_MAX_MS:
            raise ValueError("pulse_ms must be an integer 1..%d" % PULSE_MAX_MS)
        if not isinstance(retries, int) or retries < 1:
            raise ValueError("retries must be an integer >= 1")
        self.relay = relay
        self.power = power
        self.store = store
        self.pulse_ms = pulse_ms
        self.retries = retries
        self.target = True
        self.closed = None          # confirmed contact state, None while unknown
        self.failed = False
        self.busy = False
        self.attempts = 0           # attempts of the last operation
        self._raise = raise_event
        self._sleep = sleep_ms or getattr(asyncio, "sleep_ms", None) or _sleep_ms
        self._wake = asyncio.Event()
        self._saved = None

    # -- state -----------------------------------------------------------------------------

    def restore(self, default=True):
        """Load the target from NV (or `default`); the contact state is the auxiliary
        contact's when that shows the target, else unknown until the power-up pulse."""
        raw = self.store.read(KEY) if self.store is not None else None
        target = default
        if raw is not None and len(raw) == struct.calcsize(_FORMAT) and raw[0] in (0, 1):
            target = bool(raw[0])
        elif raw is not None:
            log.error("relay record unusable: target %s", "closed" if default else "open")
        self.target = target
        self.closed = target if self.relay.feedback() == target else None
        self.failed = False
        self._saved = raw
        self._wake.set()

    def _save(self):
        if self.store is None:
            return
        st = _UNKNOWN if self.closed is None else int(self.closed)
        raw = struct.pack(_FORMAT, int(self.target), st, int(self.failed))
        if raw != self._saved:
            self.store.write(KEY, raw)
            self._saved = raw

    def command(self, closed):
        """Ask for the contact closed (True) or open (False): the target is in NV when this
        returns; the task carries it out."""
        self.target = bool(closed)
        self.failed = False
        self._save()
        self._wake.set()

    def pending(self):
        """True while the contact is not confirmed at the target (and has not failed)."""
        return not self.failed and self.closed != self.target

    def supply_ok(self):
        """True if the supply can complete a coil pulse now."""
        p = self.power
        if not p.ok():
            return False
        mv = getattr(p, "coil_mv", None)
        return mv is None or mv() >= MIN_COIL_MV

    # -- operation ---------------------------------------------------------------------------

    async def run(self):
        """The driver's task: carry out every command (cancel it at power-off)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.pending():
                await self.operate()

    async def operate(self):
        """Drive the contact to the target: True if confirmed there, False after event 68."""
        self.busy = True
        try:
            return await self._operate()
        finally:
            self.busy = False

    async def _operate(self):
        relay = self.relay
        target = self.target
        width = self.pulse_ms
        n = 0
        while True:
            if self.target != target:        # a new command: start its own attempts
                target = self.target
                width = self.pulse_ms
                n = 0
            if n >= self.retries:
                break
            n += 1
            self.attempts = n
            if not self.supply_ok():
                log.warning("relay: supply too low for a coil pulse (attempt %d)", n)
                await self._sleep(RETRY_MS)
                continue
            self.closed = None
            relay.pulse_ms = width
            if target:
                await relay.close()
            else:
                await relay.open()
            await self._sleep(SETTLE_MS)
            fb = relay.feedback()
            if fb is None or fb == target:
                self.closed = target
                if self.target == target:
                    relay.pulse_ms = self.pulse_ms
                    self._save()
                    return True
                continue
            self.closed = fb
            width = min(2 * width, PULSE_MAX_MS)
            await self._sleep(RETRY_MS)
        relay.pulse_ms = self.pulse_ms
        self.failed = True
        if self.closed is None:
            fb = relay.feedback()
            self.closed = fb
        self._save()
        log.error("relay: contact not %s after %d attempts", "closed" if target else "open", n)
        if self._raise is not None:
            self._raise(EVENT_FAILURE)
        return False

    async def settle(self):
        """Carry out what is pending now (tests and tools; the task does it otherwise)."""
        if self.pending():
            await self.operate()
