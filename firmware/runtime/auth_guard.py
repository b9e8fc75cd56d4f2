"""Back-off after failed authentications, per client SAP.

Every failure (a wrong HLS f(StoC), an AARQ whose authentication does not check, a request with
a bad GCM tag) is logged in one line. After `limit` consecutive failures of one client its AARQs
are refused for `base_ms`; each further failure once that back-off is over doubles it, up to
`cap_ms`. A successful authentication of the client clears its record.

Time is a millisecond tick counter (`time.ticks_ms` on MicroPython, a monotonic clock on
CPython), not meter time: setting the clock must neither lift nor stretch a back-off. Differences
go through `ticks_diff` (valid up to 2^29 ms, about 6.2 days; the cap is clamped below that). A
back-off seen over is marked so, and a negative difference (the tick counter wrapped since) counts
as over; a client silent for a whole multiple of the 2^30 ms tick period (12.4 days) without an
AARQ in between could still meet the rest of its old back-off once.
"""
try:
    from time import ticks_diff, ticks_ms
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

from runtime import log

_MAX_BACKOFF_MS = 6 * 24 * 3600 * 1000
# Fields of a client's record: consecutive failures, current back-off, tick it began (None:
# not running).
_FAILS = 0
_BACKOFF = 1
_SINCE = 2


class AuthGuard:
    """Failure counts and back-offs of the clients (keyed by client SAP)."""

    def __init__(self, limit=3, base_ms=10000, cap_ms=600000, ticks=ticks_ms):
        if limit < 1 or base_ms < 1 or cap_ms < base_ms:
            raise ValueError("need limit >= 1 and 1 <= base_ms <= cap_ms")
        self.limit = limit
        self.base_ms = base_ms
        self.cap_ms = min(cap_ms, _MAX_BACKOFF_MS)
        self._ticks = ticks
        self._clients = {}

    def blocked_ms(self, sap):
        """Milliseconds left of the client's back-off (0: it may try to authenticate)."""
        r = self._clients.get(sap)
        if r is None or r[_SINCE] is None:
            return 0
        elapsed = ticks_diff(self._ticks(), r[_SINCE])
        if elapsed < 0 or elapsed >= r[_BACKOFF]:
            r[_SINCE] = None        # over: the tick counter may wrap before the next look
            return 0
        return r[_BACKOFF] - elapsed

    def failed(self, sap, reason):
        """Count (and log) one failed authentication of the client; True when this failure
        reached the limit (the first back-off of a run of failures: an event is due)."""
        r = self._clients.get(sap)
        if r is None:
            r = self._clients[sap] = [0, 0, None]
        r[_FAILS] += 1
        if r[_FAILS] >= self.limit:
            r[_BACKOFF] = self.base_ms if not r[_BACKOFF] else min(r[_BACKOFF] * 2, self.cap_ms)
            r[_SINCE] = self._ticks()
        log.warning("authentication failure, client %d: %s (%d in a row, back-off %d ms)",
                    sap, reason, r[_FAILS], r[_BACKOFF] if r[_FAILS] >= self.limit else 0)
        return r[_FAILS] == self.limit

    def succeeded(self, sap):
        """The client authenticated: forget its failures."""
        self._clients.pop(sap, None)
