"""Profiles and event logs over COSEM: sans-IO with the real Meter's services (CPython) and end to
end against the firmware process (wrapper transport, management client, block transfer)."""
import struct

import pytest
from dlms_cosem.utils import parse_as_dlms_data
from hypothesis import HealthCheck, given, settings, strategies as st

import cosem_client as cc
import sim_clock
import sim_nv
from core import civil
from dlms import axdr
from runtime import cosem_service
from runtime import meter as meter_mod
from test_clock_set import associate, ciphered

S, A, OS, DLU, LU = (axdr.STRUCTURE, axdr.ARRAY, axdr.OCTET_STRING, axdr.DOUBLE_LONG_UNSIGNED,
                     axdr.LONG_UNSIGNED)
LP1 = cc.obis("1-0:99.1.0")
STD_LOG = cc.obis("0-0:99.98.0")
START = civil.to_epoch(2026, 1, 15, 12, 0, 0)
CLOCK_CO = (S, [(LU, 8), (OS, cc.obis("0-0:1.0.0")), (axdr.INTEGER, 2), (LU, 0)])
APLUS_CO = (S, [(LU, 3), (OS, cc.obis("1-0:1.8.0")), (axdr.INTEGER, 2), (LU, 0)])


def get_sel(class_id, ln, attr, selector, params, iip=0xC1):
    """Get-Request-Normal with selective access."""
    return (bytes((0xC0, 1, iip)) + struct.pack(">H", class_id) + ln + bytes((attr, 1, selector))
            + axdr.encode(params))


def entry(e0, e1, c0=1, c1=0):
    return S, [(DLU, e0), (DLU, e1), (LU, c0), (LU, c1)]


def rng(t0, t1, cols=()):
    return S, [CLOCK_CO, (OS, t0), (OS, t1), (A, list(cols))]


# ------------------------------------------------------------------ sans-IO (CPython)

class Board:
    def __init__(self):
        self.clock = sim_clock.Clock(1000, START)
        self.nv = sim_nv.NvMem()


class Regs:
    def __init__(self):
        self.total = [0] * 10
        self.phase = None
        self.regs = [[0] * 10 for _ in range(8)]


@pytest.fixture
def session():
    m = meter_mod.Meter(Board(), {"model": "me382"})
    app, _ = cosem_service.build(m)
    m.energy_regs = m.tariff_regs = Regs()
    m.powered = True
    prof = [s for s in m.services if type(s).__name__ == "Profiles"][0]
    lp1 = prof.by_key["lp1"]
    for k in range(20):
        m.energy_regs.total[0] = 1000 * 1000 * k
        prof.capture(lp1, START + 900 * k)
    conn, s = associate(app)
    return m, prof, conn, s


def read(conn, s, apdu, raw=False):
    rsp = ciphered(conn, s, apdu, 0xC8)
    if rsp[:3] == bytes.fromhex("C401C1") and rsp[3] == 1:
        return rsp[4]                       # Data-Access-Result
    data = cc.read_long(lambda a: ciphered(conn, s, a, 0xC8), rsp)
    return data if raw else axdr.decode_all(data)


def test_entry_and_range_reads_of_load_profile_1(session):
    m, prof, conn, s = session
    whole = read(conn, s, cc.get(7, LP1, 2))
    assert whole[0] == A and len(whole[1]) == 20
    assert [r[1][2][1] for r in whole[1]] == [1000 * k for k in range(20)]
    part = read(conn, s, get_sel(7, LP1, 2, 2, entry(5, 7, 2, 3)))
    assert part == (A, [(S, r[1][1:3]) for r in whole[1][4:7]])
    t0, t1 = whole[1][3][1][0][1], whole[1][8][1][0][1]
    ranged = read(conn, s, get_sel(7, LP1, 2, 1, rng(t0, t1, [APLUS_CO])))
    assert ranged == (A, [(S, [r[1][2]]) for r in whole[1][3:9]])
    assert read(conn, s, get_sel(7, LP1, 2, 1, rng(t1, t0))) == (A, [])
    assert read(conn, s, get_sel(7, LP1, 2, 2, entry(21, 0))) == (A, [])
    assert read(conn, s, get_sel(7, LP1, 2, 2, entry(1, 0, 9, 0))) == 250
    assert read(conn, s, get_sel(7, LP1, 2, 2, (DLU, 1))) == 12


