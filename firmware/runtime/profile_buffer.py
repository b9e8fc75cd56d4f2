"""A profile buffer on an NV ring: rows of captured values packed with struct into fixed-size ring
entries (runtime.ringstore), read back as A-XDR Data one row at a time.

Columns are given by a string of one kind letter each:

    T  clock: UTC seconds since 2000 (u32), read as the 12-octet date-time the clock shows then
       (0 in a column other than the first: no time, every field "not specified")
    B  unsigned (u8)        H  long-unsigned (u16)
    I  double-long-unsigned (u32)              i  double-long (i32)

The first column must be the clock (T): it is the instant range selection compares. Rows are
FIFO, oldest first. `limit` (profile_entries) shows only the newest `limit` rows of the ring
without moving any data; `dropped` counts the rows that have left the front of what is shown
(cosem.profile uses it to keep a long read consistent while captures go on).
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from dlms import axdr
from core import dst
from runtime import log, nvlayout, ringstore

# Rows a ring keeps in RAM when the NV memory has no room for it.
RAM_ROWS = const(96)

_TAGS = {"B": axdr.UNSIGNED, "H": axdr.LONG_UNSIGNED, "I": axdr.DOUBLE_LONG_UNSIGNED,
         "i": axdr.DOUBLE_LONG}


_NO_TIME = axdr.pack_datetime()


class _RamMemory:
    """Erased RAM standing in for NV memory (size, readinto, write)."""

    def __init__(self, size):
        self.size = size
        self._mem = bytearray(b"\xff" * size)

    def readinto(self, offset, buf):
        buf[:] = memoryview(self._mem)[offset:offset + len(buf)]

    def write(self, offset, buf):
        self._mem[offset:offset + len(buf)] = buf


def open_ring(nv, name):
    """The ring `name` of runtime.nvlayout on `nv`; on an NV memory without room for it (a
    32 KiB FRAM holds the records only) a ring of at most RAM_ROWS entries in RAM, lost at
    power down, so that the meter still runs."""
    try:
        return nvlayout.open_ring(nv, name)
    except ValueError as e:
        log.error("%s kept in RAM: %s", name, e)
    for n, size, cap in nvlayout.RINGS:
        if n == name:
            cap = min(cap, RAM_ROWS)
            return ringstore.RingStore(_RamMemory(ringstore.region_size(size, cap)), 0, size, cap)
    raise KeyError("no NV ring %r" % (name,))


def entry_size(kinds):
    """Ring entry size of a row of columns `kinds`."""
    return struct.calcsize("<" + kinds.replace("T", "I"))


def clock_octets(t_s, rule):
    """The clock's 12-octet date-time for UTC instant t_s (local time, deviation, DST status)."""
    y, mo, d, wd, h, mi, s, deviation, active = dst.clock_fields(t_s, rule)
    return axdr.pack_datetime(y, mo, d, wd, h, mi, s, 0, deviation,
                              axdr.STATUS_DST if active else 0)


class ProfileBuffer:
    """Rows of `kinds` columns on `ring` (entry size entry_size(kinds)); `rule` is a callable
    giving the current core.dst rule (date-times are shown in the local time of the clock)."""

    clock_column = 0

    def __init__(self, ring, kinds, rule):
        if not kinds or kinds[0] != "T":
            raise ValueError("the first column of a profile buffer must be the clock")
        for k in kinds[1:]:
            if k not in _TAGS and k != "T":
                raise ValueError("unknown column kind %r" % (k,))
        self._fmt = "<" + kinds.replace("T", "I")
        self._ring = ring
        self._kinds = kinds
        self._rule = rule
        self._row = bytearray(struct.calcsize(self._fmt))   # the ring checks its size
        self._limit = ring.capacity
        self.dropped = 0

    @property
    def rule(self):
        """The DST rule date-times are read and shown with."""
        return self._rule()

    @property
    def capacity(self):
        """Most rows the buffer can keep (the ring's capacity)."""
        return self._ring.capacity

    @property
    def limit(self):
        """profile_entries: rows shown at most (1..capacity)."""
        return self._limit

    def set_limit(self, n):
        """Set profile_entries; ValueError outside 1..capacity (nothing changes)."""
        if not isinstance(n, int) or not 1 <= n <= self._ring.capacity:
            raise ValueError("profile_entries must be 1..%d" % self._ring.capacity)
        before = len(self)
        self._limit = n
        self.dropped += before - len(self)

    def __len__(self):
        n = len(self._ring)
        return n if n < self._limit else self._limit

    def _entry(self, i):
        n = len(self)
        if not 0 <= i < n:
            raise IndexError("profile row %r out of range" % (i,))
        return self._ring.read(len(self._ring) - n + i)

    def append(self, values):
        """Store a row (one int per column, the clock as UTC seconds) as the newest."""
        full = len(self) == self._limit
        struct.pack_into(self._fmt, self._row, 0, *values)
        self._ring.append(self._row)
        if full:
            self.dropped += 1

    def reset(self):
        """Forget every row (one ring marker write)."""
        n = len(self)
        self._ring.reset()
        self.dropped += n

    def values(self, i):
        """Row i (0 = oldest) as a tuple of ints."""
        return struct.unpack_from(self._fmt, self._entry(i), 0)

    def instant(self, i):
        """UTC seconds of the clock column of row i."""
        return struct.unpack_from("<I", self._entry(i), 0)[0]

    def cells(self, i):
        """Row i as a list of Data values, one per column."""
        v = self.values(i)
        kinds = self._kinds
        rule = self._rule()
        out = [(axdr.OCTET_STRING, clock_octets(v[0], rule))]
        for k in range(1, len(kinds)):
            if kinds[k] != "T":
                out.append((_TAGS[kinds[k]], v[k]))
            else:
                out.append((axdr.OCTET_STRING, clock_octets(v[k], rule) if v[k] else _NO_TIME))
        return out
