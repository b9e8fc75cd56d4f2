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

Per-phase power failures (MT382, application spec section 14): runtime.power_quality tells, with
meter.notify("phase_voltage", phase, missing, t_s), when a phase voltage goes missing (level
MISSING) and when it is back. A missing phase raises event 232-234 (power down L1-L3) and is kept
open in NV; its end raises 235-237 (power restored L1-L3) and counts the failure of the phase
(0-0:96.7.1-3) and of any phase (0-0:96.7.21); one of at least the threshold is long: counted
(0-0:96.7.6-8 and 0-0:96.7.9), its duration kept (0-0:96.7.16-18 and 0-0:96.7.19), a power
failure log row written. A phase failure open at a total power down stays open: it ends when
the phase is seen back after the boot.

Certification data log 1-0:99.99.0: the services tell every change of a monitored critical
parameter with meter.notify("certification", source name, old, new); MONITORED maps the source
names to the OBIS code of their object. Rows {clock, OBIS code (octet-string), old value, new
value (double-long)}.
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from dlms import axdr
from core import events
from runtime import log, service
from runtime.profile_buffer import ProfileBuffer, clock_octets, open_ring

KEY_V1 = "logs"        # version 1 record of older firmware: read once, never written
KEY = "logs2"
POWER_FAILURE = "power_failure"
CERTIFICATION = "certification"
THRESHOLD_S = 180
PHASES = const(3)
_THRESHOLD_MAX = const(86400)
_VERSION_1 = const(1)
_VERSION = const(2)
# version, pending, alive, count, long count, last long duration, threshold, down, up, duration,
# then profile_entries of every log (core.events.LOGS order, then the power failure log; version
# 2: then the certification log)
_RECORD = "<BBIIIIIIII"
_HEAD = const(34)
_RECORD_SIZE_V1 = _HEAD + 2 * (len(events.LOGS) + 1)
# Version 2 tail, per phase L1-L3: failures, long failures, last long duration, start of the
# failure in progress (0: none); then the phase step still to do: phase + 1 (0: none), steps,
# instant, duration.
_PHASES = "<3H3H3I3I"
_PHASE_TODO = "<BBII"
_PHASE_AT = _RECORD_SIZE_V1 + 2
_TODO_AT = _PHASE_AT + 36
_RECORD_SIZE = _TODO_AT + 10
_POWER_DOWN = const(1)
_POWER_UP = const(2)
_PHASE_DOWN = const(232)       # power down L1 (L2, L3: + 1, + 2)
_PHASE_UP = const(235)         # power restored L1
_COUNT_MAX = const(0xFFFF)     # counters are long-unsigned: they stop at the top
# Steps of the outage bookkeeping still to do (a power cut may interrupt them).
_TODO_LOG = const(1)
_TODO_EVENTS = const(2)
_TODO_DOWN = const(4)
_TODO_UP = const(8)

# Monitored critical parameters: source name -> OBIS code of the object whose value it is.
MONITORED = {
    "clock.shift_limit": b"\x01\x00\x00\x09\x0b\xff",        # 1-0:0.9.11 time-shift limit
    "lp1.capture_period": b"\x01\x00\x63\x01\x00\xff",       # 1-0:99.1.0 load profile 1
    "lp2.capture_period": b"\x01\x00\x63\x02\x00\xff",       # 1-0:99.2.0 load profile 2
    "demand.A+.period": b"\x01\x00\x01\x04\x00\xff",         # 1-0:1.4.0 demand registers
    "demand.A-.period": b"\x01\x00\x02\x04\x00\xff",
    "demand.R+.period": b"\x01\x00\x03\x04\x00\xff",
    "demand.R-.period": b"\x01\x00\x04\x04\x00\xff",
    "demand.S+.period": b"\x01\x00\x09\x04\x00\xff",
    "demand.S-.period": b"\x01\x00\x0a\x04\x00\xff",
}
_INT32_MIN = const(-0x7FFFFFFF - 1)
_INT32_MAX = const(0x7FFFFFFF)


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


class CertificationBuffer(ProfileBuffer):
    """Rows {clock, OBIS code, old value, new value} of the certification data log, kept as
    columns "THIii" (the OBIS code split in its first 2 and last 4 octets) and shown as
    {date-time, octet-string, double-long, double-long}."""

    def __init__(self, ring, rule):
        ProfileBuffer.__init__(self, ring, "THIii", rule)

    def add(self, t_s, ln, old, new):
        """Append a row for the parameter `ln` (6 octets)."""
        hi, lo = struct.unpack("<HI", ln)
        self.append((t_s, hi, lo, old, new))

    def row(self, i):
        """Row i as (t_s, OBIS code, old, new)."""
        t_s, hi, lo, old, new = self.values(i)
        return t_s, struct.pack("<HI", hi, lo), old, new

    def cells(self, i):
        """Row i as Data values."""
        t_s, ln, old, new = self.row(i)
        return [(axdr.OCTET_STRING, clock_octets(t_s, self._rule())), (axdr.OCTET_STRING, ln),
                (axdr.DOUBLE_LONG, old), (axdr.DOUBLE_LONG, new)]


