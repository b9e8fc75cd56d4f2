"""Disconnect control (class 70) as pure logic: control state, control mode and the transitions
a..h each mode allows (Blue Book Table 82; docs/disconnect.md), plus the two-press manual
operation of the button.

States: 0 disconnected, 1 connected, 2 ready_for_reconnection.
Transitions: a remote_reconnect 0->1, b remote_disconnect 1->0, c remote_disconnect 2->0,
d remote_reconnect 0->2, e manual_reconnect 2->1, f manual_disconnect 1->2,
g local_disconnect 1->2, h local_reconnect 2->1.

An operation that has no allowed transition from the present state in the present mode is
refused and changes nothing (`step` returns None).
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

DISCONNECTED = const(0)
CONNECTED = const(1)
READY = const(2)

# Operations (what asks for a change).
REMOTE_DISCONNECT = const(0)
REMOTE_RECONNECT = const(1)
MANUAL_DISCONNECT = const(2)
MANUAL_RECONNECT = const(3)
LOCAL_DISCONNECT = const(4)
LOCAL_RECONNECT = const(5)

MODES = const(7)            # control modes 0..6
DEFAULT_MODE = const(1)

# transition -> (from state, to state)
TRANSITIONS = {
    "a": (DISCONNECTED, CONNECTED), "b": (CONNECTED, DISCONNECTED),
    "c": (READY, DISCONNECTED), "d": (DISCONNECTED, READY),
    "e": (READY, CONNECTED), "f": (CONNECTED, READY),
    "g": (CONNECTED, READY), "h": (READY, CONNECTED),
}

# operation -> transitions that can carry it out
CANDIDATES = ("bc", "ad", "f", "e", "g", "h")

# control mode -> transitions it allows (Table 82)
ALLOWED = ("", "bcfged", "bcfgae", "bcgde", "bcgae", "bcfgdeh", "bcgdeh")

# Event code logged for each transition (disconnector control log).
EVENTS = {"a": 63, "b": 62, "c": 62, "d": 59, "e": 61, "f": 60, "g": 64, "h": 69}


class Disconnect:
    """Control state and mode of one disconnect control object."""

    def __init__(self, mode=DEFAULT_MODE, state=CONNECTED):
        if not is_mode(mode) or state not in (DISCONNECTED, CONNECTED, READY):
            raise ValueError("bad disconnect control mode or state")
        self.mode = mode
        self.state = state

    def transition(self, op):
        """The transition `op` would make now, or None if the state or mode forbids it."""
        allowed = ALLOWED[self.mode]
        for t in CANDIDATES[op]:
            if t in allowed and TRANSITIONS[t][0] == self.state:
                return t
        return None

    def step(self, op):
        """Carry out `op`: the transition made, or None (refused, nothing changed)."""
        t = self.transition(op)
        if t is not None:
            self.state = TRANSITIONS[t][1]
        return t

    def set_mode(self, mode):
        """Change the control mode. ValueError (nothing changed) for a mode outside 0..6, or for
        mode 0 ("always connected") while not connected: a mode write never closes the switch."""
        if not is_mode(mode):
            raise ValueError("control mode must be 0..6")
        if mode == 0 and self.state != CONNECTED:
            raise ValueError("mode 0 needs the connected state")
        self.mode = mode

    def output(self):
        """True if the state asks for the supply to be on."""
        return self.state == CONNECTED


def is_mode(mode):
    """True for a supported control mode (0..6)."""
    return isinstance(mode, int) and not isinstance(mode, bool) and 0 <= mode < MODES


# Manual operation prompts (LCD texts).
PROMPT_CONNECT = "ConnEct"
PROMPT_DISCONNECT = "dISconn"
CONFIRM_S = const(30)       # a confirming press must come within this many meter seconds


class Manual:
    """The button: a first press announces what a second one would do ("ConnEct" in state 2,
    "dISconn" in state 1 when the mode allows f); a confirming press within CONFIRM_S carries
    it out. A press that can do nothing shows nothing and disarms."""

    def __init__(self):
        self.armed = None       # operation awaiting confirmation
        self.armed_s = 0

    def press(self, dc, now_s):
        """One press at meter time now_s on Disconnect `dc`: (prompt text or None, operation
        confirmed now or None). The caller carries the operation out (`dc.step`)."""
        if dc.state == READY:
            op, text = MANUAL_RECONNECT, PROMPT_CONNECT
        else:
            op, text = MANUAL_DISCONNECT, PROMPT_DISCONNECT
        if dc.transition(op) is None:
            self.armed = None
            return None, None
        if self.armed == op and 0 <= now_s - self.armed_s <= CONFIRM_S:
            self.armed = None
            return None, op
        self.armed = op
        self.armed_s = now_s
        return text, None

    def prompt(self, dc, now_s):
        """The prompt on display now (None: none)."""
        if self.armed is None or now_s - self.armed_s > CONFIRM_S or \
                dc.transition(self.armed) is None:
            if dc.state == READY and dc.transition(MANUAL_RECONNECT) is not None:
                return PROMPT_CONNECT
            return None
        return PROMPT_CONNECT if self.armed == MANUAL_RECONNECT else PROMPT_DISCONNECT
