"""Register monitor (class 21) as pure logic: a value against an ascending list of thresholds;
crossing threshold n upwards runs its action_up, downwards its action_down.

A crossing counts once the value has stayed on the new side for the monitor's delay (0: at
once; the overvoltage monitor uses delays, class 21 itself has none). A value equal to a
threshold is not above it.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MAX_THRESHOLDS = const(4)
UP = const(1)
DOWN = const(2)


class Monitor:
    """Thresholds, the side of each the value is on, and the pending crossings."""

    def __init__(self, thresholds, up_delay_s=0, down_delay_s=0):
        self.up_delay_s = up_delay_s
        self.down_delay_s = down_delay_s
        self.set_thresholds(thresholds)

    def set_thresholds(self, thresholds):
        """New thresholds (at most MAX_THRESHOLDS non-negative ints); every value starts below
        them again. ValueError, nothing changed, for a bad list."""
        t = tuple(thresholds)
        if len(t) > MAX_THRESHOLDS or any(not isinstance(x, int) or x < 0 for x in t):
            raise ValueError("at most %d non-negative thresholds" % MAX_THRESHOLDS)
        self.thresholds = t
        self.above = [False] * len(t)
        self._since = [None] * len(t)

    def update(self, value, now_s):
        """Feed the value at now_s: the (threshold index, UP or DOWN) crossings confirmed now."""
        out = []
        for n in range(len(self.thresholds)):
            above = value > self.thresholds[n]
            if above == self.above[n]:
                self._since[n] = None
                continue
            since = self._since[n]
            if since is None or now_s < since:
                since = self._since[n] = now_s
            if now_s - since < (self.up_delay_s if above else self.down_delay_s):
                continue
            self._since[n] = None
            self.above[n] = above
            out.append((n, UP if above else DOWN))
        return out
