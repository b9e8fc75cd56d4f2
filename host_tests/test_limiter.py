"""Limiter (class 71): the pure logic of meter time (durations, emergency profile) against a
second-by-second model, and the limiter object wired into the Meter: thresholds written over
COSEM (event 67), over/under actions (events 65, 66, local disconnection g / reconnection h per
control mode), refusals that change nothing."""
import asyncio

import pytest
from hypothesis import given, settings, strategies as st

import cosem_client as cc
import hw
import sim_clock
import sim_nv
from core import civil
from core.limiter import OVER, UNDER, Limiter
from dlms import axdr
from measure.metrology import WindowRecord
from runtime import cosem_service
from runtime import meter as meter_mod
from test_clock_set import associate, ciphered

START = civil.to_epoch(2026, 1, 15, 12, 0, 0)
S, A, LU, DLU, OS = axdr.STRUCTURE, axdr.ARRAY, axdr.LONG_UNSIGNED, axdr.DOUBLE_LONG_UNSIGNED, \
    axdr.OCTET_STRING
LIMITER = cc.obis("0-0:17.0.0")
DC = cc.obis("0-0:96.3.10")


# ------------------------------------------------------------------ pure logic

def test_over_after_min_over_then_under_after_min_under():
    lim = Limiter(1000, 500, min_over_s=10, min_under_s=20)
    assert lim.update(1200, 0) is None
    assert lim.update(1200, 9) is None
    assert lim.update(1200, 10) == OVER and lim.exceeded
    assert lim.update(1300, 30) is None            # stays over: once per excursion
    assert lim.update(1000, 31) is None            # equal is not over
    assert lim.update(1200, 40) is None            # back over before 20 s: the count restarts
    assert lim.update(0, 41) is None
    assert lim.update(0, 60) is None
    assert lim.update(0, 61) == UNDER and not lim.exceeded


def test_emergency_profile():
    lim = Limiter(1000, 300)
    lim.profile_id, lim.activation_s, lim.duration_s = 7, 100, 50
    assert lim.threshold(120) == 1000              # id not in the group list
    lim.groups = (3, 7)
    assert [lim.threshold(t) for t in (99, 100, 149, 150)] == [1000, 300, 300, 1000]
    assert lim.emergency_active(100) and not lim.emergency_active(150)
    lim.activation_s = None
    assert not lim.emergency_active(120)


def model(values, threshold, over_s, under_s):
    """Second-by-second reference: actions (second, kind)."""
    out = []
    exceeded = False
    run = 0
    for t, v in enumerate(values):
        above = v > threshold
        if above == exceeded:
            run = 0
            continue
        run += 1
        if run - 1 >= (over_s if above else under_s):
            exceeded = above
            run = 0
            out.append((t, OVER if above else UNDER))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2000), max_size=120), st.integers(0, 2000), st.integers(0, 10),
       st.integers(0, 10))
def test_random_loads_follow_the_model(values, threshold, over_s, under_s):
    lim = Limiter(threshold, 0, over_s, under_s)
    got = []
    for t, v in enumerate(values):
        r = lim.update(v, t)
        if r is not None:
            got.append((t, r))
    assert got == model(values, threshold, over_s, under_s)


# ------------------------------------------------------------------ the meter's limiter

class Board:
    """The host board's relay, inputs and power with a manual clock and NV in RAM."""

    def __init__(self, model="me382", nv=None):
        b = hw.Board(model, {"state_dir": None, "realtime": False, "start": START})
        self.clock = sim_clock.Clock(1000, START)
        self.nv = nv or sim_nv.NvMem()
        self.relay = b.relay
        self.power = b.power
        self.inputs = b.inputs
        self.afe = b.afe
        self.led_active = b.led_active
        self.led_reactive = b.led_reactive


class Metrology:
    def __init__(self, phases):
        self.last = WindowRecord(phases)


async def _fast_sleep(ms):
    await asyncio.sleep(0)


