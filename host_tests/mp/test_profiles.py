# Profile buffers and class-7 selective access under the real micropython binary: rows decoded
# lazily, entry and range selection, live heap bounded while a large buffer streams, event-log
# sinks and capture instants.
import gc

import sim_nv
from core import civil, dst
from cosem import errors, profile
from dlms import axdr
from runtime import profiles
from runtime.logs import EventSink
from runtime.profile_buffer import ProfileBuffer, entry_size
from runtime.ringstore import RingStore

_RULE = dst.eu_rule(-60)
_T0 = civil.to_epoch(2026, 1, 14, 0, 0, 0)
_KINDS = "TBIIIIII"
_CLOCK = (8, b"\x00\x00\x01\x00\x00\xff", 2, 0)
_APLUS = (3, b"\x01\x00\x01\x08\x00\xff", 2, 0)
_OBJECTS = (_CLOCK, (1, b"\x00\x00\x60\x0a\x01\xff", 2, 0), _APLUS) + tuple(
    (3, bytes((1, 0, c, 8, 0, 255)), 2, 0) for c in (2, 5, 6, 7, 8))


def _buffer(n, capacity=None):
    nv = sim_nv.NvMem(200000)
    ring = RingStore(nv, 0, entry_size(_KINDS), capacity or max(n, 1))
    buf = ProfileBuffer(ring, _KINDS, lambda: _RULE)
    for k in range(n):
        buf.append((_T0 + 900 * k, 0, 500 * k, 0, 290 * k, 0, 0, 0))
    return buf


def _decode(arr):
    return axdr.decode_all(b"".join(arr.chunks()))[1]


def _dt(t):
    y, mo, d, wd, h, mi, s, dev, _ = dst.clock_fields(t, _RULE)
    return axdr.OCTET_STRING, axdr.pack_datetime(y, mo, d, wd, h, mi, s, 0, dev, None)


def test_entry_and_range_selection():
    buf = _buffer(30)
    rows = _decode(profile.select(buf, _OBJECTS, None, None))
    if len(rows) != 30 or rows[3][1][2] != (axdr.DOUBLE_LONG_UNSIGNED, 1500):
        raise AssertionError(repr(rows[3]))
    e = (axdr.STRUCTURE, [(axdr.DOUBLE_LONG_UNSIGNED, 28), (axdr.DOUBLE_LONG_UNSIGNED, 0),
                          (axdr.LONG_UNSIGNED, 3), (axdr.LONG_UNSIGNED, 3)])
    if _decode(profile.select(buf, _OBJECTS, 2, e)) != [
            (axdr.STRUCTURE, [r[1][2]]) for r in rows[27:]]:
        raise AssertionError("entry selection")
    r = (axdr.STRUCTURE, [profile.capture_object(_CLOCK), _dt(_T0 + 900), _dt(_T0 + 2700),
                          (axdr.ARRAY, [profile.capture_object(_APLUS)])])
    if _decode(profile.select(buf, _OBJECTS, 1, r)) != [
            (axdr.STRUCTURE, [x[1][2]]) for x in rows[1:4]]:
        raise AssertionError("range selection")
    back = (axdr.STRUCTURE, [r[1][0], r[1][2], r[1][1], r[1][3]])
    if _decode(profile.select(buf, _OBJECTS, 1, back)) != []:
        raise AssertionError("reversed range")
    try:
        profile.select(buf, _OBJECTS, 2, (axdr.NULL, None))
        raise AssertionError("bad descriptor accepted")
    except errors.TypeUnmatched:
        pass


def _live_growth(n):
    # Largest live heap (after collections) while the whole buffer streams, above the start.
    buf = _buffer(n)
    gc.collect()
    base = gc.mem_alloc()
    top = 0
    k = 0
    for piece in profile.select(buf, _OBJECTS, None, None).chunks():
        k += 1
        if k % 50 == 0:
            gc.collect()
            top = max(top, gc.mem_alloc() - base)
    return top


def test_streaming_a_large_buffer_keeps_the_heap_flat():
    small = _live_growth(100)
    large = _live_growth(2000)
    if large > small + 2048:
        raise AssertionError("live heap grows with the buffer: %d vs %d" % (large, small))


def test_event_sink_keeps_rows_and_last_code():
    ring = RingStore(sim_nv.NvMem(4096), 0, 5, 4)
    sink = EventSink(ProfileBuffer(ring, "TB", lambda: _RULE))
    if sink.last_code() != 0:
        raise AssertionError("empty log")
    for k in range(6):
        sink.capture(10 + k, _T0 + k)
    if sink.last_code() != 15 or not sink.newest_is(_T0 + 5, 15) or len(sink.buffer) != 4:
        raise AssertionError("sink")
    sink.reset()
    if sink.last_code() != 0 or len(sink.buffer) != 0:
        raise AssertionError("reset")


def test_capture_instants_follow_local_time():
    if profiles.next_capture(_T0 + 1, 900, _RULE) != _T0 + 900:
        raise AssertionError("quarter hour")
    if profiles.next_capture(_T0, 86400, _RULE) != _T0 + 23 * 3600:
        raise AssertionError("local midnight")
    summer = civil.to_epoch(2026, 7, 1, 0, 0, 0)
    if profiles.next_capture(summer, 86400, _RULE) != summer + 22 * 3600:
        raise AssertionError("summer midnight")


def test_missed_instants_of_a_ten_year_outage_are_the_newest_only():
    # Load profile option "fill missed intervals": at most profile_entries steps back.
    up = civil.to_epoch(2036, 1, 20, 12, 0, 0)
    for period, limit in ((900, 3072), (86400, 45)):
        first, count = profiles.missed(_T0, up, period, _RULE, limit)
        t = first
        for _ in range(count - 1):
            t = profiles.next_capture(t, period, _RULE)
        if count != limit or t != profiles.prev_capture(up + 1, period, _RULE):
            raise AssertionError("%d: %d rows up to %d" % (period, count, t))
    # Local midnights of January 2036 (CET): 23:00 UTC.
    if t != civil.to_epoch(2036, 1, 19, 23, 0, 0):
        raise AssertionError("last midnight %d" % t)
    if profiles.missed(up, up + 899, 900, _RULE, 10)[1] != 0:
        raise AssertionError("no instant before the next quarter hour")