class Logs(service.Service):
    """Event logs, power failure log and counters, certification data log of a Meter."""

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
        self.certification = CertificationBuffer(open_ring(nv, "log." + CERTIFICATION), rule)
        self.alive = None       # last instant known powered (None: never booted)
        self.count = 0
        self.long_count = 0
        self.last_duration = 0
        self.threshold = THRESHOLD_S
        self.phase_count = [0] * PHASES
        self.phase_long = [0] * PHASES
        self.phase_duration = [0] * PHASES
        self.phase_down = [0] * PHASES      # start of the failure in progress (0: phase present)
        self._phase_todo = None     # (phase, steps, t_s, duration) not done yet
        self._saved = None
        self._pending = None    # outage bookkeeping (todo, down, up, duration) not done yet
        if meter.nphases == PHASES:
            meter.listen("phase_voltage", self._phase_voltage)
        meter.listen("certification", self._certify)

    def _rule(self):
        return self.meter.tou.rule

    # -- NV record ----------------------------------------------------------------------------

    def _buffers(self):
        return [self.sinks[e[0]].buffer for e in events.LOGS] + [self.failures,
                                                                 self.certification]

    def _pack(self, todo=0, down=0, up=0, duration=0):
        out = bytearray(_RECORD_SIZE)
        struct.pack_into(_RECORD, out, 0, _VERSION, todo, self.alive or 0, self.count,
                         self.long_count, self.last_duration, self.threshold, down, up, duration)
        pos = _HEAD
        for b in self._buffers():
            struct.pack_into("<H", out, pos, b.limit)
            pos += 2
        struct.pack_into(_PHASES, out, _PHASE_AT, *(self.phase_count + self.phase_long +
                                                     self.phase_duration + self.phase_down))
        p = self._phase_todo
        if p is not None:
            struct.pack_into(_PHASE_TODO, out, _TODO_AT, p[0] + 1, p[1], p[2], p[3])
        return bytes(out)

    def _write(self, raw):
        if raw != self._saved:
            self.meter.store.write(KEY, raw)
            self._saved = raw

    def _load(self):
        """The pending steps (todo, down, up, duration) of the record, or None without one."""
        raw = self.meter.store.read(KEY)
        buffers = self._buffers()
        if raw is None:
            # Older firmware: its version 1 record (no phases, no certification log).
            raw = self.meter.store.read(KEY_V1)
            if raw is None:
                return None
            if len(raw) != _RECORD_SIZE_V1 or raw[0] != _VERSION_1:
                log.error("logs record unusable: power failure counters start at zero")
                return None
            buffers = buffers[:-1]
        elif len(raw) != _RECORD_SIZE or raw[0] != _VERSION:
            log.error("logs record unusable: power failure counters start at zero")
            return None
        (_, todo, self.alive, self.count, self.long_count, self.last_duration, threshold, down,
         up, duration) = struct.unpack_from(_RECORD, raw, 0)
        if 1 <= threshold <= _THRESHOLD_MAX:
            self.threshold = threshold
        pos = _HEAD
        for b in buffers:
            limit = struct.unpack_from("<H", raw, pos)[0]
            pos += 2
            b.set_limit(limit if 1 <= limit <= b.capacity else b.capacity)
        if raw[0] == _VERSION:
            v = struct.unpack_from(_PHASES, raw, _PHASE_AT)
            self.phase_count = list(v[0:3])
            self.phase_long = list(v[3:6])
            self.phase_duration = list(v[6:9])
            self.phase_down = list(v[9:12])
            p, steps, t_s, d = struct.unpack_from(_PHASE_TODO, raw, _TODO_AT)
            if 1 <= p <= PHASES:
                self._phase_todo = (p - 1, steps, t_s, d)
            self._saved = bytes(raw)
        return todo, down, up, duration

    # -- outage -------------------------------------------------------------------------------

    def _book(self, todo, down, up, duration):
        # Each step first checks whether it already reached NV (a cut after it, before the
        # record said so): nothing is logged twice.
        if todo & _TODO_LOG:
            self._log_failure(up, duration)
        if todo & _TODO_EVENTS:
            std = self.sinks["standard"]
            if not std.newest_is(up, _POWER_UP):
                if not std.newest_is(down, _POWER_DOWN):
                    self.meter.events.raise_event(_POWER_DOWN, down)
                self.meter.events.raise_event(_POWER_UP, up)

    def _log_failure(self, end, duration):
        n = len(self.failures)
        if not (n and tuple(self.failures.values(n - 1)) == (end, duration)):
            self.failures.append((end, duration))

    def power_on(self, now_s):
        pending = self._load()
        if pending is not None and pending[0]:
            self._book(*pending)        # a cut interrupted the bookkeeping of the last boot
        if self._phase_todo is not None:
            self._book_phase()
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
        # The outages are measured on the new time scale: a phase failure in progress keeps
        # the duration it has so far.
        for p in range(PHASES):
            if self.phase_down[p]:
                self.phase_down[p] = max(self.phase_down[p] + new_s - old_s, 1)
        if self.meter.powered:
            self.alive = new_s
            self._write(self._state())

    # -- per-phase failures (MT382) -----------------------------------------------------------

    def _phase_voltage(self, p, missing, t_s):
        # The power quality service tells the state of the phase whenever it may have changed
        # (at every boot too): only a change counts.
        if missing:
            if self.phase_down[p]:
                return
            self.phase_down[p] = t_s
            self._phase_todo = (p, _TODO_DOWN, t_s, 0)
        else:
            down = self.phase_down[p]
            if not down:
                return
            duration = t_s - down if t_s > down else 0
            self.phase_down[p] = 0
            steps = _TODO_UP
            self.count = min(self.count + 1, _COUNT_MAX)
            self.phase_count[p] = min(self.phase_count[p] + 1, _COUNT_MAX)
            if duration >= self.threshold:
                steps |= _TODO_LOG
                self.long_count = min(self.long_count + 1, _COUNT_MAX)
                self.phase_long[p] = min(self.phase_long[p] + 1, _COUNT_MAX)
                self.last_duration = self.phase_duration[p] = duration
            self._phase_todo = (p, steps, t_s, duration)
        # Counters and the steps to do reach NV together, then the steps, then the record
        # without them: a cut anywhere neither loses nor repeats a row.
        self._write(self._state())
        self._book_phase()
        self._write(self._state())

    def _book_phase(self):
        p, steps, t_s, duration = self._phase_todo
        self._phase_todo = None
        std = self.sinks["standard"]
        if steps & _TODO_LOG:
            self._log_failure(t_s, duration)
        code = _PHASE_DOWN + p if steps & _TODO_DOWN else _PHASE_UP + p
        if not std.newest_is(t_s, code):
            self.meter.events.raise_event(code, t_s)

    # -- certification data log ---------------------------------------------------------------

    def _certify(self, name, old, new):
        ln = MONITORED.get(name)
        if ln is None or old == new:
            return
        self.certification.add(self.meter.board.clock.now(), ln, _int32(old), _int32(new))

    def _last_change(self, k):
        n = len(self.certification)
        if not n:
            return b"" if k == 1 else 0
        return self.certification.row(n - 1)[k]

    # -- COSEM --------------------------------------------------------------------------------

    def bind(self, sources):
        for entry in events.LOGS:
            self._bind_log(sources, entry[0])
        self._bind_profile(sources, "log." + POWER_FAILURE, self.failures,
                           lambda arg: self.failures.reset())
        self._bind_profile(sources, "log." + CERTIFICATION, self.certification,
                           lambda arg: self.certification.reset())
        g = sources.getters
        g["power_failure.count"] = lambda: self.count
        g["power_failure.long_count"] = lambda: self.long_count
        g["power_failure.duration"] = lambda: self.last_duration
        g["power_failure.threshold"] = lambda: self.threshold
        sources.setters["power_failure.threshold"] = self._set_threshold
        if self.meter.nphases == PHASES:
            for p in range(PHASES):
                s = ".L%d" % (p + 1)
                g["power_failure.count" + s] = self._phase_value(self.phase_count, p)
                g["power_failure.long_count" + s] = self._phase_value(self.phase_long, p)
                g["power_failure.duration" + s] = self._phase_value(self.phase_duration, p)
        g["certification.parameter"] = lambda: self._last_change(1)
        g["certification.old"] = lambda: self._last_change(2)
        g["certification.new"] = lambda: self._last_change(3)

    @staticmethod
    def _phase_value(values, p):
        return lambda: values[p]

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


def _int32(v):
    # A value of a double-long column: clamped (every monitored parameter fits).
    return min(max(v, _INT32_MIN), _INT32_MAX)


def make(meter):
    """The logs service of `meter`."""
    return Logs(meter)
