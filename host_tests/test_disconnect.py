"""Disconnect control (class 70): every operation in every state of every control mode against
the Blue Book's Table 82, random operation sequences against an independent model, the button's
two-press manual operation, and the class 70 object through the sans-IO COSEM server."""
import asyncio

import pytest
from hypothesis import given, settings, strategies as st

import cosem_client as cc
import sim_clock
import sim_nv
from core import civil
from core import disconnect as dcl
from dlms import axdr
from runtime import cosem_service
from runtime import meter as meter_mod
from test_clock_set import associate, ciphered

# Table 82 as the spec words it: per mode, the disconnections and reconnections allowed.
TABLE_82 = {
    0: ("", ""),
    1: ("remote b c, manual f, local g", "remote d, manual e"),
    2: ("remote b c, manual f, local g", "remote a, manual e"),
    3: ("remote b c, local g", "remote d, manual e"),
    4: ("remote b c, local g", "remote a, manual e"),
    5: ("remote b c, manual f, local g", "remote d, manual e, local h"),
    6: ("remote b c, local g", "remote d, manual e, local h"),
}
# transition: (operation, from, to) as the spec lists them
SPEC_TRANSITIONS = {
    "a": ("remote_reconnect", 0, 1), "b": ("remote_disconnect", 1, 0),
    "c": ("remote_disconnect", 2, 0), "d": ("remote_reconnect", 0, 2),
    "e": ("manual_reconnect", 2, 1), "f": ("manual_disconnect", 1, 2),
    "g": ("local_disconnect", 1, 2), "h": ("local_reconnect", 2, 1),
}
OPS = {
    "remote_disconnect": dcl.REMOTE_DISCONNECT, "remote_reconnect": dcl.REMOTE_RECONNECT,
    "manual_disconnect": dcl.MANUAL_DISCONNECT, "manual_reconnect": dcl.MANUAL_RECONNECT,
    "local_disconnect": dcl.LOCAL_DISCONNECT, "local_reconnect": dcl.LOCAL_RECONNECT,
}
EVENTS = {"a": 63, "b": 62, "c": 62, "d": 59, "e": 61, "f": 60, "g": 64, "h": 69}


def allowed(mode):
    """Transition letters of a mode, read from the spec's wording."""
    out = set()
    for part in TABLE_82[mode]:
        for word in part.replace(",", " ").split():
            if len(word) == 1:
                out.add(word)
    return out


def expected(mode, state, op):
    """The model: (new state, transition) or (state, None) when refused."""
    for t, (name, src, dst) in SPEC_TRANSITIONS.items():
        if name == op and src == state and t in allowed(mode):
            return dst, t
    return state, None


CASES = [(mode, state, op) for mode in range(7) for state in (0, 1, 2) for op in OPS
         if not (mode == 0 and state != 1)]


@pytest.mark.parametrize("mode, state, op", CASES)
def test_every_operation_in_every_state_and_mode(mode, state, op):
    d = dcl.Disconnect(mode, state)
    new, t = expected(mode, state, op)
    assert d.step(OPS[op]) == t
    assert (d.state, d.mode) == (new, mode)
    assert d.output() == (new == 1)
    if t is not None:
        assert dcl.EVENTS[t] == EVENTS[t]


def test_table_counts():
    # 8 transitions, each allowed in the modes the table names: a and h are the rarest.
    made = {}
    for mode, state, op in CASES:
        t = expected(mode, state, op)[1]
        if t:
            made.setdefault(t, set()).add(mode)
    assert made == {"a": {2, 4}, "b": set(range(1, 7)), "c": set(range(1, 7)),
                    "d": {1, 3, 5, 6}, "e": set(range(1, 7)), "f": {1, 2, 5},
                    "g": set(range(1, 7)), "h": {5, 6}}


