"""Latching (bistable) relay with a set coil and a reset coil, pulsed through an H-bridge.

A coil pulse moves the contact, which then stays put without current. The two coils are never
energised together: the other coil is driven low first and one lock serialises all pulses.
An optional auxiliary contact (`aux_pin`, reading `aux_closed` when the main contact is closed)
lets the driver (runtime.relay) check that the contact really moved.
"""
import asyncio

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

PULSE_MS = const(30)      # typical set/reset pulse of a 60..100 A latching meter relay
_PULSE_MAX_MS = const(1000)


async def _sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


class LatchingRelay:
    """Relay on `set_pin` (closes) and `reset_pin` (opens); pins need `value(v)`.

    `closed`: True/False after a completed pulse, None while unknown (before the first pulse,
    during a pulse, or after an interrupted one). Pass the remembered state as `closed` and a
    callable `on_change(closed)` to persist it. Every close()/open() pulses, even if the state
    already matches: a contact moved by shock is put back and the pulse costs little.
    """

    def __init__(self, set_pin, reset_pin, pulse_ms=PULSE_MS, closed=None, on_change=None,
                 sleep_ms=None, aux_pin=None, aux_closed=1):
        if not isinstance(pulse_ms, int) or not 1 <= pulse_ms <= _PULSE_MAX_MS:
            raise ValueError("pulse_ms must be an integer 1..%d, got %r"
                             % (_PULSE_MAX_MS, pulse_ms))
        self._set = set_pin
        self._reset = reset_pin
        set_pin.value(0)
        reset_pin.value(0)
        self.pulse_ms = pulse_ms
        self.closed = closed
        self.pulses = 0
        self._on_change = on_change
        self._aux = aux_pin
        self._aux_closed = aux_closed
        self._sleep = sleep_ms or getattr(asyncio, "sleep_ms", None) or _sleep_ms
        self._lock = asyncio.Lock()

    async def close(self):
        """Pulse the set coil: the load is connected."""
        await self._pulse(self._set, self._reset, True)

    async def open(self):
        """Pulse the reset coil: the load is disconnected."""
        await self._pulse(self._reset, self._set, False)

    def feedback(self):
        """The auxiliary contact: True closed, False open, None without an auxiliary contact."""
        if self._aux is None:
            return None
        return self._aux.value() == self._aux_closed

    async def _pulse(self, coil, other, closed):
        async with self._lock:
            other.value(0)
            self.closed = None
            coil.value(1)
            try:
                await self._sleep(self.pulse_ms)
            finally:
                coil.value(0)
            self.closed = closed
            self.pulses += 1
            if self._on_change is not None:
                self._on_change(closed)
