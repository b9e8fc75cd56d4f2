"""Clock SET: the 12-octet date-time to UTC (against CPython's zoneinfo for Europe/Berlin), the
time zone and DST attributes (a new rule, refused when invalid, kept in NV), sans-IO through the
management association, and end to end with the firmware under micropython."""
import datetime
import os
import struct
import subprocess
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

import cosem_client as cc
import mpy
import sim_clock
import sim_nv
from core import dst
from cosem import errors
from dlms import axdr
from runtime import clock_settings, cosem_service
from runtime import meter as meter_mod

BERLIN = ZoneInfo("Europe/Berlin")
EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
START = 822657600               # 2026-01-25 12:00:00 UTC


def dt(y, mo, d, h, mi, s, hs=0, dev=None, wd=None):
    return axdr.pack_datetime(y, mo, d, wd, h, mi, s, hs, dev, None)


# ------------------------------------------------------------------ pure conversions

def test_time_with_deviation_is_utc_plus_deviation():
    rule = dst.eu_rule()
    utc, us = clock_settings.time_to_utc(dt(2026, 7, 4, 14, 0, 0, 50, -120), rule)
    assert utc == 836481600 and us == 500000
    # The deviation wins over the rule: +60 means local = UTC - 1 h.
    assert clock_settings.time_to_utc(dt(2026, 7, 4, 11, 0, 0, 0, 60), rule)[0] == 836481600


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime.datetime(2000, 1, 2),
                   max_value=datetime.datetime(2099, 12, 30)), st.integers(0, 1))
def test_unspecified_deviation_is_local_time_like_zoneinfo(local, with_weekday):
    local = local.replace(microsecond=0)
    wd = local.isoweekday() if with_weekday else None
    raw = dt(local.year, local.month, local.day, local.hour, local.minute, local.second, wd=wd)
    utc, us = clock_settings.time_to_utc(raw, dst.eu_rule())
    want = local.replace(tzinfo=BERLIN, fold=0).astimezone(datetime.timezone.utc)
    assert utc == int((want - EPOCH).total_seconds()) and us == 0


@pytest.mark.parametrize("raw, error", [
    (dt(1999, 12, 31, 23, 0, 0, dev=0), ValueError),
    (dt(2100, 1, 1, 0, 0, 0, dev=0), ValueError),
    (dt(2026, 2, 30, 0, 0, 0), ValueError),
    (dt(2026, 2, 3, 0, 0, 0, wd=1), ValueError),       # 2026-02-03 is a Tuesday
    (axdr.pack_datetime(None, 1, 1, None, 0, 0, 0, None, None, None), ValueError),
    (axdr.pack_datetime(2026, 1, 1, None, None, 0, 0, None, None, None), ValueError),
    (bytes.fromhex("07EA0DFF FF000000 00800000".replace(" ", "")), errors.TypeUnmatched),
    (bytes.fromhex("07EA0101 FF180000 00800000".replace(" ", "")), errors.TypeUnmatched),
    (bytes.fromhex("07EA0101 FF000000 0002EE00".replace(" ", "")), errors.TypeUnmatched),
    (b"\x07\xea\x01", errors.TypeUnmatched),
])
def test_invalid_times_are_refused(raw, error):
    with pytest.raises(error):
        clock_settings.time_to_utc(raw, dst.eu_rule())


def test_local_time_past_2099_utc_is_refused():
    # 2099-12-31 23:30 with deviation -720 is 11:30 UTC, fine; with +720 it is 2100 UTC.
    clock_settings.time_to_utc(dt(2099, 12, 31, 23, 30, 0, dev=-720), dst.eu_rule())
    with pytest.raises(ValueError):
        clock_settings.time_to_utc(dt(2099, 12, 31, 23, 30, 0, dev=720), dst.eu_rule())