class Rig:
    """A Meter on the host board whose measured window is set by hand; the switching service,
    its events, and a COSEM management session."""

    def __init__(self, model="me382", nv=None, ic=0):
        self.meter = m = meter_mod.Meter(Board(model, nv), {"model": model})
        m.metrology = Metrology(m.nphases)
        m.powered = True
        self.sw = [s for s in m.services if type(s).__name__ == "Switching"][0]
        self.sw.driver._sleep = _fast_sleep
        m.board.relay._sleep = _fast_sleep
        self.events = []
        orig = m.raise_event

        def raise_event(code, log_key=None):
            self.events.append(code)
            return orig(code, log_key)
        m.raise_event = raise_event
        self.app, self.src = cosem_service.build(m)
        # A reboot on the same NV reserved invocation counters: a later client counts above.
        self.conn, self.s = associate(self.app, cc.Suite0Client(ic=ic))

    def now(self):
        return self.meter.board.clock.now()

    def window(self, p_w=None, i_a=None, u_v=230, seconds=1):
        """A measured window `seconds` after the last one; the relay settles after it."""
        w = self.meter.metrology.last
        n = self.meter.nphases
        p = p_w if isinstance(p_w, (list, tuple)) else [p_w or 0] * n
        i = i_a if isinstance(i_a, (list, tuple)) else [i_a or 0] * n
        u = u_v if isinstance(u_v, (list, tuple)) else [u_v] * n
        for k in range(n):
            w.p_mw[k] = int(p[k] * 1000)
            w.i_ma[k] = int(i[k] * 1000)
            w.u_mv[k] = int(u[k] * 1000)
        w.seq += 1
        self.meter.board.clock.set(self.now() + seconds)
        self.sw.tick(self.now())
        asyncio.run(self.sw.driver.settle())

    def get(self, obj, cls, attr):
        rsp = ciphered(self.conn, self.s, cc.get(cls, obj, attr), 0xC8)
        assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
        return axdr.decode_all(rsp[4:])

    def set(self, obj, cls, attr, data):
        return ciphered(self.conn, self.s, cc.set_(cls, obj, attr, axdr.encode(data)), 0xC9)[3]

    def act(self, obj, cls, method, data):
        rsp = ciphered(self.conn, self.s, cc.action(cls, obj, method, axdr.encode(data)), 0xCB)
        return rsp[3]

    def state(self):
        return self.sw.dc.state, self.meter.board.relay.contact


@pytest.fixture
def rig():
    return Rig()


def test_defaults_read_over_cosem(rig):
    assert rig.get(LIMITER, 71, 2) == (S, [(LU, 3), (OS, cc.obis("1-0:1.7.0")), (axdr.INTEGER, 2)])
    assert [rig.get(LIMITER, 71, n) for n in (3, 4, 5, 6, 7)] == [
        (DLU, 999000), (DLU, 999000), (DLU, 999000), (DLU, 60), (DLU, 60)]
    assert rig.get(LIMITER, 71, 9) == (A, [])
    assert rig.get(LIMITER, 71, 10) == (axdr.BOOLEAN, False)
    acts = rig.get(LIMITER, 71, 11)[1]
    assert [a[1][1][1] for a in acts] == [1, 2]
    assert all(a[1][0][1] == cc.obis("0-0:10.0.106") for a in acts)


def test_over_disconnects_and_under_waits_for_the_button_in_mode_1(rig):
    assert rig.set(LIMITER, 71, 4, (DLU, 3000)) == 0
    assert rig.set(LIMITER, 71, 6, (DLU, 10)) == 0
    assert rig.set(LIMITER, 71, 7, (DLU, 30)) == 0
    assert rig.events == [67]
    for _ in range(9):
        rig.window(p_w=3500)
    assert rig.state() == (1, True)
    rig.window(p_w=3500)
    rig.window(p_w=3500)
    assert rig.events == [67, 65, 64] and rig.state() == (2, False)
    for _ in range(40):
        rig.window(p_w=0)                       # the relay is open: no power
    assert rig.events == [67, 65, 64, 66]       # under: h is not allowed in mode 1
    assert rig.state() == (2, False)
    assert rig.sw.press("external")["display"] == "ConnEct"
    rig.sw.press("external")
    asyncio.run(rig.sw.driver.settle())
    assert rig.state() == (1, True) and rig.events[-1] == 61


def test_under_reconnects_in_mode_5(rig):
    assert rig.set(DC, 70, 4, (axdr.ENUM, 5)) == 0
    assert rig.set(LIMITER, 71, 4, (DLU, 3000)) == 0
    assert rig.set(LIMITER, 71, 6, (DLU, 0)) == 0
    assert rig.set(LIMITER, 71, 7, (DLU, 5)) == 0
    rig.window(p_w=4000)
    assert rig.state() == (2, False)
    for _ in range(6):
        rig.window(p_w=0)
    assert rig.events[-3:] == [64, 66, 69] and rig.state() == (1, True)