def test_capture_period_and_profile_entries_are_checked_and_kept(session):
    m, prof, conn, s = session

    def set_(attr, data):
        return ciphered(conn, s, cc.set_(7, LP1, attr, axdr.encode(data)), 0xC9)[3]

    assert set_(4, (DLU, 1000)) == 250
    assert set_(4, (LU, 900)) == 12
    assert set_(4, (DLU, 1800)) == 0 and prof.by_key["lp1"].period == 1800
    assert set_(8, (DLU, 3073)) == 250 and set_(8, (DLU, 0)) == 250
    assert set_(8, (DLU, 10)) == 0
    assert read(conn, s, cc.get(7, LP1, 7)) == (DLU, 10)
    again = meter_mod.Meter(m.board, {"model": "me382"})
    p2 = [x for x in again.services if type(x).__name__ == "Profiles"][0]
    p2.power_on(START)
    assert (p2.by_key["lp1"].period, len(p2.by_key["lp1"].buffer)) == (1800, 10)


def test_reset_empties_the_profile_and_logs_event_254(session):
    m, prof, conn, s = session
    rsp = ciphered(conn, s, cc.action(7, LP1, 1, axdr.encode((axdr.INTEGER, 0))), 0xCB)
    assert rsp[:4] == bytes.fromhex("C701C100")
    assert read(conn, s, cc.get(7, LP1, 7)) == (DLU, 0)
    assert read(conn, s, cc.get(1, cc.obis("0-0:96.11.0"), 2)) == (axdr.UNSIGNED, 254)
    log = read(conn, s, cc.get(7, STD_LOG, 2))
    assert [r[1][1] for r in log[1]] == [(axdr.UNSIGNED, 254)]


def test_event_log_capture_is_refused_and_threshold_checked(session):
    m, prof, conn, s = session
    rsp = ciphered(conn, s, cc.action(7, STD_LOG, 2, axdr.encode((axdr.INTEGER, 0))), 0xCB)
    assert rsp[:4] == bytes.fromhex("C701C1FA") or rsp[3] != 0
    thr = cc.obis("0-0:96.7.20")
    assert ciphered(conn, s, cc.set_(3, thr, 2, axdr.encode((DLU, 0))), 0xC9)[3] == 250
    assert ciphered(conn, s, cc.set_(3, thr, 2, axdr.encode((DLU, 60))), 0xC9)[3] == 0
    assert read(conn, s, cc.get(3, thr, 2)) == (DLU, 60)


# ------------------------------------------------------------------ end to end

_Service = cc.ControlledService
_management = cc.management
_Conn = cc.WrapperConn


