"""NV ring buffer: FIFO semantics, recovery after reboot, power cuts at every byte, bit flips."""
import struct

import pytest

import sim_nv
from runtime import ringstore
from runtime.ringstore import RingError, RingStore

ESIZE = 6
SLOT = 8 + ESIZE + 4


def entry(k):
    return struct.pack("<IH", k, k & 0xFFFF)


def rows(ring, newest_first=False):
    it = ring.newest_first() if newest_first else ring.oldest_first()
    return [bytes(e) for e in it]


def make(nv=None, cap=4, base=16):
    nv = nv or sim_nv.NvMem(1024, page=16)
    return nv, RingStore(nv, base, ESIZE, cap)


def test_empty_ring_on_erased_memory():
    _, r = make()
    assert (r.entries_in_use, len(r), r.capacity, r.skipped) == (0, 0, 4, 0)
    assert rows(r) == [] and rows(r, True) == []
    with pytest.raises(IndexError):
        r.read(0)


def test_fifo_wraps_and_keeps_the_newest_capacity_entries():
    nv, r = make()
    for k in range(1, 11):
        r.append(entry(k))
        want = [entry(j) for j in range(max(1, k - 3), k + 1)]
        assert rows(r) == want
        assert rows(r, True) == want[::-1]
        assert [bytes(r.read(i)) for i in range(len(r))] == want
    assert RingStore(nv, 16, ESIZE, 4).entries_in_use == 4
    assert rows(RingStore(nv, 16, ESIZE, 4)) == [entry(j) for j in range(7, 11)]


def test_region_stays_inside_its_bounds():
    nv = sim_nv.NvMem(256)
    r = RingStore(nv, 100, ESIZE, 4)
    assert ringstore.region_size(ESIZE, 4) == 5 * SLOT
    for k in range(20):
        r.append(entry(k))
    assert nv._mem[:100] == b"\xff" * 100
    assert nv._mem[100 + 5 * SLOT:] == b"\xff" * (256 - 100 - 5 * SLOT)


def test_reset_is_one_slot_write_and_survives_reboot():
    nv, r = make()
    for k in range(6):
        r.append(entry(k))
    before = nv.bytes_written
    r.reset()
    assert nv.bytes_written - before == SLOT
    assert len(r) == 0 and rows(r) == []
    assert len(RingStore(nv, 16, ESIZE, 4)) == 0
    r.append(entry(99))
    again = RingStore(nv, 16, ESIZE, 4)
    assert rows(again) == [entry(99)]


def test_old_epoch_rows_stay_dead_when_the_reset_marker_rots():
    nv, r = make(cap=6)
    for k in range(3):
        r.append(entry(k))
    r.reset()
    marker_slot = 4 % 7
    r.append(entry(50))
    nv.flip(16 + marker_slot * SLOT + 9, 3)
    again = RingStore(nv, 16, ESIZE, 6)
    assert rows(again) == [entry(50)] and again.skipped == 1


def test_bad_arguments_are_refused():
    nv = sim_nv.NvMem(256)
    for args in ((0, ESIZE, 0), (0, 0, 4), (-1, ESIZE, 4), (200, ESIZE, 4)):
        with pytest.raises(ValueError):
            RingStore(nv, *args)
    r = RingStore(nv, 0, ESIZE, 4)
    with pytest.raises(ValueError):
        r.append(b"short")
    with pytest.raises(IndexError):
        r.read(-1)


def _cut_campaign(torn, cap, n_before):
    """Cut the supply at every byte of one append; recovery gives the old rows or old + new."""
    for cut in range(SLOT + 1):
        nv = sim_nv.NvMem(512, page=8)
        r = RingStore(nv, 24, ESIZE, cap)
        for k in range(n_before):
            r.append(entry(k))
        old = rows(r)
        nv.cut_after(cut, torn=torn, seed=cut + 7)
        try:
            r.append(entry(1000))
        except sim_nv.PowerCut:
            pass
        nv.restore()
        again = RingStore(nv, 24, ESIZE, cap)
        got = rows(again)
        new = (old + [entry(1000)])[-cap:]
        if cut == SLOT:
            assert got == new
        else:
            assert got in (old, new), (cut, got)
        assert [bytes(again.read(i)) for i in range(len(again))] == got
        # the ring goes on normally after the cut
        again.append(entry(2000))
        assert rows(RingStore(nv, 24, ESIZE, cap)) == (got + [entry(2000)])[-cap:]


@pytest.mark.parametrize("torn", [False, True])
@pytest.mark.parametrize("n_before", [0, 2, 5, 11])
def test_power_cut_at_every_byte_of_an_append(torn, n_before):
    _cut_campaign(torn, 5, n_before)


@pytest.mark.parametrize("torn", [False, True])
def test_power_cut_at_every_byte_of_a_reset(torn):
    for cut in range(SLOT + 1):
        nv = sim_nv.NvMem(512, page=8)
        r = RingStore(nv, 0, ESIZE, 3)
        for k in range(5):
            r.append(entry(k))
        old = rows(r)
        nv.cut_after(cut, torn=torn, seed=cut + 3)
        try:
            r.reset()
        except sim_nv.PowerCut:
            pass
        nv.restore()
        got = rows(RingStore(nv, 0, ESIZE, 3))
        assert got == [] if cut == SLOT else got in (old, [])


def test_bit_flip_in_an_old_entry_skips_only_that_entry():
    nv, r = make(cap=5)
    for k in range(8):
        r.append(entry(k))
    # entry(k) has sequence number k + 1: entry(5) sits in slot 6 % 6
    nv.flip(16 + 0 * SLOT + 10, 1)
    again = RingStore(nv, 16, ESIZE, 5)
    want = [entry(k) for k in (3, 4, 6, 7)]
    assert again.skipped == 1 and len(again) == 4
    assert rows(again) == want and rows(again, True) == want[::-1]
    assert [bytes(again.read(i)) for i in range(4)] == want
    # the hole leaves the window as the ring turns over
    for k in range(8, 11):
        again.append(entry(k))
        assert rows(again) == [e for e in [entry(j) for j in range(k - 4, k + 1)] if e != entry(5)]
    assert len(again) == 5


def test_bit_flip_in_the_newest_entry_loses_it_and_the_ring_continues():
    nv, r = make(cap=4)
    for k in range(3):
        r.append(entry(k))
    nv.flip(16 + 3 * SLOT + 12, 0)  # sequence 3 (entry(2)) sits in slot 3
    again = RingStore(nv, 16, ESIZE, 4)
    assert rows(again) == [entry(0), entry(1)]
    again.append(entry(7))
    assert rows(RingStore(nv, 16, ESIZE, 4)) == [entry(0), entry(1), entry(7)]


def test_read_of_an_entry_that_rotted_after_the_scan_raises():
    nv, r = make()
    r.append(entry(1))
    nv.flip(16 + 1 * SLOT + 9, 0)
    with pytest.raises(RingError):
        r.read(0)


def test_iteration_while_appending_skips_entries_that_left():
    _, r = make(cap=3)
    for k in range(3):
        r.append(entry(k))
    it = r.oldest_first()
    assert bytes(next(it)) == entry(0)
    r.append(entry(3))  # entry(0) leaves
    r.append(entry(4))  # entry(1) leaves
    assert [bytes(e) for e in it] == [entry(2)]
    it = r.newest_first()
    assert bytes(next(it)) == entry(4)
    r.append(entry(5))  # entry(2) leaves, entry(3) stays
    assert [bytes(e) for e in it] == [entry(3)]
