"""Power-fail-safe record store on byte-writable NV memory (FRAM-like: no erase step).

Each record key owns two fixed copies, A and B, allocated in registration order (register keys in a
fixed order; appending new keys keeps the old layout). A copy is

    magic u16 | length u16 | key tag u32 | sequence u32 | data (length bytes) | CRC-32 u32

little-endian, the CRC covering header and data. `read` returns the data of the newest valid copy
(highest sequence number, serial arithmetic): the old or the new record, never a torn one.

`write` first checks that the copy it keeps is still valid and still the newest (re-read and
CRC-checked: a retention error since the last access moves the newest to the other copy), then puts
the new record into the other copy in one NV write. A power cut at any byte therefore leaves the
newest valid copy untouched. The new sequence number exceeds every sequence number found in either
copy's header, valid or not, and when the copy to be overwritten is broken (not erased, not a valid
older record) its sequence field is rewritten first, in a separate 4-byte write, with a value whose
every byte differs from the stored one in 0 or at least 2 bits. Whatever subset of those bytes
lands, the broken copy can then no longer pass as the record it once held, even when the bytes
written after it repair the defect (a torn page, or one flipped bit of the sequence field itself):
a stale record can never come back and outrank the valid one.
"""
import struct
from binascii import crc32

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_MAGIC = const(0x5352)  # "RS"
_HDR = const(12)
_CRC = const(4)
_ALIGN = const(4)
_MAX_LEN = const(0xFFFF)
_SEQ_MASK = const(0xFFFFFFFF)
_HALF = const(0x80000000)
_QUARTER = const(0x40000000)
_SEQ_AT = const(8)      # offset of the sequence number in a copy
_SPREAD_TRIES = const(16)

_ERASED = const(0)
_INVALID = const(1)
_VALID = const(2)

# Fields of a slot (a list per key): key tag, addresses of copies A and B, max data length,
# newest valid copy (0, 1 or -1: none or not known yet) and its sequence number, then per copy the
# state last seen (_ERASED, _INVALID, _VALID) and the sequence field of its header.
_S_TAG = const(0)
_S_ADDR = const(1)
_S_MAX = const(3)
_S_NEWEST = const(4)
_S_SEQ = const(5)
_S_STATE = const(6)
_S_HSEQ = const(8)


