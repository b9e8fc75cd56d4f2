"""The one event path: every code of the spec tables lands in its log once and sets its alarm bit."""
import pytest

import sim_nv
from core import events
from core.events import AmbiguousEventCode, EventLog, Events, UnknownEventCode
from runtime.ringstore import RingStore

# Transcribed from the application spec, section 9.2 (one list per log, codes spelled out).
SPEC_LOGS = {
    "standard": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 47, 48,
                 51, 52, 88, 89, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242,
                 243, 254, 255],
    "fraud": [40, 41, 42, 43, 44, 45, 46, 49, 50, 91, 255],
    "disconnector": [59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 255],
    "mbus": [100, 101, 102, 103, 104, 105, 106, 110, 111, 112, 113, 114, 115, 116,
             120, 121, 122, 123, 124, 125, 126, 130, 131, 132, 133, 134, 135, 136, 254, 255],
    "power_quality": [76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 90, 92, 93, 94, 255],
    "communication": list(range(140, 159)),
    "mbus_control_1": [160, 161, 162, 163, 164, 165, 166, 255],
    "mbus_control_2": [170, 171, 172, 173, 174, 175, 176, 255],
    "mbus_control_3": [180, 181, 182, 183, 184, 185, 186, 255],
    "mbus_control_4": [190, 191, 192, 193, 194, 195, 196, 255],
}

# Section 10.2 / 10.3: code -> (alarm register, bit).
SPEC_ALARMS = {
    6: (1, 0), 7: (1, 1), 12: (1, 8), 13: (1, 9), 14: (1, 10), 16: (1, 11), 15: (1, 12),
    40: (1, 13), 42: (1, 13), 44: (1, 13), 46: (1, 13), 49: (1, 13), 50: (1, 13),
    100: (1, 16), 110: (1, 17), 120: (1, 18), 130: (1, 19),
    103: (1, 20), 113: (1, 21), 123: (1, 22), 133: (1, 23),
    106: (1, 24), 116: (1, 25), 126: (1, 26), 136: (1, 27),
    102: (1, 28), 112: (1, 29), 122: (1, 30), 132: (1, 31),
    1: (2, 0), 2: (2, 1), 82: (2, 2), 83: (2, 3), 84: (2, 4), 85: (2, 5), 86: (2, 6), 87: (2, 7),
    89: (2, 8), 90: (2, 9), 91: (2, 10), 88: (2, 11), 52: (2, 12), 48: (2, 13),
    92: (2, 14), 93: (2, 15), 94: (2, 16), 20: (2, 17), 158: (2, 18),
    105: (2, 19), 115: (2, 20), 125: (2, 21), 135: (2, 22),
    164: (2, 27), 174: (2, 28), 184: (2, 29), 194: (2, 30), 68: (2, 31),
}

SPEC_OBIS = {  # profile, event-code object
    "standard": ("0.0.99.98.0.255", "0.0.96.11.0.255"),
    "fraud": ("0.0.99.98.1.255", "0.0.96.11.1.255"),
    "disconnector": ("0.0.99.98.2.255", "0.0.96.11.2.255"),
    "mbus": ("0.0.99.98.3.255", "0.0.96.11.3.255"),
    "power_quality": ("0.0.99.98.4.255", "0.0.96.11.4.255"),
    "communication": ("0.0.99.98.5.255", "0.0.96.11.5.255"),
    "mbus_control_1": ("0.1.24.5.0.255", "0.1.96.11.4.255"),
    "mbus_control_2": ("0.2.24.5.0.255", "0.2.96.11.4.255"),
    "mbus_control_3": ("0.3.24.5.0.255", "0.3.96.11.4.255"),
    "mbus_control_4": ("0.4.24.5.0.255", "0.4.96.11.4.255"),
}


class Sink:
    def __init__(self):
        self.rows = []
        self.resets = 0

    def capture(self, code, t_s):
        self.rows.append((t_s, code))

    def reset(self):
        self.resets += 1
        self.rows = []


def build(**kw):
    sinks = {key: Sink() for key in SPEC_LOGS}
    ev = Events(sinks, **kw)
    pushes = []
    ev.subscribe(lambda reg, bits, t: pushes.append((reg, bits, t)))
    return ev, sinks, pushes


def owners(code):
    return [k for k, codes in SPEC_LOGS.items() if code in codes]


def test_log_table_matches_the_spec():
    assert [k for k, *_ in events.LOGS] == list(SPEC_LOGS)
    for key, prof, code_obj, _ in events.LOGS:
        assert (".".join(str(b) for b in prof), ".".join(str(b) for b in code_obj)) \
            == SPEC_OBIS[key]


@pytest.mark.parametrize("code", sorted({c for cs in SPEC_LOGS.values() for c in cs}))
def test_every_spec_code_lands_once_in_its_log_and_sets_its_alarm(code):
    for key in owners(code):
        ev, sinks, pushes = build()
        name = key if len(owners(code)) > 1 else None
        assert ev.raise_event(code, 1234, name) == key
        for other, sink in sinks.items():
            assert sink.rows == ([(1234, code)] if other == key else [])
        assert ev.last_code(key) == code
        want = [0, 0]
        if code in SPEC_ALARMS:
            reg, bit = SPEC_ALARMS[code]
            want[reg - 1] = 1 << bit
            assert pushes == [(reg, 1 << bit, 1234)]
        else:
            assert pushes == []
        assert ev.alarm == want and ev.descriptor == want


