"""Alarm registers, filters and descriptors in the Meter and over COSEM (management client,
sans-IO), kept in NV across boots and power cuts at any byte of their record write."""
import pytest

import cosem_client as cc
import sim_clock
import sim_nv
from core import civil
from dlms import axdr
from runtime import alarms, cosem_service
from runtime import meter as meter_mod
from test_clock_set import associate, ciphered

START = civil.to_epoch(2026, 2, 10, 9, 0, 0)
DLU = axdr.DOUBLE_LONG_UNSIGNED
ALARM1, ALARM2 = "0-0:97.98.0", "0-0:97.98.1"
FILTER1, FILTER2 = "0-0:97.98.10", "0-0:97.98.11"
DESC1, DESC2 = "0-0:97.98.20", "0-0:97.98.21"


class Board:
    def __init__(self, nv=None):
        self.clock = sim_clock.Clock(1000, START)
        self.nv = nv or sim_nv.NvMem()


def meter(nv=None):
    return meter_mod.Meter(Board(nv), {"model": "me382"})


@pytest.fixture
def session():
    m = meter()
    app, _ = cosem_service.build(m)
    conn, s = associate(app)

    def get(text):
        rsp = ciphered(conn, s, cc.get(1, cc.obis(text), 2), 0xC8)
        assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
        return axdr.decode_all(rsp[4:])[1]

    def set_(text, data):
        return ciphered(conn, s, cc.set_(1, cc.obis(text), 2, axdr.encode(data)), 0xC9)[3]

    return m, get, set_


def test_events_set_bits_in_register_and_descriptor(session):
    m, get, set_ = session
    m.raise_event(82)           # voltage missing L1: register 2 bit 2
    m.raise_event(44)           # meter cover removed: register 1 bit 13
    assert get(ALARM2) == 1 << 2 and get(DESC2) == 1 << 2
    assert get(ALARM1) == 1 << 13 and get(DESC1) == 1 << 13
    assert get(FILTER1) == get(FILTER2) == 0xFFFFFFFF


def test_writing_a_mask_resets_those_bits_and_logs_event_11(session):
    m, get, set_ = session
    for code in (82, 83, 89):
        m.raise_event(code)
    assert set_(ALARM2, (DLU, 1 << 3)) == 0
    assert get(ALARM2) == (1 << 2) | (1 << 8)
    assert m.events.last_code("standard") == 11
    assert get(DESC2) == (1 << 2) | (1 << 3) | (1 << 8)       # the descriptor keeps them
    assert set_(DESC2, (DLU, 1 << 2)) == 0
    assert get(DESC2) == (1 << 3) | (1 << 8)
    assert set_(ALARM2, (DLU, 0)) == 0                          # 0: every bit
    assert get(ALARM2) == 0
    assert set_(DESC2, (DLU, 0)) == 0
    assert get(DESC2) == 0


def test_filter_masks_new_alarms(session):
    m, get, set_ = session
    assert set_(FILTER2, (DLU, 0xFFFFFFFF & ~(1 << 2))) == 0
    m.raise_event(82)
    assert get(ALARM2) == 0 and get(DESC2) == 0
    m.raise_event(83)
    assert get(ALARM2) == 1 << 3


def test_bad_writes_change_nothing(session):
    m, get, set_ = session
    m.raise_event(82)
    assert set_(ALARM2, (axdr.LONG_UNSIGNED, 4)) == 12
    assert set_(FILTER1, (axdr.OCTET_STRING, b"\x00")) == 12
    assert get(ALARM2) == 1 << 2 and get(FILTER1) == 0xFFFFFFFF


def test_public_client_does_not_see_alarms_and_preestablished_only_reads():
    m = meter()
    app, _ = cosem_service.build(m)
    view = app.model.associate(16)
    with pytest.raises(Exception) as e:
        view.find(1, cc.obis(ALARM1))
    assert e.value.result == 4
    pre = app.model.associate(102)
    obj = pre.find(1, cc.obis(ALARM2))
    assert pre.get(obj, 2) == (DLU, 0)
    with pytest.raises(Exception) as e:
        pre.set(obj, 2, (DLU, 0))
    assert e.value.result == 3


def test_alarm_state_survives_a_reboot_and_a_hard_cut():
    m = meter()
    m.raise_event(89)
    m.events.filter[0] = 0x0000FFFF
    [s for s in m.services if isinstance(s, alarms.Alarms)][0].save()
    m.raise_event(85)           # written at once: a newly set bit
    again = meter(m.board.nv)
    assert again.events.alarm == [0, (1 << 8) | (1 << 5)]
    assert again.events.filter == [0x0000FFFF, 0xFFFFFFFF]
    assert again.events.descriptor == again.events.alarm


def test_power_off_forgets_what_nv_does_not_hold():
    m = meter()
    svc = [s for s in m.services if isinstance(s, alarms.Alarms)][0]
    m.raise_event(82)
    m.events.descriptor[1] = 0          # a change no write has kept yet
    svc.power_off(START, True)
    assert m.events.descriptor[1] == 1 << 2


@pytest.mark.parametrize("cut", range(0, 60, 3))
def test_a_cut_during_the_alarm_write_leaves_old_or_new_state(cut):
    nv = sim_nv.NvMem()
    m = meter(nv)
    m.raise_event(82)
    nv.cut_after(cut)
    try:
        m.raise_event(83)
    except sim_nv.PowerCut:
        pass
    nv.restore()
    alarm = meter(nv).events.alarm[1]
    assert alarm in (1 << 2, (1 << 2) | (1 << 3))


def test_record_round_trip_and_refusal():
    m = meter()
    m.raise_event(91)
    raw = alarms.pack(m.events)
    other = meter().events
    alarms.unpack(raw, other)
    assert other.alarm == m.events.alarm
    with pytest.raises(ValueError):
        alarms.unpack(raw[:-1], other)
