"""Supply supervision of the host board: an ok flag and the power-fail event."""
import asyncio


class Power:
    """`ok()` is the supply state; `fail` is set when the supply goes down (by the control channel)."""

    def __init__(self):
        self.fail = asyncio.Event()
        self._ok = True

    def ok(self):
        """True while the supply is present."""
        return self._ok

    def cut(self):
        """The supply goes down: raise the power-fail signal."""
        self._ok = False
        self.fail.set()

    def restore(self):
        """The supply comes back: the signal is cleared."""
        self._ok = True
        self.fail.clear()