def test_mode_changes():
    d = dcl.Disconnect(1, 1)
    for bad in (-1, 7, True, "1", None):
        with pytest.raises(ValueError):
            d.set_mode(bad)
        assert d.mode == 1
    d.step(dcl.REMOTE_DISCONNECT)
    with pytest.raises(ValueError):
        d.set_mode(0)           # never closes the switch by a mode write
    assert (d.mode, d.state) == (1, 0)
    d.set_mode(4)
    assert d.step(dcl.REMOTE_RECONNECT) == "a"
    d.set_mode(0)
    assert [d.step(op) for op in OPS.values()] == [None] * 6
    with pytest.raises(ValueError):
        dcl.Disconnect(3, 5)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 6), st.lists(st.one_of(
    st.sampled_from(sorted(OPS)).map(lambda o: ("op", o)),
    st.integers(0, 7).map(lambda m: ("mode", m))), max_size=40))
def test_random_sequences_follow_the_model(mode, steps):
    d = dcl.Disconnect(mode, 1)
    m_mode, m_state = mode, 1
    for kind, x in steps:
        if kind == "mode":
            ok = 0 <= x <= 6 and (x != 0 or m_state == 1)
            if ok:
                d.set_mode(x)
                m_mode = x
            else:
                with pytest.raises(ValueError):
                    d.set_mode(x)
        else:
            m_state, t = expected(m_mode, m_state, x)
            assert d.step(OPS[x]) == t
        assert (d.mode, d.state) == (m_mode, m_state)


def test_manual_two_press_reconnection_and_disconnection():
    d = dcl.Disconnect(1, 2)
    m = dcl.Manual()
    assert m.prompt(d, 0) == "ConnEct"
    assert m.press(d, 100) == ("ConnEct", None)
    assert m.press(d, 100 + dcl.CONFIRM_S) == (None, dcl.MANUAL_RECONNECT)
    assert d.step(dcl.MANUAL_RECONNECT) == "e" and d.state == 1
    assert m.press(d, 200) == ("dISconn", None)         # mode 1 allows f
    assert m.press(d, 200 + dcl.CONFIRM_S + 1) == ("dISconn", None)   # too late: asks again
    assert m.press(d, 240) == (None, dcl.MANUAL_DISCONNECT)
    d3 = dcl.Disconnect(3, 1)                            # mode 3: no manual disconnection
    assert m.press(d3, 300) == (None, None) and m.press(d3, 301) == (None, None)
    d0 = dcl.Disconnect(1, 0)                            # disconnected: the button does nothing
    assert m.press(d0, 400) == (None, None) and m.prompt(d0, 400) is None


# ------------------------------------------------------------------ class 70 over COSEM

DC = cc.obis("0-0:96.3.10")
SCRIPTS = cc.obis("0-0:10.0.106")
START = civil.to_epoch(2026, 1, 15, 12, 0, 0)


class Board:
    def __init__(self, nv=None):
        import hw
        b = hw.Board("me382", {"state_dir": None, "realtime": False, "start": START})
        self.clock = sim_clock.Clock(1000, START)
        self.nv = nv or sim_nv.NvMem()
        self.relay = b.relay
        self.power = b.power
        self.inputs = b.inputs
        self.afe = b.afe


def switching(m):
    return [s for s in m.services if type(s).__name__ == "Switching"][0]


@pytest.fixture
def session():
    m = meter_mod.Meter(Board(), {"model": "me382"})
    app, _ = cosem_service.build(m)
    conn, s = associate(app)
    return m, conn, s


def get(conn, s, obj, cls, attr):
    rsp = ciphered(conn, s, cc.get(cls, obj, attr), 0xC8)
    assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
    return axdr.decode_all(rsp[4:])


def set_(conn, s, obj, cls, attr, data):
    return ciphered(conn, s, cc.set_(cls, obj, attr, axdr.encode(data)), 0xC9)[3]


