"""Fraud detection: tamper inputs (meter cover, terminal cover, strong magnetic field, alarm
input) with debounce and the fraud log's hold-off, their events and alarm bits through the one
event path, the input/output state registers 0-0:96.3.1 / 0-0:96.3.2, and unexpected
consumption (event 52) while the disconnector is open (a welded contact); relay failure 68."""
from hypothesis import given, settings, strategies as st

import cosem_client as cc
from core import fraud
from dlms import axdr
from test_limiter import Rig

INPUTS = cc.obis("0-0:96.3.1")
OUTPUTS = cc.obis("0-0:96.3.2")
DC = cc.obis("0-0:96.3.10")
ZERO = (axdr.INTEGER, 0)


def levels(**on):
    return [on.get(name, False) for name, _, _, _ in fraud.INPUTS]


def test_debounce_and_hold_off():
    t = fraud.Tamper()
    assert t.update(levels(meter_cover=True), 0) == []
    assert t.update(levels(), 0) == []                          # a glitch: nothing
    assert t.update(levels(meter_cover=True), 10) == []
    assert t.update(levels(meter_cover=True), 11) == [44]
    assert t.bits() == 1
    assert t.update(levels(), 20) == [] and t.update(levels(), 21) == [45]
    # Opened and closed again within the hold-off: neither event is logged again.
    t.update(levels(meter_cover=True), 30)
    assert t.update(levels(meter_cover=True), 31) == [] and t.bits() == 1
    t.update(levels(), 40)
    assert t.update(levels(), 41) == [] and t.bits() == 0
    t.update(levels(meter_cover=True), 700)
    assert t.update(levels(meter_cover=True), 701) == [44]
    every = levels(meter_cover=True, terminal_cover=True, magnet=True, alarm=True)
    t.update(every, 800)
    assert t.update(every, 801) == [40, 42, 20]
    assert t.bits() == 0b1111
    t.update(levels(), 900)
    assert t.update(levels(), 901) == [45, 41, 43]              # the alarm input has no "ok"


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.booleans()), max_size=60))
def test_events_alternate_and_respect_the_hold_off(steps):
    t = fraud.Tamper()
    now = 0
    seen = []
    for dt, level in steps:
        now += dt
        for code in t.update(levels(magnet=level), now):
            seen.append((now, code))
    codes = [c for _, c in seen]
    assert all(a != b for a, b in zip(codes, codes[1:]))        # 42, 43, 42 ...
    for code in (42, 43):
        times = [s for s, c in seen if c == code]
        assert all(b - a >= fraud.HOLD_OFF_S for a, b in zip(times, times[1:]))


def test_unexpected_consumption_once_per_episode():
    u = fraud.Unexpected()
    assert not u.update(False, [100000], 0)
    assert not u.update(True, [100000], 10)
    assert not u.update(True, [100000], 14)
    assert u.update(True, [-100000], 15)                         # either direction
    assert not u.update(True, [100000], 100)
    assert not u.update(True, [0], 101)
    assert not u.update(True, [fraud.UC_MIN_MW], 102)
    assert not u.update(True, [100000], 103)
    assert u.update(True, [100000], 103 + fraud.UC_DELAY_S)


def test_tamper_inputs_on_the_meter():
    rig = Rig()
    rig.meter.board.inputs.set("terminal_cover", True)
    rig.window()
    assert rig.get(INPUTS, 1, 2) == (axdr.LONG_UNSIGNED, 0)     # not debounced yet
    rig.window()
    assert rig.events == [40] and rig.get(INPUTS, 1, 2) == (axdr.LONG_UNSIGNED, 2)
    assert rig.meter.events.last_code("fraud") == 40
    assert rig.meter.events.alarm[0] & (1 << 13)                # fraud attempt
    rig.meter.board.inputs.set("terminal_cover", False)
    rig.meter.board.inputs.set("magnet", True)
    rig.window()
    rig.window()
    assert rig.events == [40, 41, 42]
    assert rig.get(INPUTS, 1, 2) == (axdr.LONG_UNSIGNED, 4)
    assert rig.get(OUTPUTS, 1, 2) == (axdr.LONG_UNSIGNED, 1)    # the disconnector is closed


def test_welded_contact_fails_then_unexpected_consumption():
    rig = Rig()
    rig.meter.board.relay.fault("welded")
    assert rig.act(DC, 70, 1, ZERO) == 0
    rig.window(p_w=2000)
    assert rig.events == [62, 68]
    assert rig.meter.events.alarm[1] & (1 << 31)                # disconnect/reconnect failure
    assert rig.get(DC, 70, 2) == (axdr.BOOLEAN, True)           # the contact is still closed
    assert rig.get(DC, 70, 3) == (axdr.ENUM, 0)
    assert rig.get(OUTPUTS, 1, 2) == (axdr.LONG_UNSIGNED, 1)
    for _ in range(fraud.UC_DELAY_S + 1):
        rig.window(p_w=2000)
    assert rig.events == [62, 68, 52]
    assert rig.meter.events.alarm[1] & (1 << 12)                # unexpected consumption
    assert rig.meter.events.last_code("standard") == 52
    for _ in range(20):
        rig.window(p_w=2000)
    assert rig.events.count(52) == 1


def test_no_unexpected_consumption_while_connected_or_without_load():
    rig = Rig()
    for _ in range(10):
        rig.window(p_w=2000)
    assert rig.act(DC, 70, 1, ZERO) == 0
    for _ in range(10):
        rig.window(p_w=0)
    assert rig.events == [62]