class NvStore:
    """Records on `nv` (an object with `size`, `readinto(offset, buf)`, `write(offset, buf)`),
    inside `size` bytes from `base` (default: to the end of the memory)."""

    def __init__(self, nv, base=0, size=None):
        end = nv.size if size is None else base + size
        if base < 0 or end > nv.size or base >= end:
            raise ValueError("NV store region %d..%d outside the memory (%d bytes)" % (base, end, nv.size))
        self._nv = nv
        self._base = base
        self._next = base
        self._end = end
        self._slots = {}  # key -> slot (see _S_*)
        self._tags = set()
        self._buf = bytearray(_HDR + _CRC)
        self._len = 0  # data length of the copy _load last found valid
        self.write_errors = 0  # writes the NV memory refused with an OSError
        self._mv = memoryview(self._buf)

    def register(self, key, max_len):
        """Reserve the two copies of record `key` (a str) for data of up to `max_len` bytes."""
        if not isinstance(key, str):
            raise ValueError("record key must be a str, got %r" % (key,))
        if not isinstance(max_len, int) or not 0 <= max_len <= _MAX_LEN:
            raise ValueError("record %r: max_len must be 0..%d, got %r" % (key, _MAX_LEN, max_len))
        if key in self._slots:
            raise ValueError("record %r registered twice" % (key,))
        tag = crc32(key.encode())
        if tag in self._tags:
            raise ValueError("record %r: its key tag clashes with another record" % (key,))
        n = (_HDR + max_len + _CRC + _ALIGN - 1) // _ALIGN * _ALIGN
        if self._next + 2 * n > self._end:
            raise ValueError("NV store full: record %r needs %d bytes, %d left"
                             % (key, 2 * n, self._end - self._next))
        self._slots[key] = [tag, self._next, self._next + n, max_len, -1, 0, _ERASED, _ERASED,
                             0, 0]
        self._tags.add(tag)
        self._next += 2 * n
        if len(self._buf) < n:
            self._buf = bytearray(n)
            self._mv = memoryview(self._buf)

    def used(self):
        """Bytes of the region allocated so far."""
        return self._next - self._base

    def write(self, key, data):
        """Store `data` (bytes-like) as the newest record of `key`."""
        s = self._slot(key)
        n = len(data)
        if n > s[_S_MAX]:
            raise ValueError("record %r: %d bytes exceed its max_len %d" % (key, n, s[_S_MAX]))
        newest = s[_S_NEWEST]
        if newest < 0 or self._load(s, newest) != (_VALID, s[_S_SEQ]):
            self._scan(s)
            newest = s[_S_NEWEST]
        target = 1 if newest == 0 else 0
        broken = s[_S_STATE + target] == _INVALID
        seq = self._next_seq(s, target, broken)
        mv = self._mv
        struct.pack_into("<HHII", mv, 0, _MAGIC, n, s[_S_TAG], seq)
        mv[_HDR:_HDR + n] = data
        struct.pack_into("<I", mv, _HDR + n, crc32(mv[:_HDR + n]))
        addr = s[_S_ADDR + target]
        s[_S_NEWEST] = -1  # unknown (scan again) until the write has completed
        try:
            if broken:
                self._nv.write(addr + _SEQ_AT, mv[_SEQ_AT:_HDR])
            self._nv.write(addr, mv[:_HDR + n + _CRC])
        except OSError:
            self.write_errors += 1     # the memory itself failed (bus error): for diagnostics
            raise
        s[_S_NEWEST] = target
        s[_S_SEQ] = seq
        s[_S_STATE + target] = _VALID
        s[_S_HSEQ + target] = seq

    def _next_seq(self, s, target, broken):
        """Sequence number of the next record of slot `s`, to be written into copy `target`
        (`broken`: that copy holds neither a valid record nor erased memory)."""
        newest = s[_S_NEWEST]
        seq = (s[_S_SEQ] + 1) & _SEQ_MASK if newest >= 0 else 1
        # Exceed the sequence field of every header that is not a valid record (a valid one is
        # older than the newest by definition), as long as it lies plausibly ahead.
        for c in (0, 1):
            if s[_S_STATE + c] == _INVALID and (s[_S_HSEQ + c] - seq) & _SEQ_MASK < _QUARTER:
                seq = (s[_S_HSEQ + c] + 1) & _SEQ_MASK
        if broken:
            seq = _spread(seq, s[_S_HSEQ + target])
        return seq

    def read(self, key):
        """The data of the newest valid copy of `key` (bytes), or None if no copy is valid."""
        s = self._slot(key)
        self._scan(s)
        if s[_S_NEWEST] < 0:
            return None
        self._load(s, s[_S_NEWEST])
        n = self._len
        return bytes(self._mv[_HDR:_HDR + n])

    def health(self):
        """Diagnostics over every registered record: counts of copies that are valid, invalid
        (written but failing the checks) and erased, and the keys that have no valid copy left
        although something was written ("lost")."""
        valid = invalid = erased = 0
        lost = []
        for key, s in self._slots.items():
            states = (self._load(s, 0)[0], self._load(s, 1)[0])
            valid += states.count(_VALID)
            invalid += states.count(_INVALID)
            erased += states.count(_ERASED)
            if _INVALID in states and _VALID not in states:
                lost.append(key)
        lost.sort()
        return {"records": len(self._slots), "valid": valid, "invalid": invalid, "erased": erased,
                "lost": lost}

    def _slot(self, key):
        s = self._slots.get(key)
        if s is None:
            raise KeyError("record %r is not registered" % (key,))
        return s

    def _scan(self, s):
        """Find the newest valid copy of slot `s` (index or -1) and its sequence number; note the
        state and header sequence field of both copies."""
        newest, seq = -1, 0
        for c in (0, 1):
            state, sq = self._load(s, c)
            s[_S_STATE + c] = state
            s[_S_HSEQ + c] = sq
            if state == _VALID and (newest < 0 or 0 < ((sq - seq) & _SEQ_MASK) < _HALF):
                newest, seq = c, sq
        s[_S_NEWEST] = newest
        s[_S_SEQ] = seq

    def _load(self, s, c):
        """Read copy `c` of slot `s` into the scratch buffer -> (state, sequence field); the data
        length of a valid copy is left in self._len."""
        mv = self._mv
        addr = s[_S_ADDR + c]
        self._nv.readinto(addr, mv[:_HDR])
        magic, n, tag, seq = struct.unpack_from("<HHII", mv, 0)
        if magic != _MAGIC or tag != s[_S_TAG] or n > s[_S_MAX]:
            for b in mv[:_HDR]:
                if b != 0xFF:
                    return _INVALID, seq
            return _ERASED, seq
        self._nv.readinto(addr + _HDR, mv[_HDR:_HDR + n + _CRC])
        if struct.unpack_from("<I", mv, _HDR + n)[0] != crc32(mv[:_HDR + n]):
            return _INVALID, seq
        self._len = n
        return _VALID, seq


def _bits(b):
    n = 0
    while b:
        b &= b - 1
        n += 1
    return n


def _spread(seq, old):
    """The first number from `seq` on (in small steps) that differs from `old`, each byte in 0 or
    at least 2 bits: writing any subset of its bytes over `old` never gives a value one bit away
    from `old` (the true sequence number of a copy whose sequence field took one bit flip)."""
    for _ in range(_SPREAD_TRIES):
        x = seq ^ old
        if x == 0:
            seq = (seq + 1) & _SEQ_MASK
            continue
        shift = 0
        while shift < 32 and _bits(x >> shift & 0xFF) != 1:
            shift += 8
        if shift == 32:
            return seq
        seq = (seq + (1 << shift)) & _SEQ_MASK
    return seq
