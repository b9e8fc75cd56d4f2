"""Power-fail-safe record store on byte-writable NV memory (FRAM-like: no erase step).

Each record key owns two fixed copies, A and B, allocated in registration order (register keys in a
fixed order; appending new keys keeps the old layout). A copy is

    magic u16 | length u16 | key tag u32 | sequence u32 | data (length bytes) | CRC-32 u32

little-endian, the CRC covering header and data. `write` puts the new record, with the newest
sequence number + 1, into the copy that does not hold the newest valid record, in one NV write.
A power cut at any byte therefore leaves the newest valid copy untouched, and the copy being written
fails its CRC (its sequence number differs from what was there, so a partly rewritten copy cannot
pass as the old one). `read` returns the data of the newest valid copy: the old or the new record,
never a torn one.
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

_ERASED = const(0)
_INVALID = const(1)
_VALID = const(2)

# Fields of a slot (a list per key): key tag, addresses of copies A and B, max data length,
# newest valid copy (0, 1 or -1: none or not known yet) and its sequence number.
_S_TAG = const(0)
_S_ADDR = const(1)
_S_MAX = const(3)
_S_NEWEST = const(4)
_S_SEQ = const(5)


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
        self._slots[key] = [tag, self._next, self._next + n, max_len, -1, 0]
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
        if s[_S_NEWEST] < 0:
            self._scan(s)
        target = 1 if s[_S_NEWEST] == 0 else 0
        seq = (s[_S_SEQ] + 1) & _SEQ_MASK
        mv = self._mv
        struct.pack_into("<HHII", mv, 0, _MAGIC, n, s[_S_TAG], seq)
        mv[_HDR:_HDR + n] = data
        struct.pack_into("<I", mv, _HDR + n, crc32(mv[:_HDR + n]))
        s[_S_NEWEST] = -1  # unknown until the write has completed
        self._nv.write(s[_S_ADDR + target], mv[:_HDR + n + _CRC])
        s[_S_NEWEST] = target
        s[_S_SEQ] = seq

    def read(self, key):
        """The data of the newest valid copy of `key` (bytes), or None if no copy is valid."""
        s = self._slot(key)
        self._scan(s)
        if s[_S_NEWEST] < 0:
            return None
        n = self._load(s, s[_S_NEWEST])[1]
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
        """Find the newest valid copy of slot `s` (index or -1) and its sequence number."""
        newest, seq = -1, 0
        for c in (0, 1):
            state, _, sq = self._load(s, c)
            if state == _VALID and (newest < 0 or 0 < ((sq - seq) & _SEQ_MASK) < _HALF):
                newest, seq = c, sq
        s[_S_NEWEST] = newest
        s[_S_SEQ] = seq

    def _load(self, s, c):
        """Read copy `c` of slot `s` into the scratch buffer -> (state, length, sequence)."""
        mv = self._mv
        addr = s[_S_ADDR + c]
        self._nv.readinto(addr, mv[:_HDR])
        magic, n, tag, seq = struct.unpack_from("<HHII", mv, 0)
        if magic != _MAGIC or tag != s[_S_TAG] or n > s[_S_MAX]:
            for b in mv[:_HDR]:
                if b != 0xFF:
                    return _INVALID, 0, 0
            return _ERASED, 0, 0
        self._nv.readinto(addr + _HDR, mv[_HDR:_HDR + n + _CRC])
        if struct.unpack_from("<I", mv, _HDR + n)[0] != crc32(mv[:_HDR + n]):
            return _INVALID, 0, 0
        return _VALID, n, seq