def test_rule_attributes_and_record_round_trip():
    rule = dst.eu_rule()
    r = clock_settings.with_attribute(rule, "time_zone", -120)
    assert r.time_zone == -120 and r.begin == rule.begin and rule.time_zone == -60
    begin = axdr.pack_datetime(None, 3, 0xFE, 7, 3, 0, 0, None, None, None)
    r = clock_settings.with_attribute(r, "daylight_savings_begin", begin)
    assert r.begin == (0xFFFF, 3, 0xFE, 7, 3, 0, 0)
    r = clock_settings.with_attribute(r, "daylight_savings_enabled", False)
    back = clock_settings.unpack(clock_settings.pack(r))
    assert (back.time_zone, back.begin, back.end, back.deviation, back.enabled) == \
        (r.time_zone, r.begin, r.end, r.deviation, False)
    assert len(clock_settings.pack(r)) == clock_settings.RECORD_SIZE
    with pytest.raises(ValueError):
        clock_settings.with_attribute(rule, "daylight_savings_begin",
                                      axdr.pack_datetime(None, 0xFE, 1, None, 2, 0, 0, None,
                                                         None, None))
    with pytest.raises(ValueError):
        clock_settings.with_attribute(rule, "time_zone", 800)
    with pytest.raises(ValueError):
        clock_settings.unpack(b"\x03" + clock_settings.pack(rule)[1:])


# ------------------------------------------------------------------ sans-IO, management client

class Board:
    def __init__(self):
        self.clock = sim_clock.Clock(1000, START)
        self.nv = sim_nv.NvMem()


class StubMeter:
    """What the COSEM sources use of a Meter, with the real set_time."""
    model = "me382"
    nphases = 1
    set_time = meter_mod.Meter.set_time

    def __init__(self, board=None):
        self.board = board or Board()
        self.store = meter_mod.open_store(self.board.nv)
        self._last_save_s = 0
        self.services = []
        self.powered = False

    energy_regs = None

    def energy(self):
        return {}

    def values(self):
        return {}


def associate(app, s=None, sap=1):
    """A management association on a new sans-IO connection: (connection, Suite0Client)."""
    s = s or cc.Suite0Client()
    conn = app.connection()
    ctos = cc.random_challenge(16)
    aare = conn.handle(sap, cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                    auth_value=ctos,
                                    user_info=s.protect(0x21, cc.initiate_request())))
    assert cc.aare_result(aare) == (0, 14)
    s.server_title = cc.SERVICE_TITLE
    stoc = cc.aare_fields(aare)[0xAA][2:]
    _, _, rsp = s.unprotect(conn.handle(sap, s.protect(0xCB, cc.action(
        15, cc.obis("0-0:40.0.0"), 1, b"\x09\x11" + s.hls_reply(stoc)))))
    assert rsp[:5] == bytes.fromhex("C701C10001"), rsp.hex()
    return conn, s


def ciphered(conn, s, apdu, tag):
    return s.unprotect(conn.handle(1, s.protect(tag, apdu)))[2]


def set_clock(conn, s, attr, data):
    rsp = ciphered(conn, s, cc.set_(8, cc.obis("0-0:1.0.0"), attr, data), 0xC9)
    assert rsp[:3] == bytes.fromhex("C501C1")
    return rsp[3]


def get_clock(conn, s, attr):
    rsp = ciphered(conn, s, cc.get(8, cc.obis("0-0:1.0.0"), attr), 0xC8)
    assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
    return rsp[4:]


def octets(raw):
    return b"\x09\x0c" + raw


def test_set_time_through_the_management_association():
    m = StubMeter()
    app, src = cosem_service.build(m)
    conn, s = associate(app)
    assert set_clock(conn, s, 2, octets(dt(2026, 7, 4, 14, 0, 0, 25, -120))) == 0
    assert m.board.clock.now_us() == 836481600 * 1000000 + 250000
    assert m._last_save_s == 836481600
    got = axdr.unpack_datetime(get_clock(conn, s, 2)[2:])
    assert got == (2026, 7, 4, 6, 14, 0, 0, 0, -120, axdr.STATUS_DST)
    # Local time without deviation: winter, CET.
    assert set_clock(conn, s, 2, octets(dt(2026, 12, 1, 8, 0, 0))) == 0
    winter = datetime.datetime(2026, 12, 1, 7, tzinfo=datetime.timezone.utc)
    assert m.board.clock.now() == int((winter - EPOCH).total_seconds())
    before = m.board.clock.now_us()
    for bad, result in ((octets(dt(2100, 1, 1, 0, 0, 0, dev=0)), 250),
                        (octets(dt(2026, 2, 29, 0, 0, 0)), 250),
                        (octets(bytes.fromhex("07EA0101FF180000 00800000".replace(" ", ""))), 12),
                        (b"\x09\x0b" + dt(2026, 1, 1, 0, 0, 0)[:11], 250),
                        (b"\x12\x00\x01", 12)):
        assert set_clock(conn, s, 2, bad) == result, bad.hex()
        assert m.board.clock.now_us() == before