def act(conn, s, obj, cls, method, data):
    rsp = ciphered(conn, s, cc.action(cls, obj, method, axdr.encode(data)), 0xCB)
    assert rsp[:3] == bytes.fromhex("C701C1"), rsp.hex()
    return rsp[3]


def states(conn, s):
    return [get(conn, s, DC, 70, n)[1] for n in (2, 3, 4)]


ZERO = (axdr.INTEGER, 0)


def test_remote_methods_follow_the_mode(session):
    m, conn, s = session
    sw = switching(m)
    assert states(conn, s) == [True, 1, 1]                  # default: mode 1, connected
    assert act(conn, s, DC, 70, 1, ZERO) == 0                # b
    asyncio.run(sw.driver.settle())
    assert states(conn, s) == [False, 0, 1]
    assert m.board.relay.contact is False
    assert act(conn, s, DC, 70, 1, ZERO) == 250              # already disconnected
    assert act(conn, s, DC, 70, 2, ZERO) == 0                # d: ready for reconnection
    asyncio.run(sw.driver.settle())
    assert states(conn, s) == [False, 2, 1]
    assert set_(conn, s, DC, 70, 4, (axdr.ENUM, 0)) == 250   # mode 0 needs "connected"
    assert sw.press("scroll")["display"] == "ConnEct"
    assert sw.press("scroll")["transition"] == "e"
    asyncio.run(sw.driver.settle())
    assert states(conn, s) == [True, 1, 1]
    assert m.events.last_code("disconnector") == 61
    # Mode 2: remote reconnection closes at once (a).
    assert set_(conn, s, DC, 70, 4, (axdr.ENUM, 2)) == 0
    assert act(conn, s, DC, 70, 1, ZERO) == 0
    assert act(conn, s, DC, 70, 2, ZERO) == 0
    asyncio.run(sw.driver.settle())
    assert states(conn, s) == [True, 1, 2]
    assert m.events.last_code("disconnector") == 63


def test_mode_0_refuses_both_methods_and_changes_nothing(session):
    m, conn, s = session
    assert set_(conn, s, DC, 70, 4, (axdr.ENUM, 0)) == 0
    raw = m.store.read("switching")
    for method in (1, 2):
        assert act(conn, s, DC, 70, method, ZERO) == 250
        assert states(conn, s) == [True, 1, 0]
    assert m.store.read("switching") == raw
    assert m.events.last_code("disconnector") is None or \
        m.events.last_code("disconnector") not in (62, 63)
    assert set_(conn, s, DC, 70, 4, (axdr.ENUM, 7)) == 250   # outside 0..6
    assert act(conn, s, DC, 70, 1, (axdr.INTEGER, 1)) == 250  # the parameter is integer 0
    assert act(conn, s, DC, 70, 1, (axdr.UNSIGNED, 0)) == 12
    assert set_(conn, s, DC, 70, 3, (axdr.ENUM, 0)) == 3      # control_state is read-only
    assert states(conn, s) == [True, 1, 0]


def test_disconnector_script_table(session):
    m, conn, s = session
    scripts = get(conn, s, SCRIPTS, 9, 2)[1]
    assert [x[1][0][1] for x in scripts] == [1, 2]
    assert act(conn, s, SCRIPTS, 9, 1, (axdr.LONG_UNSIGNED, 1)) == 0
    assert states(conn, s)[1:] == [0, 1]
    assert act(conn, s, SCRIPTS, 9, 1, (axdr.LONG_UNSIGNED, 1)) == 250
    assert act(conn, s, SCRIPTS, 9, 1, (axdr.LONG_UNSIGNED, 3)) == 250
    assert act(conn, s, SCRIPTS, 9, 1, (axdr.LONG_UNSIGNED, 2)) == 0
    assert states(conn, s)[1:] == [2, 1]


