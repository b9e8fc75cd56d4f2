"""Power-fail-safe ring buffer of fixed-size entries on byte-writable NV memory (FRAM-like).

Made for profile buffers (COSEM profile generic, sort method FIFO) and event logs. The region holds
`capacity + 1` slots; a slot is

    sequence u32 | epoch u16 | kind u16 | entry (entry_size bytes) | CRC-32 u32

little-endian, the CRC covering everything before it. Entry number `seq` always lives in slot
`seq % (capacity + 1)`, so the slot an append writes never holds one of the `capacity` live
entries: a power cut at any byte of an append leaves the old entries intact and the slot being
written fails its CRC (its sequence number differs from the one that was there).

Recovery (construction) scans the region twice: the newest valid slot gives the newest sequence
number and the current epoch; the live window is then the last `capacity` sequence numbers, cut
below by the newest reset marker and by any slot of an older epoch. Torn or bit-flipped slots are
skipped and counted (`skipped`); a bit per slot remembers which live sequence numbers hold a valid
entry.

`reset()` writes one marker slot with the next epoch instead of erasing the region, so it is as
cheap and as atomic as an append. Sequence numbers are never reused; at one entry per second they
last 136 years (they pass the 31-bit small-int range of ARM ports after 34 years of 1 s entries,
from where reading a header allocates).
"""
import struct
from binascii import crc32

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_HDR = const(8)
_CRC = const(4)
_DATA = const(0x5244)  # "DR": an entry
_MARK = const(0x4D52)  # "RM": a reset marker
_EPOCH_MASK = const(0xFFFF)

# Results of _load.
_ERASED = const(0)
_BAD = const(1)
_OK = const(2)


class RingError(Exception):
    """An entry that passed recovery no longer verifies (a bit flipped since the boot scan)."""


def region_size(entry_size, capacity):
    """Bytes of NV that a ring of `capacity` entries of `entry_size` bytes occupies."""
    return (capacity + 1) * (_HDR + entry_size + _CRC)