def test_emergency_profile_over_cosem(rig):
    now = rig.now()                             # 12:00 UTC = 13:00 CET
    when = axdr.pack_datetime(2026, 1, 15, None, 14, 0, 0, None, -60, None)   # 13:00 UTC
    profile = (S, [(LU, 9), (OS, when), (DLU, 600)])
    assert rig.set(LIMITER, 71, 5, (DLU, 1000)) == 0
    assert rig.set(LIMITER, 71, 8, profile) == 0
    assert rig.get(LIMITER, 71, 8) == profile
    assert rig.set(LIMITER, 71, 9, (A, [(LU, 9)])) == 0
    assert rig.get(LIMITER, 71, 10) == (axdr.BOOLEAN, False)
    rig.meter.board.clock.set(now + 3600)
    assert rig.get(LIMITER, 71, 10) == (axdr.BOOLEAN, True)
    assert rig.get(LIMITER, 71, 3) == (DLU, 1000)
    rig.meter.board.clock.set(now + 3600 + 600)
    assert rig.get(LIMITER, 71, 3) == (DLU, 999000)
    # Without a deviation the time is local on the clock's rule (CET in winter).
    local = axdr.pack_datetime(2026, 1, 15, None, 14, 0, 0, None, None, None)
    assert rig.set(LIMITER, 71, 8, (S, [(LU, 9), (OS, local), (DLU, 600)])) == 0
    rig.meter.board.clock.set(now + 3600)
    assert rig.get(LIMITER, 71, 10) == (axdr.BOOLEAN, True)


@pytest.mark.parametrize("attr, data, result", [
    (2, (S, [(LU, 3), (OS, cc.obis("1-0:31.7.0")), (axdr.INTEGER, 2)]), 250),
    (4, (LU, 5), 12),
    (8, (S, [(LU, 1), (OS, b"\x07\xea\x0d\x01\xff\x00\x00\x00\x00\x80\x00\xff"), (DLU, 5)]), 250),
    (11, (S, [(S, [(OS, cc.obis("0-0:10.0.1")), (LU, 1)]),
              (S, [(OS, cc.obis("0-0:10.0.106")), (LU, 2)])]), 250),
    (11, (S, [(S, [(OS, cc.obis("0-0:10.0.106")), (LU, 3)]),
              (S, [(OS, cc.obis("0-0:10.0.106")), (LU, 2)])]), 250),
    (3, (DLU, 5), 3),                           # threshold_active is read-only
    (10, (axdr.BOOLEAN, True), 3),
])
def test_refused_writes_change_nothing(rig, attr, data, result):
    before = [rig.get(LIMITER, 71, n) for n in range(2, 12)]
    raw = rig.meter.store.read("switch_cfg")
    assert rig.set(LIMITER, 71, attr, data) == result
    assert [rig.get(LIMITER, 71, n) for n in range(2, 12)] == before
    assert rig.meter.store.read("switch_cfg") == raw
    assert rig.events == []


def test_no_action_and_settings_survive_a_reboot(rig):
    none = (S, [(OS, bytes(6)), (LU, 0)])
    assert rig.set(LIMITER, 71, 11, (S, [none, none])) == 0
    assert rig.set(LIMITER, 71, 4, (DLU, 100)) == 0
    assert rig.set(LIMITER, 71, 6, (DLU, 0)) == 0
    rig.window(p_w=500)
    assert rig.events == [67, 65] and rig.state() == (1, True)      # event only
    again = Rig(nv=rig.meter.board.nv, ic=1 << 24)
    assert again.get(LIMITER, 71, 4) == (DLU, 100)
    assert again.get(LIMITER, 71, 11) == (S, [none, none])


def test_limiter_on_three_phases_sums_the_import():
    rig = Rig("mt382")
    assert rig.set(LIMITER, 71, 4, (DLU, 5000)) == 0
    assert rig.set(LIMITER, 71, 6, (DLU, 0)) == 0
    rig.window(p_w=[2000, 2000, -3000])         # export on L3 does not count
    assert rig.state() == (1, True)
    rig.window(p_w=[2000, 2000, 1500])
    assert rig.state() == (2, False) and rig.events[-2:] == [65, 64]
