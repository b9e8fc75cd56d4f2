"""Simulated latching disconnector relay with an auxiliary (feedback) contact.

Same interface as the ARM board's relay_latch.LatchingRelay: `pulse_ms`, `async close()`,
`async open()`, `closed` (state after the last completed pulse, None during one), `pulses`,
`feedback()`. The main contact moves at the end of a coil pulse at least `need_ms` wide; a pulse
cut short (power cut, cancelled task) leaves it where it was. `on_contact(closed)` is called when
the main contact moves (the host board gates the load current with it).

Injectable faults (`fault(name, on)`):
  stuck_open       the contact never closes
  welded           the contact never opens
  slow             the armature needs SLOW_MS pulses (a single nominal pulse does not move it)
  feedback_broken  the auxiliary contact always reads open
"""
import asyncio

FAULTS = ("stuck_open", "welded", "slow", "feedback_broken")
NEED_MS = 10
SLOW_MS = 50


async def _sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


class SimRelay:
    """The relay; `contact` is the main contact (True = closed, the load is supplied)."""

    def __init__(self, contact=True, on_contact=None, pulse_ms=30, sleep_ms=None):
        self.contact = contact
        self.closed = contact
        self.pulse_ms = pulse_ms
        self.pulses = 0
        self.coil = None            # True: set coil energised, False: reset coil, None: idle
        self.faults = set()
        self.on_contact = on_contact
        self._sleep = sleep_ms or getattr(asyncio, "sleep_ms", None) or _sleep_ms

    def fault(self, name, on=True):
        """Inject (on) or clear a fault; ValueError for an unknown name."""
        if name not in FAULTS:
            raise ValueError("relay fault must be one of %s" % ", ".join(FAULTS))
        if on:
            self.faults.add(name)
        else:
            self.faults.discard(name)

    async def close(self):
        """Pulse the set coil."""
        await self._pulse(True)

    async def open(self):
        """Pulse the reset coil."""
        await self._pulse(False)

    async def _pulse(self, closed):
        self.closed = None
        self.coil = closed
        try:
            await self._sleep(self.pulse_ms)
        finally:
            self.coil = None
        self.pulses += 1
        self.closed = closed
        need = SLOW_MS if "slow" in self.faults else NEED_MS
        if self.pulse_ms < need:
            return
        if closed and "stuck_open" in self.faults or not closed and "welded" in self.faults:
            return
        self.move(closed)

    def move(self, closed):
        """Put the main contact in a position (also what a technician does by hand)."""
        if closed != self.contact:
            self.contact = closed
            if self.on_contact is not None:
                self.on_contact(closed)

    def feedback(self):
        """The auxiliary contact: True when the main contact is closed."""
        if "feedback_broken" in self.faults:
            return False
        return self.contact

    def state(self):
        """JSON-friendly state for the control channel."""
        return {"contact": self.contact, "pulses": self.pulses, "pulse_ms": self.pulse_ms,
                "faults": sorted(self.faults)}