def test_time_zone_and_dst_attributes_are_validated_and_persisted():
    board = Board()
    m = StubMeter(board)
    app, src = cosem_service.build(m)
    conn, s = associate(app)
    assert set_clock(conn, s, 3, b"\x10" + struct.pack(">h", -120)) == 0       # EET
    assert get_clock(conn, s, 3) == b"\x10" + struct.pack(">h", -120)
    # An invalid pattern (DST month marker) and a time zone out of range: nothing changes.
    bad = axdr.pack_datetime(None, 0xFE, 1, None, 2, 0, 0, None, None, None)
    assert set_clock(conn, s, 5, octets(bad)) == 250
    assert set_clock(conn, s, 3, b"\x10" + struct.pack(">h", 900)) != 0
    assert get_clock(conn, s, 3) == b"\x10" + struct.pack(">h", -120)
    assert set_clock(conn, s, 8, b"\x03\x00") == 0
    assert get_clock(conn, s, 8) == b"\x03\x00"
    assert set_clock(conn, s, 7, b"\x0f\x1e") == 0
    begin = axdr.pack_datetime(None, 4, 1, None, 2, 0, 0, None, None, None)
    assert set_clock(conn, s, 5, octets(begin)) == 0
    # July in EET without DST: deviation -120, no DST bit.
    board.clock.set(836481600)
    got = axdr.unpack_datetime(get_clock(conn, s, 2)[2:])
    assert got[4:6] == (14, 0) and got[8:] == (-120, 0)
    # A restart (same NV) keeps the rule.
    app2, src2 = cosem_service.build(StubMeter(board))
    r = src2.rule
    assert (r.time_zone, r.deviation, r.enabled) == (-120, 30, False)
    assert r.begin == (0xFFFF, 4, 1, 0xFF, 2, 0, 0)
    assert src2.read("clock.daylight_savings_begin") == begin


def test_public_client_cannot_set_the_clock():
    m = StubMeter()
    app, _ = cosem_service.build(m)
    conn = app.connection()
    assert cc.aare_result(conn.handle(16, cc.aarq())) == (0, 0)
    assert conn.handle(16, cc.set_(8, cc.obis("0-0:1.0.0"), 2, octets(
        dt(2026, 7, 4, 14, 0, 0, 0, -120)))) == bytes.fromhex("C501C103")
    assert m.board.clock.now() == START


# ------------------------------------------------------------------ clock methods

CLOCK = cc.obis("0-0:1.0.0")
LIMIT = cc.obis("1-0:0.9.11")
INT0 = b"\x0f\x00"


class Captured:
    """Event sink of the standard log: (code, meter time) rows."""

    def __init__(self):
        self.rows = []

    def capture(self, code, t_s):
        self.rows.append((code, t_s))


class EventMeter(StubMeter):
    """A stub meter with the one event path (core.events) and a standard log sink."""
    raise_event = meter_mod.Meter.raise_event

    def __init__(self, board=None):
        StubMeter.__init__(self, board)
        from core import events
        self.log = Captured()
        self.events = events.Events({"standard": self.log})


def call(conn, s, method, data=None):
    rsp = ciphered(conn, s, cc.action(8, CLOCK, method, data), 0xCB)
    assert rsp[:3] == bytes.fromhex("C701C1") and rsp[4] == 0, rsp.hex()
    return rsp[3]


def utc(y, mo, d, h, mi, s):
    return int((datetime.datetime(y, mo, d, h, mi, s, tzinfo=datetime.timezone.utc)
                - EPOCH).total_seconds())


