"""Fraud detection as pure logic of meter time: tamper inputs (meter cover, terminal cover,
strong magnetic field) and unexpected consumption while the disconnector is open.

An input change counts once it has held for DEBOUNCE_S; its event (opened/closed, field
detected/gone) is then raised unless the same code was raised less than HOLD_OFF_S ago (the
fraud log's hold-off: a cover rattled open and shut is logged once).
Unexpected consumption: active power above UC_MIN_MW on a phase for UC_DELAY_S while the supply
is meant to be off raises event 52 once; it re-arms when the consumption stops.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

DEBOUNCE_S = const(1)
HOLD_OFF_S = const(600)
UC_MIN_MW = const(5000)
UC_DELAY_S = const(5)
EVENT_UNEXPECTED_CONSUMPTION = const(52)
EVENT_EXTERNAL_ALERT = const(20)

# input name, bit in the input state register, event when active, event when back to normal
INPUTS = (
    ("meter_cover", 0, 44, 45),
    ("terminal_cover", 1, 40, 41),
    ("magnet", 2, 42, 43),
    ("alarm", 3, EVENT_EXTERNAL_ALERT, None),
)


class Tamper:
    """Debounced state of the tamper inputs and the hold-off of their events."""

    def __init__(self):
        n = len(INPUTS)
        self.state = [False] * n    # debounced: True = cover open / field present / alert
        self._since = [None] * n
        self._last = {}             # event code -> meter second it was last raised

    def update(self, raw, now_s):
        """Feed the raw input levels (list of bools in INPUTS order) at now_s; list of event
        codes to raise now."""
        out = []
        for n in range(len(INPUTS)):
            level = bool(raw[n])
            if level == self.state[n]:
                self._since[n] = None
                continue
            since = self._since[n]
            if since is None or now_s < since:
                since = self._since[n] = now_s
            if now_s - since < DEBOUNCE_S:
                continue
            self._since[n] = None
            self.state[n] = level
            code = INPUTS[n][2] if level else INPUTS[n][3]
            if code is None:
                continue
            last = self._last.get(code)
            if last is not None and 0 <= now_s - last < HOLD_OFF_S:
                continue
            self._last[code] = now_s
            out.append(code)
        return out

    def bits(self):
        """The debounced inputs as the bits of the input state register."""
        v = 0
        for n in range(len(INPUTS)):
            if self.state[n]:
                v |= 1 << INPUTS[n][1]
        return v


class Unexpected:
    """Consumption while the supply is meant to be off."""

    def __init__(self):
        self.raised = False
        self._since = None

    def update(self, off, p_mw, now_s):
        """`off`: the disconnector is meant to be open; `p_mw`: active power per phase. True when
        event 52 is due now."""
        consuming = off and any(abs(p) > UC_MIN_MW for p in p_mw)
        if not consuming:
            self.raised = False
            self._since = None
            return False
        if self.raised:
            return False
        if self._since is None or now_s < self._since:
            self._since = now_s
        if now_s - self._since < UC_DELAY_S:
            return False
        self.raised = True
        return True
