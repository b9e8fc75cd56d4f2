"""Meter clock of the host board: time follows the samples the front end has produced.

now_us() = base + frames * 1e6 / fs in integer maths, so simulated time never drifts from the
signal and runs as fast as the samples are consumed (real time or fast-forward alike).
"""
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

UNIX_TO_2000 = const(946684800)  # seconds from 1970-01-01 to 2000-01-01 (UTC)


def wall_now():
    """Wall-clock UTC now, in whole seconds since 2000-01-01 00:00:00."""
    return int(time.time()) - UNIX_TO_2000


class Clock:
    """Meter clock driven by a frame counter; `count` is called by the front end per block."""

    def __init__(self, fs, start=None):
        """`fs` frames/s; `start` seconds since 2000-01-01 UTC (default: the wall clock now)."""
        if not isinstance(fs, int) or fs <= 0:
            raise ValueError("fs must be a positive integer, got %r" % (fs,))
        self._fs = fs
        self._frames = 0
        self.set(wall_now() if start is None else start)

    def valid(self):
        """False once the backup supply ran out during an outage, until the clock is set."""
        return self._valid

    def lose(self, seconds):
        """The backup supply ran out: the RTC stopped at `seconds` and holds no valid time."""
        self.set(seconds)
        self._valid = False

    def count(self, frames):
        """Account for `frames` more sampled frames."""
        self._frames += frames

    def now_us(self):
        """Microseconds since 2000-01-01 00:00:00 UTC."""
        return self._base_us + self._frames * 1000000 // self._fs

    def now(self):
        """Whole seconds since 2000-01-01 00:00:00 UTC."""
        return self.now_us() // 1000000

    def set(self, seconds, us=0):
        """Set the time to `seconds` (+ `us` microseconds) since 2000-01-01 UTC."""
        if not isinstance(seconds, int) or not isinstance(us, int) or seconds < 0 or not 0 <= us < 1000000:
            raise ValueError("clock set needs seconds >= 0 and 0 <= us < 1e6, got %r, %r" % (seconds, us))
        self._base_us = seconds * 1000000 + us
        self._frames = 0
        self._valid = True

    def advance(self, us):
        """Jump forward by `us` microseconds (a time skip: no samples are produced for it)."""
        if not isinstance(us, int) or us < 0:
            raise ValueError("advance needs an integer us >= 0, got %r" % (us,))
        self._base_us += us