@pytest.mark.parametrize("method, now, want", [
    (1, (2026, 1, 15, 12, 7, 29), (2026, 1, 15, 12, 0, 0)),       # adjust_to_quarter
    (1, (2026, 1, 15, 12, 7, 30), (2026, 1, 15, 12, 15, 0)),      # half way goes forward
    (1, (2026, 1, 15, 23, 52, 31), (2026, 1, 16, 0, 0, 0)),
    (2, (2026, 1, 15, 12, 22, 0), (2026, 1, 15, 12, 15, 0)),      # measuring period 900 s
    (3, (2026, 1, 15, 12, 7, 29), (2026, 1, 15, 12, 7, 0)),       # adjust_to_minute
    (3, (2026, 1, 15, 12, 59, 30), (2026, 1, 15, 13, 0, 0)),
])
def test_adjust_methods_round_and_raise_events_4_and_5(method, now, want):
    m = EventMeter()
    m.board.clock.set(utc(*now), 400000)
    app, _ = cosem_service.build(m)
    conn, s = associate(app)
    assert call(conn, s, method, INT0) == 0
    assert m.board.clock.now_us() == utc(*want) * 1000000
    assert m.log.rows == [(4, utc(*now)), (5, utc(*want))]
    # No parameter is accepted too; another parameter is refused and changes nothing.
    assert call(conn, s, method) == 0
    assert call(conn, s, method, b"\x0f\x01") == 12
    assert call(conn, s, method, b"\x12\x00\x00") == 12
    assert m.board.clock.now() == utc(*want) and len(m.log.rows) == 4


def test_clock_set_raises_events_4_and_5_and_a_refused_one_none():
    m = EventMeter()
    app, _ = cosem_service.build(m)
    conn, s = associate(app)
    assert set_clock(conn, s, 2, octets(dt(2026, 7, 4, 14, 0, 0, 0, -120))) == 0
    assert m.log.rows == [(4, START), (5, 836481600)]
    assert set_clock(conn, s, 2, octets(dt(2026, 2, 29, 0, 0, 0))) == 250
    assert len(m.log.rows) == 2


def test_measuring_period_follows_its_source():
    m = EventMeter()
    m.board.clock.set(utc(2026, 1, 15, 12, 40, 0))
    app, src = cosem_service.build(m)
    src.values["clock.measuring_period"] = 3600
    conn, s = associate(app)
    assert call(conn, s, 2, INT0) == 0
    assert m.board.clock.now() == utc(2026, 1, 15, 13, 0, 0)
    src.values["clock.measuring_period"] = 0          # unusable: refused, nothing changes
    assert call(conn, s, 2, INT0) == 250
    assert m.board.clock.now() == utc(2026, 1, 15, 13, 0, 0)


def test_shift_time_is_bounded_by_the_time_shift_limit():
    board = Board()
    m = EventMeter(board)
    app, src = cosem_service.build(m)
    conn, s = associate(app)
    long_ = lambda v: b"\x10" + struct.pack(">h", v)
    assert call(conn, s, 6, long_(-300)) == 0
    assert board.clock.now() == START - 300
    assert m.log.rows == [(4, START), (5, START - 300)]
    assert call(conn, s, 6, long_(901)) == 250        # beyond the method's range
    assert call(conn, s, 6, b"\x05\x00\x00\x00\x0a") == 12
    assert call(conn, s, 6) == 12
    # The limit object: long-unsigned seconds, management writes it, kept in the clock record.
    rsp = ciphered(conn, s, cc.get(3, LIMIT, 2), 0xC8)
    assert rsp == bytes.fromhex("C401C100") + b"\x12\x03\x84"
    rsp = ciphered(conn, s, cc.get(3, LIMIT, 3), 0xC8)
    assert rsp == bytes.fromhex("C401C100 0202 0f00 1607".replace(" ", ""))
    rsp = ciphered(conn, s, cc.set_(3, LIMIT, 2, b"\x12\x00\x3c"), 0xC9)
    assert rsp == bytes.fromhex("C501C100")
    assert call(conn, s, 6, long_(61)) == 250
    assert call(conn, s, 6, long_(-61)) == 250
    assert board.clock.now() == START - 300 and len(m.log.rows) == 2
    assert call(conn, s, 6, long_(60)) == 0
    assert board.clock.now() == START - 240
    rsp = ciphered(conn, s, cc.set_(3, LIMIT, 2, b"\x12\x03\x85"), 0xC9)
    assert rsp == bytes.fromhex("C501C1FA")
    # A rebuild on the same NV keeps the limit; the rule record is still read.
    app2, src2 = cosem_service.build(StubMeter(board))
    assert src2.read("clock.shift_limit") == 60 and src2.rule.time_zone == -60