def test_every_alarm_code_is_an_event_of_some_log():
    for code in SPEC_ALARMS:
        assert len(owners(code)) == 1


def test_codes_outside_the_table_raise_a_precise_error():
    ev, sinks, _ = build()
    known = {c for cs in SPEC_LOGS.values() for c in cs}
    for code in range(256):
        if code not in known:
            with pytest.raises(UnknownEventCode, match="event code %d is not in" % code):
                ev.raise_event(code, 1)
    for bad in (-1, 256, "1", None):
        with pytest.raises(UnknownEventCode):
            ev.raise_event(bad, 1)
    with pytest.raises(UnknownEventCode, match="not an event of log 'fraud'"):
        ev.raise_event(1, 1, "fraud")
    with pytest.raises(KeyError, match="no event log 'nope'"):
        ev.raise_event(1, 1, "nope")
    assert all(s.rows == [] for s in sinks.values())


@pytest.mark.parametrize("code", [254, 255])
def test_shared_clear_codes_need_a_log_name(code):
    ev, sinks, _ = build()
    with pytest.raises(AmbiguousEventCode, match="event code %d belongs to several logs" % code):
        ev.raise_event(code, 5)
    assert ev.raise_event(code, 5, "mbus") == "mbus"
    assert sinks["mbus"].rows == [(5, code)] and sinks["standard"].rows == []


def test_filters_mask_alarms_and_push_only_new_bits():
    ev, _, pushes = build(filters=(0xFFFFFFFF & ~(1 << 13), 0xFFFFFFFF))
    ev.raise_event(40, 1)  # fraud attempt: filtered out
    assert ev.alarm == [0, 0] and ev.descriptor == [0, 0] and pushes == []
    assert ev.last_code("fraud") == 40  # the log still records it
    ev.raise_event(1, 2)
    ev.raise_event(1, 3)  # already set: no second push
    ev.raise_event(68, 4)
    assert ev.alarm == [0, 1 | 1 << 31] and pushes == [(2, 1, 2), (2, 1 << 31, 4)]
    ev.filter[0] = 0xFFFFFFFF
    ev.raise_event(44, 5)
    assert ev.alarm[0] == 1 << 13 and pushes[-1] == (1, 1 << 13, 5)


def test_clearing_an_alarm_register_logs_event_11():
    ev, sinks, pushes = build()
    ev.raise_event(14, 1)
    ev.clear_alarms(1, 9)
    assert ev.alarm == [0, 0] and ev.descriptor == [1 << 10, 0]
    assert sinks["standard"].rows[-1] == (9, 11) and ev.last_code("standard") == 11
    ev.raise_event(14, 10)  # set again after the clear: pushed again
    assert pushes[-1] == (1, 1 << 10, 10)
    ev.clear_descriptor(1, 1 << 10)
    assert ev.descriptor == [0, 0]
    with pytest.raises(ValueError):
        ev.clear_alarms(3, 1)


def test_clearing_a_mask_resets_only_those_bits():
    ev, sinks, pushes = build()
    for code in (82, 83, 88):
        ev.raise_event(code, 1)
    ev.clear_alarms(2, 5, 1 << 3 | 1 << 30)
    assert ev.alarm == [0, 1 << 2 | 1 << 11] and ev.last_code("standard") == 11
    ev.raise_event(83, 6)   # a reset bit is new again: pushed
    assert pushes[-1] == (2, 1 << 3, 6)


def test_reset_log_clears_the_sink_and_logs_255():
    ev, sinks, _ = build()
    ev.raise_event(60, 1)
    ev.reset_log("disconnector", 2)
    assert sinks["disconnector"].resets == 1 and ev.last_code("disconnector") == 255
    assert sinks["disconnector"].rows == [(2, 255)]
    ev.raise_event(150, 3)
    ev.reset_log("communication", 4)  # no "cleared" code in this log
    assert ev.last_code("communication") == 0 and sinks["communication"].rows == []


def test_logs_without_a_sink_still_keep_code_and_alarm():
    ev = Events()
    assert ev.raise_event(82, 1) == "power_quality"
    assert ev.last_code("power_quality") == 82 and ev.alarm == [0, 1 << 2]


def test_event_log_on_a_ring_survives_a_reboot():
    nv = sim_nv.NvMem(4096)
    ring = RingStore(nv, 0, EventLog.ROW_SIZE, 8)
    ev = Events({"fraud": EventLog(ring)})
    for k, code in enumerate((40, 41, 44, 45, 42, 43, 46, 49, 50, 91)):
        ev.raise_event(code, 1000 + k)
    log = EventLog(RingStore(nv, 0, EventLog.ROW_SIZE, 8))
    assert [log.row(i) for i in range(len(log))] == [
        (1002, 44), (1003, 45), (1004, 42), (1005, 43), (1006, 46), (1007, 49), (1008, 50),
        (1009, 91)]
    after = Events({"fraud": log})
    assert after.last_code("fraud") == 91
    after.reset_log("fraud", 2000)
    assert [log.row(i) for i in range(len(log))] == [(2000, 255)]
