# NV ring buffer under the real micropython binary: FIFO wrap, recovery, a power cut at every byte
# of an append (clean and torn), and appends that allocate nothing once the ring is built.
import struct

import micropython
import sim_nv
from runtime.ringstore import RingStore

_ESIZE = 6
_SLOT = 8 + _ESIZE + 4


def _entry(k):
    return struct.pack("<IH", k, k)


def _rows(ring):
    return [bytes(e) for e in ring.oldest_first()]


def test_fifo_and_recovery():
    nv = sim_nv.NvMem(512)
    r = RingStore(nv, 10, _ESIZE, 3)
    for k in range(7):
        r.append(_entry(k))
    want = [_entry(k) for k in (4, 5, 6)]
    again = RingStore(nv, 10, _ESIZE, 3)
    if _rows(r) != want or _rows(again) != want or bytes(again.read(2)) != _entry(6):
        raise AssertionError(repr(_rows(again)))
    if [bytes(e) for e in again.newest_first()] != want[::-1]:
        raise AssertionError("newest first")
    again.reset()
    if len(RingStore(nv, 10, _ESIZE, 3)) != 0:
        raise AssertionError("reset lost")


def _campaign(torn):
    for cut in range(_SLOT + 1):
        nv = sim_nv.NvMem(512, page=8)
        r = RingStore(nv, 0, _ESIZE, 4)
        for k in range(6):
            r.append(_entry(k))
        old = _rows(r)
        nv.cut_after(cut, torn=torn, seed=cut + 1)
        try:
            r.append(_entry(99))
        except sim_nv.PowerCut:
            pass
        nv.restore()
        got = _rows(RingStore(nv, 0, _ESIZE, 4))
        new = old[1:] + [_entry(99)]
        if got != new and (cut == _SLOT or got != old):
            raise AssertionError("cut at %d gave %r" % (cut, got))


def test_power_cut_at_every_byte():
    _campaign(False)


def test_torn_page_at_every_byte():
    _campaign(True)


class _PlainNv:
    """NV fake whose accesses copy byte by byte, so that only the ring's own allocations count."""

    def __init__(self, size):
        self.size = size
        self._mem = bytearray(b"\xff" * size)

    def readinto(self, offset, buf):
        mem = self._mem
        for k in range(len(buf)):
            buf[k] = mem[offset + k]

    def write(self, offset, buf):
        mem = self._mem
        for k in range(len(buf)):
            mem[offset + k] = buf[k]


def test_append_and_read_do_not_allocate():
    nv = _PlainNv(512)
    r = RingStore(nv, 0, _ESIZE, 4)
    e = bytearray(_entry(1))
    for _ in range(4):
        r.append(e)
    r.read(0)
    micropython.heap_lock()
    try:
        for _ in range(10):
            r.append(e)
            r.read(3)
    finally:
        micropython.heap_unlock()
    if len(r) != 4:
        raise AssertionError("entries_in_use %d" % len(r))
