"""Metrological LEDs of the host board: pulses are counted and their instants kept for checks."""
from array import array


class Led:
    """A test LED: `pulse(t_us)` flashes it at meter time `t_us`; `value()` is its steady state.

    The last `depth` pulse instants are kept in a preallocated ring (no allocation per pulse).
    """

    def __init__(self, name, depth=32):
        if not isinstance(depth, int) or depth < 1:
            raise ValueError("depth must be an integer >= 1, got %r" % (depth,))
        self.name = name
        self.count = 0
        self._on = False
        self._ring = array("q", [0] * depth)

    def pulse(self, t_us):
        """Record one pulse at `t_us` microseconds (meter time)."""
        self._ring[self.count % len(self._ring)] = t_us
        self.count += 1

    def skip(self, n):
        """Count `n` pulses whose instants are not kept (the start of a long analytic step)."""
        self.count += n

    def value(self, on=None):
        """Steady state: lit (True) or dark; with an argument, set it (lit when there is no load)."""
        if on is not None:
            self._on = bool(on)
        return self._on

    def instants(self):
        """The kept pulse instants, oldest first."""
        depth = len(self._ring)
        n = min(self.count, depth)
        return [self._ring[(self.count - n + k) % depth] for k in range(n)]
