"""Register monitors (class 21): the crossing logic, the supervision monitors 1-0:31.4.0 (and
51.4.0, 71.4.0 on MT382) with events 70..75 and their actions, the overvoltage monitor 0-0:16.1.0
(265 V, delays) with local disconnection and reconnection per control mode."""
import pytest
from hypothesis import given, settings, strategies as st

import cosem_client as cc
from core.monitor import DOWN, UP, Monitor
from dlms import axdr
from runtime import switching
from test_limiter import Rig

S, A, LU, DLU, OS = axdr.STRUCTURE, axdr.ARRAY, axdr.LONG_UNSIGNED, axdr.DOUBLE_LONG_UNSIGNED, \
    axdr.OCTET_STRING
L1, L2, L3 = cc.obis("1-0:31.4.0"), cc.obis("1-0:51.4.0"), cc.obis("1-0:71.4.0")
OVERVOLTAGE = cc.obis("0-0:16.1.0")
DC = cc.obis("0-0:96.3.10")
SCRIPTS = cc.obis("0-0:10.0.106")
NONE = (S, [(OS, bytes(6)), (LU, 0)])


def action(sel):
    return (S, [(OS, SCRIPTS), (LU, sel)])


SWITCH = (S, [action(1), action(2)])


def test_crossings_of_several_thresholds():
    m = Monitor([100, 200])
    assert m.update(150, 0) == [(0, UP)]
    assert m.update(250, 1) == [(1, UP)]
    assert m.update(200, 2) == [(1, DOWN)]          # equal is not above
    assert m.update(50, 3) == [(0, DOWN)]
    assert m.update(300, 4) == [(0, UP), (1, UP)]
    with pytest.raises(ValueError):
        m.set_thresholds([1, 2, 3, 4, 5])
    with pytest.raises(ValueError):
        m.set_thresholds([-1])
    assert m.thresholds == (100, 200)


def test_delays():
    m = Monitor([10], up_delay_s=5, down_delay_s=60)
    assert m.update(11, 0) == []
    assert m.update(9, 3) == []                     # back before the delay: nothing
    assert m.update(11, 10) == [] and m.update(11, 15) == [(0, UP)]
    assert m.update(5, 16) == [] and m.update(5, 75) == []
    assert m.update(5, 76) == [(0, DOWN)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=80), st.integers(0, 30))