def test_preset_adjusting_time_then_adjust_to_preset_time():
    m = EventMeter()
    app, _ = cosem_service.build(m)
    conn, s = associate(app)
    assert START == utc(2026, 1, 25, 12, 0, 0)                        # 13:00 CET
    preset = octets(dt(2026, 1, 25, 13, 30, 0, 50))
    start = octets(dt(2026, 1, 25, 12, 55, 0))
    end = octets(dt(2026, 1, 25, 13, 10, 0))
    assert call(conn, s, 4, INT0) == 250                               # nothing preset
    assert call(conn, s, 5, b"\x02\x03" + preset + end + start) == 250   # reversed interval
    assert call(conn, s, 5, b"\x02\x02" + preset + start) == 12
    assert call(conn, s, 5, b"\x02\x03" + preset + start + octets(dt(2026, 2, 30, 0, 0, 0))) \
        == 250
    assert call(conn, s, 4, INT0) == 250
    assert call(conn, s, 5, b"\x02\x03" + preset + start + end) == 0
    assert m.board.clock.now() == START and m.log.rows == []
    m.board.clock.set(START + 601)                                     # 13:10:01: too late
    assert call(conn, s, 4, INT0) == 250
    m.board.clock.set(START + 600)
    assert call(conn, s, 4, INT0) == 0
    assert m.board.clock.now_us() == (START + 1800) * 1000000 + 500000
    assert m.log.rows == [(4, START + 600), (5, START + 1800)]
    assert call(conn, s, 4, INT0) == 250                               # used once


def test_public_client_cannot_call_the_clock_methods():
    m = EventMeter()
    app, _ = cosem_service.build(m)
    conn = app.connection()
    assert cc.aare_result(conn.handle(16, cc.aarq())) == (0, 0)
    for method, data in ((1, INT0), (6, b"\x10\x00\x3c")):
        assert conn.handle(16, cc.action(8, CLOCK, method, data)) == bytes.fromhex("C701C10300")
    assert conn.handle(16, cc.get(3, LIMIT, 2))[:5] == bytes.fromhex("C401C10104")
    assert m.board.clock.now() == START and m.log.rows == []


def test_clock_record_versions():
    rule = dst.eu_rule()
    v2 = clock_settings.pack(rule, 120)
    assert clock_settings.unpack_shift_limit(v2) == 120
    v1 = struct.pack("<BhbBHBBBBBBHBBBBBB", 1, rule.time_zone, rule.deviation, 1,
                     *(rule.begin + rule.end))
    assert clock_settings.unpack(v1).begin == rule.begin
    assert clock_settings.unpack_shift_limit(v1) == clock_settings.SHIFT_LIMIT_DEFAULT
    for bad in (v1[:-1], b"\x02" + v1[1:], b"\x01" + v2[1:], b""):
        with pytest.raises(ValueError):
            clock_settings.unpack(bad)
    with pytest.raises(ValueError):
        clock_settings.pack(rule, 901)


# ------------------------------------------------------------------ both interpreters

