"""Supply supervision of the host board: an ok flag, the power-fail event and the relay coil
supply (the reservoir that powers a disconnector coil pulse)."""
import asyncio

COIL_MV = 12000     # nominal coil supply


class Power:
    """`ok()` is the supply state; `fail` is set when the supply goes down (control channel);
    `coil_mv()` the coil supply, settable with `set_coil_mv` to simulate a weak supply."""

    def __init__(self):
        self.fail = asyncio.Event()
        self._ok = True
        self._coil_mv = COIL_MV

    def ok(self):
        """True while the supply is present."""
        return self._ok

    def coil_mv(self):
        """Voltage available for a relay coil pulse (mV); 0 while the supply is down."""
        return self._coil_mv if self._ok else 0

    def set_coil_mv(self, mv):
        """Simulate the coil supply at `mv` (0..30000); ValueError otherwise."""
        if not isinstance(mv, int) or isinstance(mv, bool) or not 0 <= mv <= 30000:
            raise ValueError("coil supply must be an integer 0..30000 mV")
        self._coil_mv = mv

    def cut(self):
        """The supply goes down: raise the power-fail signal."""
        self._ok = False
        self.fail.set()

    def restore(self):
        """The supply comes back: the signal is cleared."""
        self._ok = True
        self.fail.clear()