def test_up_and_down_alternate(values, threshold):
    m = Monitor([threshold])
    seen = []
    for t, v in enumerate(values):
        seen += [way for _, way in m.update(v, t)]
    assert seen == [UP, DOWN] * (len(seen) // 2) + [UP] * (len(seen) % 2)
    assert m.above[0] == (len(seen) % 2 == 1)


def test_supervision_monitor_defaults_and_events():
    rig = Rig()
    assert rig.get(L1, 21, 2) == (A, [(DLU, 8500)])           # Imax 85 A, 0.01 A
    assert rig.get(L1, 21, 3) == (S, [(LU, 3), (OS, cc.obis("1-0:31.7.0")), (axdr.INTEGER, 2)])
    assert rig.get(L1, 21, 4) == (A, [(S, [NONE, NONE])])
    rig.window(i_a=90)
    rig.window(i_a=10)
    assert rig.events == [70, 71] and rig.state() == (1, True)  # events only by default


def test_supervision_monitor_with_disconnector_actions_mode_6():
    rig = Rig()
    assert rig.set(DC, 70, 4, (axdr.ENUM, 6)) == 0
    assert rig.set(L1, 21, 2, (A, [(DLU, 4000)])) == 0
    assert rig.set(L1, 21, 4, (A, [SWITCH])) == 0
    rig.window(i_a=45)
    assert rig.events == [70, 64] and rig.state() == (2, False)
    rig.window(i_a=0)
    assert rig.events == [70, 64, 71, 69] and rig.state() == (1, True)


def test_three_phase_monitors_have_their_own_events():
    rig = Rig("mt382")
    assert [rig.get(o, 21, 2) for o in (L1, L2, L3)] == [(A, [(DLU, 8500)])] * 3
    rig.window(i_a=[1, 90, 1])
    rig.window(i_a=[1, 90, 95])
    rig.window(i_a=[1, 1, 1])
    assert rig.events == [72, 74, 73, 75]


def test_threshold_count_and_action_writes():
    rig = Rig()
    assert rig.set(L1, 21, 2, (A, [(DLU, 1000), (DLU, 2000)])) == 0
    assert rig.get(L1, 21, 4) == (A, [(S, [NONE, NONE]), (S, [NONE, NONE])])
    before = rig.meter.store.read("switch_cfg")
    assert rig.set(L1, 21, 4, (A, [SWITCH])) == 250               # one pair per threshold
    assert rig.set(L1, 21, 2, (A, [(DLU, 1)] * 5)) == 250         # at most 4
    assert rig.set(L1, 21, 2, (A, [(LU, 1)])) == 12               # type of the monitored value
    bad = (S, [action(7), action(2)])
    assert rig.set(L1, 21, 4, (A, [bad, SWITCH])) == 250          # script 7 does not exist
    assert rig.set(L1, 21, 3, (S, [(LU, 3), (OS, bytes(6)), (axdr.INTEGER, 2)])) == 3
    assert rig.meter.store.read("switch_cfg") == before
    assert rig.set(L1, 21, 4, (A, [(S, [NONE, NONE]), SWITCH])) == 0
    rig.window(i_a=15)
    assert rig.events == [70] and rig.state() == (1, True)
    rig.window(i_a=25)
    assert rig.events == [70, 70, 64] and rig.state() == (2, False)


def test_overvoltage_disconnects_and_reconnects_after_the_delays():
    rig = Rig()
    assert rig.get(OVERVOLTAGE, 21, 2) == (A, [(LU, 2650)])
    assert rig.get(OVERVOLTAGE, 21, 3)[1][1] == (OS, cc.obis("1-0:12.7.0"))
    assert rig.set(DC, 70, 4, (axdr.ENUM, 5)) == 0
    rig.window(u_v=270, p_w=1000)
    assert rig.state() == (1, True)
    for _ in range(switching.OVERVOLTAGE_UP_S):
        rig.window(u_v=270, p_w=1000)
    assert rig.state() == (2, False) and rig.events == [64]
    for _ in range(switching.OVERVOLTAGE_DOWN_S):
        rig.window(u_v=230)
    assert rig.state() == (2, False)
    rig.window(u_v=230)
    assert rig.state() == (1, True) and rig.events == [64, 69]


def test_overvoltage_waits_for_the_button_in_mode_1():
    rig = Rig("mt382")
    for _ in range(switching.OVERVOLTAGE_UP_S + 1):
        rig.window(u_v=[230, 266, 230])             # the highest phase voltage counts
    assert rig.state() == (2, False)
    for _ in range(switching.OVERVOLTAGE_DOWN_S + 2):
        rig.window(u_v=230)
    assert rig.state() == (2, False) and rig.events == [64]
    assert rig.set(OVERVOLTAGE, 21, 2, (A, [(LU, 2700)])) == 0
    assert rig.get(OVERVOLTAGE, 21, 2) == (A, [(LU, 2700)])


def test_monitor_state_survives_a_reboot():
    rig = Rig()
    assert rig.set(DC, 70, 4, (axdr.ENUM, 6)) == 0
    assert rig.set(L1, 21, 4, (A, [SWITCH])) == 0
    rig.window(i_a=90)
    assert rig.state() == (2, False)
    again = Rig(nv=rig.meter.board.nv, ic=1 << 24)
    again.meter.board.relay.move(False)
    again.window(i_a=0)                 # the monitor still knows it was above: reconnects
    assert again.events == [71, 69] and again.sw.dc.state == 1