def test_clock_settings_under_micropython():
    out = mpy.run_code(
        "import sys; sys.path[:0] = ['firmware']\n"
        "from core import dst\n"
        "from dlms import axdr\n"
        "from runtime import clock_settings as c\n"
        "r = dst.eu_rule()\n"
        "print(c.time_to_utc(axdr.pack_datetime(2026, 7, 4, None, 14, 0, 0, 25, -120, None), r))\n"
        "gap = axdr.pack_datetime(2026, 3, 29, None, 2, 30, 0, None, None, None)\n"
        "print(c.time_to_utc(gap, r))\n"
        "r2 = c.with_attribute(r, 'time_zone', -120)\n"
        "print(c.unpack(c.pack(r2)).time_zone)\n"
        "try:\n"
        "    c.time_to_utc(axdr.pack_datetime(2100, 1, 1, None, 0, 0, 0, None, 0, None), r)\n"
        "except ValueError:\n"
        "    print('refused')\n")
    gap = int((datetime.datetime(2026, 3, 29, 1, 30, tzinfo=datetime.timezone.utc)
               - EPOCH).total_seconds())
    assert out.split() == ["(836481600,", "250000)", "(%d," % gap, "0)", "-120", "refused"]


def test_mpy_cross_compiles_the_new_modules():
    for name in ("runtime/clock_settings.py", "runtime/auth_guard.py", "runtime/key_transfer.py",
                 "runtime/cosem_service.py", "runtime/meter.py", "dlms/server.py"):
        src = os.path.join(mpy.FIRMWARE, name)
        subprocess.run([os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross"),
                        "-march=armv7emsp", "-o", "/dev/null", src], check=True)


# ------------------------------------------------------------------ end to end

def test_e2e_management_client_sets_the_clock_and_reads_it_back():
    with cc.Service() as service:
        c = cc.WrapperClient(service.wrapper_port, client_sap=1)
        try:
            s = cc.hls_associate(c)
            clock = cc.obis("0-0:1.0.0")
            _, _, rsp = s.unprotect(c.request(s.protect(0xC9, cc.set_(
                8, clock, 2, octets(dt(2030, 8, 1, 10, 0, 0, 0, -120))))))
            assert rsp == bytes.fromhex("C501C100")
            _, _, rsp = s.unprotect(c.request(s.protect(0xC8, cc.get(8, clock, 2))))
            got = axdr.unpack_datetime(rsp[6:])
            assert got[:4] == (2030, 8, 1, 4) and got[4] == 10 and got[5] in (0, 1)
            assert got[8:] == (-120, axdr.STATUS_DST)
            _, _, rsp = s.unprotect(c.request(s.protect(0xC9, cc.set_(
                8, clock, 2, octets(dt(2026, 2, 30, 10, 0, 0)))))
            )
            assert rsp == bytes.fromhex("C501C1FA")
            _, _, rsp = s.unprotect(c.request(s.protect(0xC8, cc.get(8, clock, 2))))
            assert axdr.unpack_datetime(rsp[6:])[:3] == (2030, 8, 1)
        finally:
            c.close()


_e2e_management = cc.hls_associate


def _e2e_clock_utc(c, s):
    _, _, rsp = s.unprotect(c.request(s.protect(0xC8, cc.get(8, CLOCK, 2))))
    y, mo, d, _, h, mi, sec, _, dev, _ = axdr.unpack_datetime(rsp[6:])
    return utc(y, mo, d, h, mi, sec) + dev * 60


def test_e2e_shift_time_and_adjust_to_minute_over_the_wrapper():
    with cc.Service() as service:
        c = cc.WrapperClient(service.wrapper_port, client_sap=1)
        try:
            s = _e2e_management(c)
            before = _e2e_clock_utc(c, s)
            _, _, rsp = s.unprotect(c.request(s.protect(0xCB, cc.action(
                8, CLOCK, 6, b"\x10" + struct.pack(">h", -600)))))
            assert rsp == bytes.fromhex("C701C10000")
            after = _e2e_clock_utc(c, s)
            assert -600 <= after - before <= -590
            _, _, rsp = s.unprotect(c.request(s.protect(0xCB, cc.action(
                8, CLOCK, 6, b"\x10" + struct.pack(">h", 901)))))
            assert rsp == bytes.fromhex("C701C1FA00")
            _, _, rsp = s.unprotect(c.request(s.protect(0xCB, cc.action(8, CLOCK, 3, INT0))))
            assert rsp == bytes.fromhex("C701C10000")
            minute = _e2e_clock_utc(c, s)
            assert minute % 60 < 10 and abs(minute - after) <= 40
        finally:
            c.close()
