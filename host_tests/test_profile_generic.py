"""Class 7 profile generic over a ring-backed profile buffer: selective access by range and by
entry with column subsets against a plain list model (hypothesis), reversed and absurd ranges,
entries beyond the buffer, profile_entries, rows leaving the buffer during a long read."""
import pytest
from hypothesis import given, settings, strategies as st

import sim_nv
from core import civil, dst
from cosem import errors, profile
from dlms import axdr
from runtime import ringstore
from runtime.profile_buffer import ProfileBuffer, clock_octets, entry_size

S, A, OS, DLU, LU = (axdr.STRUCTURE, axdr.ARRAY, axdr.OCTET_STRING, axdr.DOUBLE_LONG_UNSIGNED,
                     axdr.LONG_UNSIGNED)
RULE = dst.eu_rule(-60)
T0 = civil.to_epoch(2026, 3, 28, 0, 0, 0)       # the night of a DST change is in range
CLOCK = (8, bytes((0, 0, 1, 0, 0, 255)), 2, 0)
STATUS = (1, bytes((0, 0, 96, 10, 1, 255)), 2, 0)
APLUS = (3, bytes((1, 0, 1, 8, 0, 255)), 2, 0)
AMINUS = (3, bytes((1, 0, 2, 8, 0, 255)), 2, 0)
OBJECTS = (CLOCK, STATUS, APLUS, AMINUS)
KINDS = "TBIi"


def make(capacity=40, n=0, step=900, nv=None):
    nv = nv or sim_nv.NvMem(8192)
    ring = ringstore.RingStore(nv, 0, entry_size(KINDS), capacity)
    buf = ProfileBuffer(ring, KINDS, lambda: RULE)
    rows = []
    for k in range(n):
        row = (T0 + k * step, k & 0xFF, 1000 * k, -7 * k)
        buf.append(row)
        rows.append(row)
    return buf, rows


def cells(row):
    return [(OS, clock_octets(row[0], RULE)), (axdr.UNSIGNED, row[1]), (DLU, row[2]),
            (axdr.DOUBLE_LONG, row[3])]


def read(buf, selector=None, params=None):
    arr = profile.select(buf, OBJECTS, selector, params)
    data = axdr.decode_all(b"".join(arr.chunks()))
    assert data[0] == A
    return data[1]


def entry(e0, e1, c0=1, c1=0):
    return S, [(DLU, e0), (DLU, e1), (LU, c0), (LU, c1)]


def dt(t, deviation=True):
    y, mo, d, wd, h, mi, s, dev, _ = dst.clock_fields(t, RULE)
    return OS, axdr.pack_datetime(y, mo, d, wd, h, mi, s, 0, dev if deviation else None, None)


def rng(t0, t1, cols=(), restricting=CLOCK):
    return S, [profile.capture_object(restricting), t0, t1,
               (A, [profile.capture_object(c) for c in cols])]


def test_whole_buffer_decodes_every_row_oldest_first():
    buf, rows = make(n=5)
    assert read(buf) == [(S, cells(r)) for r in rows]
    assert buf.instant(4) == rows[4][0] and len(buf) == 5


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 30), e0=st.integers(1, 40), e1=st.integers(0, 40),
       c0=st.integers(1, 4), c1=st.integers(0, 4))
def test_entry_selection_matches_the_list_model(n, e0, e1, c0, c1):
    buf, rows = make(n=n)
    if c1 and c1 < c0 or (e1 and e1 < e0):
        with pytest.raises(errors.OtherReason):
            read(buf, 2, entry(e0, e1, c0, c1))
        return
    hi = n if e1 == 0 else min(e1, n)
    last = 4 if c1 == 0 else c1
    want = [(S, cells(r)[c0 - 1:last]) for r in rows[e0 - 1:hi]]
    assert read(buf, 2, entry(e0, e1, c0, c1)) == want


@settings(max_examples=150, deadline=None)
@given(n=st.integers(0, 30), a=st.integers(-3, 34), b=st.integers(-3, 34),
       cols=st.lists(st.sampled_from(OBJECTS), max_size=4), local=st.booleans())
def test_range_selection_matches_the_list_model(n, a, b, cols, local):
    buf, rows = make(n=n, step=3600)     # hourly rows across the DST change of 2026-03-29
    t0, t1 = T0 + a * 3600 + 60, T0 + b * 3600
    want_cols = [OBJECTS.index(c) for c in cols] or [0, 1, 2, 3]
    want = [(S, [cells(r)[k] for k in want_cols]) for r in rows if t0 <= r[0] <= t1]
    assert read(buf, 1, rng(dt(t0, not local), dt(t1, not local), cols)) == want


