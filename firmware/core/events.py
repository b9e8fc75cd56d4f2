"""The one internal event path: event code -> its event log, its alarm bit, push on alarm.

`Events.raise_event(code, t_s)` puts the event into the one log whose code list holds it (IDIS P2
event logs plus the Mx382 extensions), keeps it as that log's last event code (the event-code
object 0-x:96.11.x), sets the alarm bit mapped from the code in alarm register 1 or 2 and its
descriptor when the alarm filter lets it through, and calls the push subscribers when a bit was
newly set (push setup "on alarm" 0-4:25.9.0). The tables below are data taken from the
application spec (event logs section 9, alarms section 10); docs/logs.md lists them by name.

Codes 254 and 255 ("... cleared") belong to several logs: the caller names the log (`log=`).
Alarm registers are 32-bit values: on ARM ports bits 30 and 31 make them long ints, which is
acceptable here (events are rare, never raised from an ISR or the sampling loop).
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_NONE = const(0)
_SHARED = const(0xFF)
_ALL = const(0xFFFFFFFF)
_ROW = const(5)  # event log row in NV: time u32 (meter seconds since 2000) | code u8

# key, profile OBIS, event-code object OBIS, code ranges (inclusive pairs).
LOGS = (
    ("standard", b"\x00\x00\x63\x62\x00\xff", b"\x00\x00\x60\x0b\x00\xff",
     ((1, 21), (47, 48), (51, 52), (88, 89), (230, 243), (254, 255))),
    ("fraud", b"\x00\x00\x63\x62\x01\xff", b"\x00\x00\x60\x0b\x01\xff",
     ((40, 46), (49, 50), (91, 91), (255, 255))),
    ("disconnector", b"\x00\x00\x63\x62\x02\xff", b"\x00\x00\x60\x0b\x02\xff",
     ((59, 75), (255, 255))),
    ("mbus", b"\x00\x00\x63\x62\x03\xff", b"\x00\x00\x60\x0b\x03\xff",
     ((100, 106), (110, 116), (120, 126), (130, 136), (254, 255))),
    ("power_quality", b"\x00\x00\x63\x62\x04\xff", b"\x00\x00\x60\x0b\x04\xff",
     ((76, 87), (90, 90), (92, 94), (255, 255))),
    ("communication", b"\x00\x00\x63\x62\x05\xff", b"\x00\x00\x60\x0b\x05\xff",
     ((140, 158),)),
    ("mbus_control_1", b"\x00\x01\x18\x05\x00\xff", b"\x00\x01\x60\x0b\x04\xff",
     ((160, 166), (255, 255))),
    ("mbus_control_2", b"\x00\x02\x18\x05\x00\xff", b"\x00\x02\x60\x0b\x04\xff",
     ((170, 176), (255, 255))),
    ("mbus_control_3", b"\x00\x03\x18\x05\x00\xff", b"\x00\x03\x60\x0b\x04\xff",
     ((180, 186), (255, 255))),
    ("mbus_control_4", b"\x00\x04\x18\x05\x00\xff", b"\x00\x04\x60\x0b\x04\xff",
     ((190, 196), (255, 255))),
)

# Alarm register 1 (0-0:97.98.0): (code, bit).
ALARM1 = (
    (6, 0), (7, 1), (12, 8), (13, 9), (14, 10), (16, 11), (15, 12),
    (40, 13), (42, 13), (44, 13), (46, 13), (49, 13), (50, 13),
    (100, 16), (110, 17), (120, 18), (130, 19),
    (103, 20), (113, 21), (123, 22), (133, 23),
    (106, 24), (116, 25), (126, 26), (136, 27),
    (102, 28), (112, 29), (122, 30), (132, 31),
)

# Alarm register 2 (0-0:97.98.1): (code, bit).
ALARM2 = (
    (1, 0), (2, 1), (82, 2), (83, 3), (84, 4), (85, 5), (86, 6), (87, 7),
    (89, 8), (90, 9), (91, 10), (88, 11), (52, 12), (48, 13), (92, 14), (93, 15), (94, 16),
    (20, 17), (158, 18), (105, 19), (115, 20), (125, 21), (135, 22),
    (164, 27), (174, 28), (184, 29), (194, 30), (68, 31),
)

ALARM_REGISTER_CLEARED = const(11)


class UnknownEventCode(ValueError):
    """The code is not an event code of the meter, or not one of the named log."""


class AmbiguousEventCode(ValueError):
    """The code belongs to several logs (254, 255) and no log was named."""


def _index_logs():
    """code -> log index + 1 (_NONE: unknown, _SHARED: several logs), as a 256-byte table."""
    table = bytearray(256)
    for i in range(len(LOGS)):
        for lo, hi in LOGS[i][3]:
            for code in range(lo, hi + 1):
                table[code] = i + 1 if table[code] == _NONE else _SHARED
    return table


def _index_alarms():
    """code -> (register - 1) * 32 + bit + 1 (0: no alarm), as a 256-byte table."""
    table = bytearray(256)
    for reg, pairs in ((0, ALARM1), (1, ALARM2)):
        for code, bit in pairs:
            table[code] = reg * 32 + bit + 1
    return table


def log_index(key):
    """Position of log `key` in LOGS (KeyError names the unknown key)."""
    for i in range(len(LOGS)):
        if LOGS[i][0] == key:
            return i
    raise KeyError("no event log %r" % (key,))


def log_has(i, code):
    """True if code `code` belongs to log number `i`."""
    for lo, hi in LOGS[i][3]:
        if lo <= code <= hi:
            return True
    return False


class Events:
    """Event logs, event-code objects and alarm registers 1/2 with filters and descriptors.

    `sinks` maps log keys to objects with `capture(code, t_s)` (an EventLog on a RingStore, or
    anything else); logs without a sink still keep their last code and raise their alarms."""

    def __init__(self, sinks=None, filters=(_ALL, _ALL)):
        self._log_of = _index_logs()
        self._alarm_of = _index_alarms()
        self._sinks = [None] * len(LOGS)
        self._last = bytearray(len(LOGS))  # event-code objects; 0 until a first event
        self.alarm = [0, 0]
        self.filter = [filters[0], filters[1]]
        self.descriptor = [0, 0]
        self._subscribers = []
        if sinks:
            for key in sinks:
                self.attach(key, sinks[key])

    def attach(self, key, sink):
        """Route the events of log `key` to `sink`; its last code comes from the sink when it
        keeps one (`last_code()`, e.g. an EventLog recovered from NV)."""
        i = log_index(key)
        self._sinks[i] = sink
        last = getattr(sink, "last_code", None)
        if last is not None:
            self._last[i] = last()

    def subscribe(self, fn):
        """Call `fn(register, new_bits, t_s)` (register 1 or 2) whenever alarm bits are newly set."""
        self._subscribers.append(fn)

    def last_code(self, key):
        """Value of the event-code object of log `key` (0: no event yet)."""
        return self._last[log_index(key)]

    def raise_event(self, code, t_s, log=None):
        """Record event `code` at meter time `t_s`; returns the key of the log that took it."""
        if not isinstance(code, int) or not 0 <= code <= 255:
            raise UnknownEventCode("event code %r is not in 0..255" % (code,))
        if log is None:
            i = self._log_of[code]
            if i == _NONE:
                raise UnknownEventCode("event code %d is not in the event code table" % code)
            if i == _SHARED:
                raise AmbiguousEventCode("event code %d belongs to several logs: name the log"
                                         % code)
            i -= 1
        else:
            i = log_index(log)
            if not log_has(i, code):
                raise UnknownEventCode("event code %d is not an event of log %r" % (code, log))
        sink = self._sinks[i]
        if sink is not None:
            sink.capture(code, t_s)
        self._last[i] = code
        a = self._alarm_of[code]
        if a:
            self._set_alarm((a - 1) >> 5, 1 << ((a - 1) & 31), t_s)
        return LOGS[i][0]

    def reset_log(self, key, t_s):
        """Clear log `key` (its sink's `reset()`), then log its "log cleared" event 255 when the
        log has one, so that the event-code object and any push follow the one event path."""
        i = log_index(key)
        sink = self._sinks[i]
        if sink is not None:
            sink.reset()
        if log_has(i, 255):
            self.raise_event(255, t_s, key)
        else:
            self._last[i] = 0

    def clear_alarms(self, register, t_s, mask=_ALL):
        """A client reset alarm register 1 or 2 (all its bits, or those of `mask`): clear them
        and log event 11."""
        r = self._reg(register)
        self.alarm[r] &= ~mask & _ALL
        self.raise_event(ALARM_REGISTER_CLEARED, t_s)

    def clear_descriptor(self, register, mask):
        """A client reset descriptor bits `mask` of alarm descriptor 1 or 2."""
        r = self._reg(register)
        self.descriptor[r] &= ~mask & _ALL

    def _reg(self, register):
        if register != 1 and register != 2:
            raise ValueError("alarm register must be 1 or 2, got %r" % (register,))
        return register - 1

    def _set_alarm(self, r, mask, t_s):
        if not self.filter[r] & mask:
            return
        new = mask & ~self.alarm[r]
        self.alarm[r] |= mask
        self.descriptor[r] |= mask
        if new:
            for fn in self._subscribers:
                fn(r + 1, new, t_s)


class EventLog:
    """An event log buffer on a ring (runtime.ringstore.RingStore built with entry size
    ROW_SIZE): rows {time, code} oldest first, as the class-7 log profile reads them."""

    ROW_SIZE = _ROW

    def __init__(self, ring):
        self._ring = ring
        self._row = bytearray(_ROW)

    def capture(self, code, t_s):
        """Append the row {t_s, code}."""
        struct.pack_into("<IB", self._row, 0, t_s, code)
        self._ring.append(self._row)

    def __len__(self):
        return len(self._ring)

    def row(self, i):
        """Row `i` oldest first -> (t_s, code)."""
        return struct.unpack_from("<IB", self._ring.read(i), 0)

    def last_code(self):
        """Code of the newest row (0 when the log is empty)."""
        n = len(self._ring)
        return self._ring.read(n - 1)[4] if n else 0

    def reset(self):
        """Forget every row."""
        self._ring.reset()