class RingStore:
    """Ring of up to `capacity` entries of `entry_size` bytes on `nv` (an object with `size`,
    `readinto(offset, buf)`, `write(offset, buf)`) from offset `base`; recovered on construction."""

    def __init__(self, nv, base, entry_size, capacity):
        if not isinstance(entry_size, int) or entry_size < 1:
            raise ValueError("entry_size must be a positive int, got %r" % (entry_size,))
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError("capacity must be a positive int, got %r" % (capacity,))
        end = base + region_size(entry_size, capacity)
        if base < 0 or end > nv.size:
            raise ValueError("ring region %d..%d outside the memory (%d bytes)" % (base, end, nv.size))
        self._nv = nv
        self._base = base
        self._esize = entry_size
        self._slot = _HDR + entry_size + _CRC
        self._cap = capacity
        self._ns = capacity + 1
        self._buf = bytearray(self._slot)
        self._mv = memoryview(self._buf)
        self._entry = self._mv[_HDR:_HDR + entry_size]
        self._body = self._mv[:_HDR + entry_size]  # what the CRC covers
        self._good = bytearray((self._ns + 7) // 8)  # bit per slot: holds a live valid entry
        self.skipped = 0  # slots found torn or corrupt by the last recovery scan
        self._recover()

    # -- queries ----------------------------------------------------------------------------

    @property
    def capacity(self):
        """Most entries the ring keeps (profile_entries)."""
        return self._cap

    @property
    def entries_in_use(self):
        """Entries currently held (entries_in_use)."""
        return self._count

    def __len__(self):
        return self._count

    def read(self, i):
        """Entry `i` counted from the oldest (0) as a memoryview valid until the next read."""
        if not isinstance(i, int) or not 0 <= i < self._count:
            raise IndexError("ring entry %r out of range 0..%d" % (i, self._count - 1))
        seq = self._lo + 1 + i
        if self._count != self._n - self._lo:  # holes from corrupt slots: walk the bitmap
            seq = self._lo
            while i >= 0:
                seq += 1
                if self._is_good(seq % self._ns):
                    i -= 1
        return self._read_seq(seq)

    def oldest_first(self):
        """Iterate the entries oldest first (memoryviews valid until the next read). Entries
        that leave the ring while the iteration runs are skipped."""
        seq, last = self._lo + 1, self._n
        while seq <= last:
            if seq > self._lo and self._is_good(seq % self._ns):
                yield self._read_seq(seq)
            seq += 1

    __iter__ = oldest_first

    def newest_first(self):
        """Iterate the entries newest first (memoryviews valid until the next read); stops at
        entries that leave the ring while the iteration runs."""
        seq = self._n
        while seq > self._lo:
            if self._is_good(seq % self._ns):
                yield self._read_seq(seq)
            seq -= 1

    # -- updates ----------------------------------------------------------------------------

    def append(self, entry):
        """Store `entry` (exactly entry_size bytes) as the newest; the oldest goes when full."""
        if len(entry) != self._esize:
            raise ValueError("ring entry must be %d bytes, got %d" % (self._esize, len(entry)))
        self._entry[:] = entry
        seq = self._n + 1
        self._write(seq, self._epoch, _DATA)
        if seq - self._lo > self._cap:  # full: the oldest leaves the window
            self._lo += 1
            s = self._lo % self._ns
            if self._is_good(s):
                self._count -= 1
                self._set_good(s, False)
        self._set_good(seq % self._ns, True)
        self._count += 1
        self._n = seq

    def reset(self):
        """Forget every entry (profile reset): one marker slot of the next epoch is written."""
        for k in range(self._esize):
            self._entry[k] = 0
        seq = self._n + 1
        epoch = (self._epoch + 1) & _EPOCH_MASK
        self._write(seq, epoch, _MARK)
        for k in range(len(self._good)):
            self._good[k] = 0
        self._n = self._lo = seq
        self._epoch = epoch
        self._count = 0

    # -- internals --------------------------------------------------------------------------

    def _is_good(self, s):
        return self._good[s >> 3] & (1 << (s & 7))

    def _set_good(self, s, on):
        if on:
            self._good[s >> 3] |= 1 << (s & 7)
        else:
            self._good[s >> 3] &= ~(1 << (s & 7)) & 0xFF

    def _write(self, seq, epoch, kind):
        """Seal the scratch slot (entry already in place) and write it in one NV write; the RAM
        state is updated by the caller only after the write has completed."""
        mv = self._mv
        struct.pack_into("<IHH", mv, 0, seq, epoch, kind)
        struct.pack_into("<I", mv, _HDR + self._esize, crc32(self._body))
        self._nv.write(self._base + (seq % self._ns) * self._slot, mv)

    def _field(self, off, n):
        """Little-endian unsigned field of `n` bytes at `off` of the scratch slot (no tuple)."""
        mv = self._mv
        v = 0
        while n:
            n -= 1
            v = (v << 8) | mv[off + n]
        return v

    def _load(self, s):
        """Read slot `s` into the scratch buffer -> _ERASED, _BAD or _OK (then the header
        fields are valid: _field(0, 4) sequence, _field(4, 2) epoch, _field(6, 2) kind)."""
        mv = self._mv
        self._nv.readinto(self._base + s * self._slot, mv)
        kind = self._field(6, 2)
        if ((kind == _DATA or kind == _MARK) and self._field(0, 4) % self._ns == s
                and self._field(_HDR + self._esize, 4) == crc32(self._body)):
            return _OK
        for k in range(_HDR):
            if mv[k] != 0xFF:
                return _BAD
        return _ERASED

    def _read_seq(self, seq):
        s = seq % self._ns
        if self._load(s) != _OK or self._field(0, 4) != seq or self._field(6, 2) != _DATA:
            raise RingError("ring entry %d at slot %d no longer verifies" % (seq, s))
        return self._entry

    def _recover(self):
        """Rebuild newest sequence, epoch, window and bitmap from the slots (see module)."""
        ns = self._ns
        n = epoch = 0
        bad = 0
        for s in range(ns):
            state = self._load(s)
            if state == _BAD:
                bad += 1
            elif state == _OK and self._field(0, 4) > n:
                n, epoch = self._field(0, 4), self._field(4, 2)
        lo = n - self._cap if n > self._cap else 0
        for k in range(len(self._good)):
            self._good[k] = 0
        for s in range(ns):
            if self._load(s) != _OK:
                continue
            seq = self._field(0, 4)
            if seq <= n - self._cap or seq > n:
                continue
            if self._field(6, 2) == _MARK or self._field(4, 2) != epoch:
                if seq > lo:
                    lo = seq
            else:
                self._set_good(s, True)
        count = 0
        for seq in range(lo + 1, n + 1):
            if self._is_good(seq % ns):
                count += 1
        for s in range(ns):  # forget good bits below the window floor (old epochs, pre-reset)
            seq = n - ((n - s) % ns)
            if seq <= lo:
                self._set_good(s, False)
        self._n, self._lo, self._epoch, self._count = n, lo, epoch, count
        self.skipped = bad
