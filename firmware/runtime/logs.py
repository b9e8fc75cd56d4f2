"""Event logs and power failure bookkeeping of the running meter (docs/logs.md).

Every log of core.events.LOGS gets an NV ring "log.<key>" of rows {clock, event code} and is
attached to the Meter's one event path (meter.events) as its sink; the class-7 log profiles and
their event-code objects read them. The power failure event log 1-0:99.97.0 (rows {end of the
failure, duration s}), the failure counters 0-0:96.7.21 (all) and 0-0:96.7.9 (long), the last
long failure's duration 0-0:96.7.19 and the long failure threshold 0-0:96.7.20 (default 180 s)
are kept here with the last instant the meter was known alive (NV record "logs", written at
every save and at the power failure). A boot measures the outage from that instant and counts
it; at the first tick after the boot (every service, the alarm registers among them, has booted
by then) events 1 (power down, at the alive instant) and 2 (power up, at the boot) go to the
standard log, and a failure of at least the threshold (long: counted, its duration kept) gets a
power failure log row.
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import events
from runtime import log, service
from runtime.profile_buffer import ProfileBuffer, open_ring

KEY = "logs"
POWER_FAILURE = "power_failure"
THRESHOLD_S = 180
_THRESHOLD_MAX = const(86400)
_VERSION = const(1)
# version, pending, alive, count, long count, last long duration, threshold, down, up, duration,
# then profile_entries of every log (core.events.LOGS order, then the power failure log)
_RECORD = "<BBIIIIIIII"
_HEAD = const(34)
_RECORD_SIZE = _HEAD + 2 * (len(events.LOGS) + 1)
_POWER_DOWN = const(1)
_POWER_UP = const(2)
_COUNT_MAX = const(0xFFFF)     # counters are long-unsigned: they stop at the top
# Steps of the outage bookkeeping still to do (a power cut may interrupt them).
_TODO_LOG = const(1)
_TODO_EVENTS = const(2)


class EventSink:
    """A core.events sink over a ProfileBuffer of columns "TB" (clock, event code)."""

    def __init__(self, buffer):
        self.buffer = buffer

    def capture(self, code, t_s):
        """Append the row {t_s, code}."""
        self.buffer.append((t_s, code))

    def reset(self):
        """Forget every row."""
        self.buffer.reset()

    def last_code(self):
        """Code of the newest row (0 when the log is empty)."""
        n = len(self.buffer)
        return self.buffer.values(n - 1)[1] if n else 0

    def newest_is(self, t_s, code):
        """True if the newest row is {t_s, code}."""
        n = len(self.buffer)
        return n > 0 and tuple(self.buffer.values(n - 1)) == (t_s, code)


class Logs(service.Service):
    """Event logs, power failure log and counters of a Meter."""

    def __init__(self, meter):
        self.meter = meter
        nv = meter.board.nv
        rule = self._rule
        self.sinks = {}
        for entry in events.LOGS:
            key = entry[0]
            sink = EventSink(ProfileBuffer(open_ring(nv, "log." + key), "TB", rule))
            self.sinks[key] = sink
            meter.events.attach(key, sink)
        self.failures = ProfileBuffer(open_ring(nv, "log." + POWER_FAILURE), "TI", rule)
        self.alive = None       # last instant known powered (None: never booted)
        self.count = 0
        self.long_count = 0
        self.last_duration = 0
        self.threshold = THRESHOLD_S
        self._saved = None
        self._pending = None    # outage bookkeeping (todo, down, up, duration) not done yet

    def _rule(self):
        return self.meter.tou.rule

    # -- NV record ----------------------------------------------------------------------------

    def _buffers(self):
        return [self.sinks[e[0]].buffer for e in events.LOGS] + [self.failures]

    def _pack(self, todo=0, down=0, up=0, duration=0):
        out = bytearray(_RECORD_SIZE)
        struct.pack_into(_RECORD, out, 0, _VERSION, todo, self.alive or 0, self.count,
                         self.long_count, self.last_duration, self.threshold, down, up, duration)
        pos = _HEAD
        for b in self._buffers():
            struct.pack_into("<H", out, pos, b.limit)
            pos += 2
        return bytes(out)

    def _write(self, raw):
        if raw != self._saved:
            self.meter.store.write(KEY, raw)
            self._saved = raw

    def _load(self):
        """The pending steps (todo, down, up, duration) of the record, or None without one."""
        raw = self.meter.store.read(KEY)
        if raw is None:
            return None
        if len(raw) != _RECORD_SIZE or raw[0] != _VERSION:
            log.error("logs record unusable: power failure counters start at zero")
            return None
        (_, todo, self.alive, self.count, self.long_count, self.last_duration, threshold, down,
         up, duration) = struct.unpack_from(_RECORD, raw, 0)
        if 1 <= threshold <= _THRESHOLD_MAX:
            self.threshold = threshold
        pos = _HEAD
        for b in self._buffers():
            limit = struct.unpack_from("<H", raw, pos)[0]
            pos += 2
            b.set_limit(limit if 1 <= limit <= b.capacity else b.capacity)
        self._saved = bytes(raw)
        return todo, down, up, duration

    # -- outage -------------------------------------------------------------------------------

    def _book(self, todo, down, up, duration):
        # Each step first checks whether it already reached NV (a cut after it, before the
        # record said so): nothing is logged twice.
        if todo & _TODO_LOG and not (len(self.failures) and tuple(
                self.failures.values(len(self.failures) - 1)) == (up, duration)):
            self.failures.append((up, duration))
        if todo & _TODO_EVENTS:
            std = self.sinks["standard"]
            if not std.newest_is(up, _POWER_UP):
                if not std.newest_is(down, _POWER_DOWN):
                    self.meter.events.raise_event(_POWER_DOWN, down)
                self.meter.events.raise_event(_POWER_UP, up)

    def power_on(self, now_s):
        pending = self._load()
        if pending is not None and pending[0]:
            self._book(*pending)        # a cut interrupted the bookkeeping of the last boot
        self._pending = None
        if self.alive is None:
            self.alive = now_s      # first boot: no outage to account for
            self._write(self._pack())
            return
        down = self.alive
        duration = now_s - down if now_s > down else 0
        todo = _TODO_EVENTS
        self.count = min(self.count + 1, _COUNT_MAX)
        if duration >= self.threshold:
            todo |= _TODO_LOG
            self.long_count = min(self.long_count + 1, _COUNT_MAX)
            self.last_duration = duration
        self.alive = now_s
        # Counters and the steps to do reach NV together; the steps run at the first tick,
        # once every service has booted (the alarm registers are restored, push is ready).
        self._pending = (todo, down, now_s, duration)
        self._write(self._pack(*self._pending))

    def next_due(self, now_s):
        return now_s if self._pending is not None and self.meter.powered else None

    def tick(self, now_s):
        if self._pending is not None:
            self._book(*self._pending)
            self._pending = None
            self._write(self._pack())

    def _state(self):
        return self._pack(*self._pending) if self._pending is not None else self._pack()

    def save(self):
        if self.meter.powered:
            self.alive = self.meter.board.clock.now()
            self._write(self._state())

    def power_off(self, now_s, hard):
        if not hard:
            self.alive = now_s
            self._write(self._state())

    def clock_set(self, old_s, new_s):
        # The outage is measured on the new time scale.
        if self.meter.powered:
            self.alive = new_s
            self._write(self._state())

    # -- COSEM --------------------------------------------------------------------------------

    def bind(self, sources):
        for entry in events.LOGS:
            self._bind_log(sources, entry[0])
        self._bind_profile(sources, "log." + POWER_FAILURE, self.failures,
                           lambda arg: self.failures.reset())
        g = sources.getters
        g["power_failure.count"] = lambda: self.count
        g["power_failure.long_count"] = lambda: self.long_count
        g["power_failure.duration"] = lambda: self.last_duration
        g["power_failure.threshold"] = lambda: self.threshold
        sources.setters["power_failure.threshold"] = self._set_threshold

    def _set_threshold(self, v):
        if not isinstance(v, int) or not 1 <= v <= _THRESHOLD_MAX:
            raise ValueError("threshold must be 1..%d s" % _THRESHOLD_MAX)
        self.threshold = v
        self._write(self._state())

    def _bind_log(self, sources, key):
        sink = self.sinks[key]

        def reset(arg):
            self.meter.events.reset_log(key, self.meter.board.clock.now())

        self._bind_profile(sources, "log." + key, sink.buffer, reset)
        sources.getters["log.%s.code" % key] = lambda: self.meter.events.last_code(key)

    def _bind_profile(self, sources, b, buffer, reset):
        g = sources.getters
        g[b + ".buffer"] = lambda: buffer
        g[b + ".capture_period"] = lambda: 0
        g[b + ".entries_in_use"] = lambda: len(buffer)
        g[b + ".profile_entries"] = lambda: buffer.limit

        def set_entries(v):
            buffer.set_limit(v)
            self._write(self._state())

        sources.setters[b + ".profile_entries"] = set_entries
        sources.actions[b + ".reset"] = reset
        sources.actions[b + ".capture"] = _no_capture


def _no_capture(arg):
    raise ValueError("event logs capture on events only")


def make(meter):
    """The logs service of `meter`."""
    return Logs(meter)