def test_reversed_range_is_an_empty_array_and_open_bounds_take_everything():
    buf, rows = make(n=10)
    assert read(buf, 1, rng(dt(T0 + 9000), dt(T0))) == []
    unspecified = (OS, b"\xff" * 9 + b"\x80\x00\xff")
    assert len(read(buf, 1, rng(unspecified, unspecified))) == 10
    assert len(read(buf, 1, rng(dt(T0 + 900 * 8), unspecified))) == 2
    dt_tag = (axdr.DATE_TIME, dt(T0)[1])
    assert len(read(buf, 1, rng(dt_tag, dt(T0 + 900)))) == 2


def test_range_follows_buffer_order_after_a_clock_set_backwards():
    buf, rows = make(n=4)
    back = (T0 + 900, 0x20, 77, 0)         # the clock went back: an older instant comes last
    buf.append(back)
    got = read(buf, 1, rng(dt(T0 + 900), dt(T0 + 900)))
    assert got == [(S, cells(rows[1])), (S, cells(back))]


@pytest.mark.parametrize("params, result", [
    (entry(0, 3), errors.OTHER_REASON),                      # entries count from 1
    (entry(1, 3, 0, 0), errors.OTHER_REASON),
    (entry(1, 3, 5, 0), errors.OTHER_REASON),                # beyond the capture objects
    (entry(1, 3, 3, 2), errors.OTHER_REASON),
    ((S, [(DLU, 1), (DLU, 2), (LU, 1)]), errors.TYPE_UNMATCHED),
    ((S, [(LU, 1), (DLU, 2), (LU, 1), (LU, 0)]), errors.TYPE_UNMATCHED),
    ((axdr.NULL, None), errors.TYPE_UNMATCHED),
])
def test_bad_entry_descriptors_are_refused(params, result):
    buf, _ = make(n=3)
    with pytest.raises(errors.AccessError) as e:
        read(buf, 2, params)
    assert e.value.result == result


@pytest.mark.parametrize("params, result", [
    (rng(dt(T0), dt(T0 + 900), restricting=APLUS), errors.OTHER_REASON),
    (rng(dt(T0), dt(T0 + 900), restricting=(8, bytes(6), 2, 0)), errors.OTHER_REASON),
    (rng(dt(T0), dt(T0 + 900), cols=[(3, bytes((1, 0, 3, 8, 0, 255)), 2, 0)]),
     errors.OTHER_REASON),
    (rng((OS, b"\x07\xea\x0d\x01\xff\x00\x00\x00\x00\x80\x00\xff"), dt(T0)),
     errors.OTHER_REASON),                                   # month 13
    (rng((OS, b"\x07\xea\xff\x01\xff\x00\x00\x00\x00\x80\x00\xff"), dt(T0)),
     errors.OTHER_REASON),                                   # month not specified
    (rng((OS, b"\x08\x34\x01\x01\xff\x00\x00\x00\x00\x80\x00\xff"), dt(T0)),
     errors.OTHER_REASON),                                   # year 2100
    (rng((OS, b"\x00" * 11), dt(T0)), errors.TYPE_UNMATCHED),
    (rng((DLU, 5), dt(T0)), errors.TYPE_UNMATCHED),
    ((S, [profile.capture_object(CLOCK), dt(T0), dt(T0)]), errors.TYPE_UNMATCHED),
    ((S, [profile.capture_object(CLOCK), dt(T0), dt(T0), (DLU, 0)]), errors.TYPE_UNMATCHED),
])
def test_bad_range_descriptors_are_refused(params, result):
    buf, _ = make(n=3)
    with pytest.raises(errors.AccessError) as e:
        read(buf, 1, params)
    assert e.value.result == result


def test_entries_beyond_the_buffer_select_nothing_or_are_cut():
    buf, rows = make(n=5)
    assert read(buf, 2, entry(6, 0)) == []
    assert read(buf, 2, entry(9, 12)) == []
    assert read(buf, 2, entry(4, 99)) == [(S, cells(r)) for r in rows[3:]]
    empty, _ = make()
    assert read(empty, 2, entry(1, 0)) == [] and read(empty) == []