def test_state_and_mode_survive_a_reboot(session):
    m, conn, s = session
    assert set_(conn, s, DC, 70, 4, (axdr.ENUM, 6)) == 0
    assert act(conn, s, DC, 70, 1, ZERO) == 0
    b = Board(m.board.nv)
    m2 = meter_mod.Meter(b, {"model": "me382"})
    sw = switching(m2)

    async def boot():
        sw.power_on(b.clock.now())
        await sw.driver.settle()
        sw.power_off(b.clock.now(), False)
    asyncio.run(boot())
    assert (sw.dc.mode, sw.dc.state, b.relay.contact) == (6, 0, False)


def test_public_client_reads_only_the_states():
    m = meter_mod.Meter(Board(), {"model": "me382"})
    app, _ = cosem_service.build(m)
    conn = app.connection()
    assert cc.aare_result(conn.handle(16, cc.aarq())) == (0, 0)
    rsp = conn.handle(16, cc.get(70, DC, 3))
    assert rsp[:4] == bytes.fromhex("C401C100")
    assert conn.handle(16, cc.get(70, DC, 4))[3:5] == bytes.fromhex("0103")   # denied
    rsp = conn.handle(16, cc.action(70, DC, 1, axdr.encode(ZERO)))
    assert rsp[3] != 0 and m.store.read("switching") is None


# ------------------------------------------------------------------ disconnect control scheduler

SCHEDULER = cc.obis("0-0:15.0.1")


def test_scheduler_disconnects_and_reconnects_at_its_execution_times():
    from test_limiter import Rig
    rig = Rig()
    assert rig.get(SCHEDULER, 22, 2) == (axdr.STRUCTURE, [(axdr.OCTET_STRING, SCRIPTS),
                                                          (axdr.LONG_UNSIGNED, 1)])
    assert rig.get(SCHEDULER, 22, 4) == (axdr.ARRAY, [])
    # 14:00 local (13:00 UTC) on 2026-01-15, one hour from now.
    at = (axdr.STRUCTURE, [(axdr.OCTET_STRING, bytes((14, 0, 0, 0))),
                           (axdr.OCTET_STRING, bytes((0x07, 0xEA, 1, 15, 0xFF)))])
    assert rig.set(SCHEDULER, 22, 4, (axdr.ARRAY, [at])) == 0
    assert rig.get(SCHEDULER, 22, 4) == (axdr.ARRAY, [at])
    rig.window(seconds=3599 - 1)
    assert rig.state() == (1, True)
    rig.window(seconds=2)
    assert rig.state() == (0, False) and rig.events == [62]
    # Script 2 the next day: the mode-1 remote reconnection arms the button (d).
    nxt = (axdr.STRUCTURE, [(axdr.OCTET_STRING, bytes((14, 0, 0, 0))),
                            (axdr.OCTET_STRING, bytes((0x07, 0xEA, 1, 16, 0xFF)))])
    assert rig.set(SCHEDULER, 22, 2, (axdr.STRUCTURE, [(axdr.OCTET_STRING, SCRIPTS),
                                                       (axdr.LONG_UNSIGNED, 2)])) == 0
    assert rig.set(SCHEDULER, 22, 4, (axdr.ARRAY, [nxt])) == 0
    # A power cut over the execution time: carried out once at power-up.
    again = Rig(nv=rig.meter.board.nv, ic=1 << 24)
    again.meter.board.relay.move(False)
    again.meter.board.clock.set(rig.now() + 2 * 86400)
    again.window()
    assert again.sw.dc.state == 2 and again.events == [59]
    again.window(seconds=86400)
    assert again.events == [59]
    bad = (axdr.STRUCTURE, [(axdr.OCTET_STRING, cc.obis("0-0:10.0.1")), (axdr.LONG_UNSIGNED, 1)])
    assert again.set(SCHEDULER, 22, 2, bad) == 250
    assert again.set(SCHEDULER, 22, 2, (axdr.STRUCTURE, [(axdr.OCTET_STRING, SCRIPTS),
                                                         (axdr.LONG_UNSIGNED, 5)])) == 250