def test_load_profile_and_event_log_end_to_end():
    with _Service() as svc:
        svc.ctl("load", set={"i": 10.0})
        svc.ctl("advance", seconds=86400)
        c, s = _management(svc.wrapper_port)
        conn = _Conn(c)
        try:
            assert read(conn, s, cc.get(7, LP1, 7)) == (DLU, 96)
            wire = read(conn, s, cc.get(7, LP1, 2), raw=True)
            whole = axdr.decode_all(wire)[1]
            # An independent decoder (dlms-cosem) reads the same rows from the same octets.
            assert parse_as_dlms_data(wire) == [[bytearray(c[1]) if c[0] == OS else c[1]
                                                 for c in r[1]] for r in whole]
            assert len(whole) == 96 and all(len(r[1]) == 8 for r in whole)
            aplus = [r[1][2][1] for r in whole]
            assert all(574 <= b - a <= 576 for a, b in zip(aplus, aplus[1:])), aplus   # 2300 W
            part = read(conn, s, get_sel(7, LP1, 2, 2, entry(90, 0, 1, 3)))
            assert part == (A, [(S, r[1][:3]) for r in whole[89:]])
            t0, t1 = whole[10][1][0][1], whole[20][1][0][1]
            ranged = read(conn, s, get_sel(7, LP1, 2, 1, rng(t0, t1, [CLOCK_CO, APLUS_CO])))
            assert ranged == (A, [(S, [r[1][0], r[1][2]]) for r in whole[10:21]])
        finally:
            c.close()
        svc.ctl("power", state="off")
        svc.ctl("power", state="on")
        svc.ctl("advance", seconds=60)      # the power-up events are booked at the first tick
        c, s = _management(svc.wrapper_port, s)
        conn = _Conn(c)
        try:
            log = read(conn, s, cc.get(7, STD_LOG, 2))[1]
            assert [r[1][1][1] for r in log][-2:] == [1, 2]
            assert read(conn, s, cc.get(1, cc.obis("0-0:96.11.0"), 2)) == (axdr.UNSIGNED, 2)
            assert read(conn, s, cc.get(1, cc.obis("0-0:96.7.21"), 2)) == (LU, 1)
            assert read(conn, s, cc.get(1, cc.obis("0-0:96.7.9"), 2)) == (LU, 0)
            status = read(conn, s, cc.get(1, cc.obis("0-0:96.10.1"), 2))[1]
            assert status & 0xC0 == 0xC0
        finally:
            c.close()


def test_public_client_sees_no_profile():
    with cc.Service() as svc:
        c = cc.WrapperClient(svc.wrapper_port, client_sap=16)
        try:
            assert cc.aare_result(c.request(cc.aarq(user_info=cc.initiate_request()))) == (0, 0)
            rsp = c.request(cc.get(7, LP1, 2))
            assert rsp[:4] == bytes.fromhex("C401C101") and rsp[4] == 4
        finally:
            c.close()


_LEAF = st.one_of(
    st.builds(lambda v: (DLU, v), st.integers(0, 2 ** 32 - 1)),
    st.builds(lambda v: (LU, v), st.integers(0, 65535)),
    st.builds(lambda v: (axdr.INTEGER, v), st.integers(-128, 127)),
    st.builds(lambda v: (OS, v), st.binary(max_size=14)),
    st.builds(lambda v: (OS, v), st.sampled_from([
        b"\xff" * 9 + b"\x80\x00\xff", b"\x07\xea\x01\x0f\xff\x0c\x00\x00\x00\xff\xc4\x00"])),
    st.just((axdr.NULL, None)))
_DATA = st.recursive(_LEAF, lambda kids: st.one_of(
    st.builds(lambda v: (S, v), st.lists(kids, max_size=5)),
    st.builds(lambda v: (A, v), st.lists(kids, max_size=3))), max_leaves=12)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(selector=st.sampled_from([1, 2, 3]), params=st.one_of(
    _DATA, st.builds(lambda *v: (S, list(v)), st.one_of(_LEAF, st.just(CLOCK_CO)), _LEAF, _LEAF,
                     st.one_of(_LEAF, _DATA, st.just((A, [APLUS_CO]))))))
def test_any_selective_access_gets_a_protocol_answer(session, selector, params):
    m, prof, conn, s = session
    rsp = ciphered(conn, s, get_sel(7, LP1, 2, selector, params), 0xC8)
    assert rsp[0] == 0xC4
    if rsp[1] == 1 and rsp[3] == 1:
        assert rsp[4] in (2, 12, 13, 250)
    assert read(conn, s, cc.get(7, LP1, 7)) == (DLU, 20)        # nothing changed