def test_wrap_keeps_the_newest_capacity_rows():
    buf, rows = make(capacity=7, n=20)
    assert len(buf) == 7 and read(buf) == [(S, cells(r)) for r in rows[-7:]]
    assert buf.dropped == 13


def test_profile_entries_limits_the_rows_shown():
    buf, rows = make(capacity=10, n=8)
    buf.set_limit(3)
    assert len(buf) == 3 and read(buf) == [(S, cells(r)) for r in rows[-3:]]
    for bad in (0, 11, -1, True and 2 ** 40):
        with pytest.raises(ValueError):
            buf.set_limit(bad)
    assert buf.limit == 3
    buf.set_limit(10)
    assert len(buf) == 8


def test_a_row_leaving_the_buffer_during_a_read_ends_it_with_temporary_failure():
    buf, rows = make(capacity=5, n=5)
    arr = profile.select(buf, OBJECTS, None, None)
    it = iter(arr)
    assert next(it) == (S, cells(rows[0]))
    buf.append((T0 + 99998, 0, 0, 0))         # rows 0 and 1 leave the buffer
    buf.append((T0 + 99999, 0, 0, 0))
    with pytest.raises(errors.TemporaryFailure):
        next(it)


def test_rows_appended_during_a_read_are_not_sent_and_nothing_shifts():
    buf, rows = make(capacity=50, n=5)
    it = iter(profile.select(buf, OBJECTS, 2, entry(2, 0)))
    assert next(it) == (S, cells(rows[1]))
    buf.append((T0 + 99999, 0, 0, 0))
    assert list(it) == [(S, cells(r)) for r in rows[2:]]


def test_reset_forgets_every_row_and_ends_a_read():
    buf, rows = make(n=4)
    it = iter(profile.select(buf, OBJECTS, None, None))
    next(it)
    buf.reset()
    assert len(buf) == 0
    with pytest.raises(errors.TemporaryFailure):
        next(it)
    buf.append(rows[0])
    assert read(buf) == [(S, cells(rows[0]))]


def test_rows_survive_a_reopen_of_the_ring():
    nv = sim_nv.NvMem(8192)
    buf, rows = make(capacity=6, n=9, nv=nv)
    again = ProfileBuffer(ringstore.RingStore(nv, 0, entry_size(KINDS), 6), KINDS, lambda: RULE)
    assert read(again) == [(S, cells(r)) for r in rows[-6:]]


def test_buffer_rejects_columns_it_cannot_store():
    ring = ringstore.RingStore(sim_nv.NvMem(4096), 0, 5, 4)
    for kinds in ("BT", "Tq", ""):
        with pytest.raises(ValueError):
            ProfileBuffer(ring, kinds, lambda: RULE)
    with pytest.raises(ValueError):
        ProfileBuffer(ring, "TI", lambda: RULE).append((1, 2))   # 8 octets in a 5-octet ring


def test_unknown_selector_is_scope_violated():
    buf, _ = make(n=1)
    with pytest.raises(errors.ScopeViolated):
        profile.select(buf, OBJECTS, 3, entry(1, 0))


def test_a_row_that_rots_during_a_read_ends_it_with_temporary_failure():
    nv = sim_nv.NvMem(8192)
    buf, rows = make(capacity=8, n=4, nv=nv)
    it = iter(profile.select(buf, OBJECTS, None, None))
    next(it)
    slot = 8 + entry_size(KINDS) + 4
    nv.flip(3 * slot + 10, 3)                 # row 2 (sequence 3, slot 3) rots
    assert next(it) == (S, cells(rows[1]))
    with pytest.raises(errors.TemporaryFailure):
        next(it)


def test_a_ring_without_room_in_nv_is_kept_in_ram():
    from runtime import nvlayout
    from runtime.profile_buffer import RAM_ROWS, open_ring
    small = sim_nv.NvMem(16384)                # the records region alone does not fit
    ring = open_ring(small, "profile.lp1")
    assert ring.capacity == RAM_ROWS and small.writes == 0
    buf = ProfileBuffer(ring, "TBIIIIII", lambda: RULE)
    for k in range(RAM_ROWS + 3):
        buf.append((T0 + k, 0, k, 0, 0, 0, 0, 0))
    assert len(buf) == RAM_ROWS and buf.values(0)[2] == 3 and small.writes == 0
    big = sim_nv.NvMem()
    assert open_ring(big, "profile.lp1").capacity == nvlayout.ring_capacity(big.size,
                                                                            "profile.lp1")
