"""Activity calendar (class 20), special days table (class 11), the tariff in force and the
tariff registers over COSEM: sans-IO with the real Meter's time of use (CPython), and end to end
with the management client against the firmware under micropython."""
import pytest

import cosem_client as cc
import sim_clock
import sim_nv
from core import civil
from dlms import axdr
from runtime import cosem_service
from runtime import meter as meter_mod
from test_clock_set import associate, ciphered

SC = b"\x00\x00\x0a\x00\x64\xff"
CAL = cc.obis("0-0:13.0.0")
SPECIAL = cc.obis("0-0:11.0.0")
TARIFF = cc.obis("0-0:96.14.0")
# Thursday 2026-01-15 12:00 UTC = 13:00 CET: tariff 2 (day) under the default calendar.
START = civil.to_epoch(2026, 1, 15, 12, 0, 0)
S, A, U, LU, OS = axdr.STRUCTURE, axdr.ARRAY, axdr.UNSIGNED, axdr.LONG_UNSIGNED, axdr.OCTET_STRING


def action_data(t, script, sel):
    return S, [(OS, bytes(t)), (OS, script), (LU, sel)]


def days(*profiles):
    """Day profile table: profiles (day id, [(h, m, tariff), ...])."""
    return A, [(S, [(U, d), (A, [action_data((h, m, 0, 0), SC, t) for h, m, t in acts])])
               for d, acts in profiles]


def weeks(*ws):
    return A, [(S, [(OS, name)] + [(U, i) for i in ids]) for name, ids in ws]


def seasons(*ss):
    return A, [(S, [(OS, name), (OS, start), (OS, week)]) for name, start, week in ss]


ALL_YEAR = axdr.pack_datetime(None, 1, 1, None, 0, 0, 0, None, None, None)
# The calendar written in the tests: tariff 3 before noon, tariff 4 after, every day.
NEW_DAYS = days((5, [(0, 0, 3), (12, 0, 4)]))
NEW_WEEKS = weeks((b"HALF", (5,) * 7))
NEW_SEASONS = seasons((b"ALWAYS", ALL_YEAR, b"HALF"))


class Board:
    def __init__(self, nv=None):
        self.clock = sim_clock.Clock(1000, START)
        self.nv = nv or sim_nv.NvMem()


def meter(board=None):
    return meter_mod.Meter(board or Board(), {"model": "me382"})


def get(conn, s, obj, cls, attr):
    rsp = ciphered(conn, s, cc.get(cls, obj, attr), 0xC8)
    assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
    return axdr.decode_all(rsp[4:])


def set_(conn, s, obj, cls, attr, data):
    rsp = ciphered(conn, s, cc.set_(cls, obj, attr, axdr.encode(data)), 0xC9)
    return rsp[3]


def act(conn, s, obj, cls, method, data):
    rsp = ciphered(conn, s, cc.action(cls, obj, method, axdr.encode(data)), 0xCB)
    assert rsp[:3] == bytes.fromhex("C701C1"), rsp.hex()
    return rsp[3]


@pytest.fixture
def session():
    m = meter()
    app, _ = cosem_service.build(m)
    conn, s = associate(app)
    return m, conn, s


def test_default_calendar_and_tariff_in_force_are_readable(session):
    m, conn, s = session
    assert get(conn, s, CAL, 20, 2) == (OS, b"DAYNIGHT")
    assert get(conn, s, CAL, 20, 5) == days((1, [(6, 0, 2), (22, 0, 1)]), (2, [(0, 0, 1)]))
    assert get(conn, s, CAL, 20, 4) == weeks((b"WEEK", (1, 1, 1, 1, 1, 2, 2)))
    assert get(conn, s, CAL, 20, 3) == seasons((b"YEAR", bytes.fromhex("FFFF0101FF000000FF8000FF"),
                                                b"WEEK"))
    assert get(conn, s, CAL, 20, 10)[1][:2] == b"\xff\xff"       # no activation pending
    assert get(conn, s, TARIFF, 1, 2) == (LU, 2)
    assert get(conn, s, SPECIAL, 11, 2) == (A, [])


def test_passive_calendar_written_then_activated(session):
    m, conn, s = session
    for attr, data in ((9, NEW_DAYS), (8, NEW_WEEKS), (7, NEW_SEASONS), (6, (OS, b"HALFDAY"))):
        assert set_(conn, s, CAL, 20, attr, data) == 0, attr
        assert get(conn, s, CAL, 20, attr) == data
    assert get(conn, s, CAL, 20, 2) == (OS, b"DAYNIGHT")        # still the active one
    assert get(conn, s, TARIFF, 1, 2) == (LU, 2)
    assert act(conn, s, CAL, 20, 1, (axdr.INTEGER, 0)) == 0
    assert get(conn, s, CAL, 20, 2) == (OS, b"HALFDAY")
    assert get(conn, s, CAL, 20, 5) == NEW_DAYS
    assert get(conn, s, TARIFF, 1, 2) == (LU, 4)                  # 13:00 local: afternoon
    # Kept in NV: a new boot of the same memory has the new calendar.
    assert meter(Board(m.board.nv)).tou.activity.active.name == b"HALFDAY"


def test_activation_time_switches_the_calendar_when_due(session):
    m, conn, s = session
    for attr, data in ((9, NEW_DAYS), (8, NEW_WEEKS), (7, NEW_SEASONS)):
        assert set_(conn, s, CAL, 20, attr, data) == 0
    when = axdr.pack_datetime(2026, 1, 15, None, 14, 0, 0, None, None, None)   # local
    assert set_(conn, s, CAL, 20, 10, (OS, when)) == 0
    assert m.active_tariff() == 2
    m.board.clock.set(START + 2 * 3600)                           # 14:00 local
    assert m.active_tariff() == 4
    assert get(conn, s, CAL, 20, 2) == (OS, b"DAYNIGHT")        # not carried out yet
    m.energy_regs, m.tariff_regs = _FakeRegisters(), _FakeRegisters()
    m.save()                                                      # periodic save carries it out
    assert get(conn, s, CAL, 20, 5) == NEW_DAYS
    assert get(conn, s, CAL, 20, 10)[1][:2] == b"\xff\xff"


class _FakeRegisters:
    """What records.pack_energy reads of the energy and tariff registers."""
    phases = 1
    total = [0] * 10
    phase = None
    regs = [[0] * 10 for _ in range(8)]


@pytest.mark.parametrize("attr, data, result", [
    (9, days((5, [(0, 0, 9)])), 250),                             # tariff outside 1..8
    (9, days((5, [(12, 0, 1), (6, 0, 2)])), 250),                 # actions not ascending
    (9, days((5, [])), 250),                                      # no action
    (8, weeks((b"W", (1,) * 6)), 12),                              # six days
    (8, weeks((b"W", (1,) * 7), (b"W", (2,) * 7)), 250),          # duplicate week name
    (7, seasons((b"S", ALL_YEAR, b"WEEK"), (b"T", ALL_YEAR, b"WEEK")), 250),   # same start
    (7, seasons((b"S", axdr.pack_datetime(None, 2, 30, None, 0, 0, 0, None, None, None),
                 b"WEEK")), 250),                                 # never occurs
    (9, (A, [(S, [(U, 5)])]), 12),                                # structure of the wrong size
    (8, (A, [(S, [(OS, b"W")] + [(LU, 1)] * 7)]), 12),            # wrong element type
    (10, (OS, b"\x07\xea\x01"), 250),                             # not a date-time
    (2, (OS, b"X"), 3),                                           # the active name: read-only
])
def test_invalid_writes_are_refused_and_change_nothing(session, attr, data, result):
    m, conn, s = session
    before = [get(conn, s, CAL, 20, n) for n in range(2, 11)]
    raw = m.store.read(meter_mod.KEY_CALENDAR)
    assert set_(conn, s, CAL, 20, attr, data) == result
    assert [get(conn, s, CAL, 20, n) for n in range(2, 11)] == before
    assert m.store.read(meter_mod.KEY_CALENDAR) == raw


def test_passive_tables_may_come_in_any_order(session):
    m, conn, s = session
    raw = m.store.read(meter_mod.KEY_CALENDAR)
    # Seasons naming a week not written yet: accepted, but the passive calendar waits for the
    # tables to fit together (nothing in NV, activation refused).
    for attr, data in ((7, NEW_SEASONS), (8, NEW_WEEKS)):
        assert set_(conn, s, CAL, 20, attr, data) == 0
        assert get(conn, s, CAL, 20, attr) == data
        assert m.store.read(meter_mod.KEY_CALENDAR) == raw
        assert act(conn, s, CAL, 20, 1, (axdr.INTEGER, 0)) == 250
    assert set_(conn, s, CAL, 20, 9, NEW_DAYS) == 0
    assert m.store.read(meter_mod.KEY_CALENDAR) != raw
    assert m.tou.activity.passive.weeks == ((b"HALF", (5,) * 7),)
    assert act(conn, s, CAL, 20, 1, (axdr.INTEGER, 0)) == 0
    assert get(conn, s, TARIFF, 1, 2) == (LU, 4)


def test_special_days_insert_delete_and_validation(session):
    m, conn, s = session
    christmas = (S, [(LU, 1), (OS, bytes.fromhex("FFFF0C19FF")), (U, 2)])
    today = (S, [(LU, 0), (OS, bytes.fromhex("07EA010FFF")), (U, 2)])        # 2026-01-15
    assert act(conn, s, SPECIAL, 11, 1, christmas) == 0
    assert act(conn, s, SPECIAL, 11, 1, today) == 0
    assert get(conn, s, SPECIAL, 11, 2) == (A, [today, christmas])
    assert get(conn, s, TARIFF, 1, 2) == (LU, 1)                  # a holiday: day profile 2
    assert act(conn, s, SPECIAL, 11, 1, (S, [(LU, 3), (OS, bytes.fromhex("07EA0D01FF")),
                                             (U, 2)])) == 250   # month 13
    assert act(conn, s, SPECIAL, 11, 2, (LU, 0)) == 0
    assert get(conn, s, SPECIAL, 11, 2) == (A, [christmas])
    assert get(conn, s, TARIFF, 1, 2) == (LU, 2)
    dup = (A, [christmas, christmas])
    assert set_(conn, s, SPECIAL, 11, 2, dup) == 250              # duplicate index
    assert set_(conn, s, SPECIAL, 11, 2, (A, [today])) == 0
    assert meter(Board(m.board.nv)).tou.special_days.entries == ((0, (2026, 1, 15, 0xFF), 2),)


# ------------------------------------------------------------------ end to end

_Service = cc.ControlledService
_management = cc.management
_Conn = cc.WrapperConn


def test_management_client_reads_tariff_registers_and_activates_a_calendar():
    with _Service() as svc:
        svc.ctl("load", set={"i": 10.0})
        svc.ctl("advance", seconds=10 * 3600)       # 13:00 .. 23:00 local: 9 h day, 1 h night
        c, s = _management(svc.wrapper_port)
        conn = _Conn(c)
        try:
            t = [get(conn, s, cc.obis("1-0:1.8.%d" % n), 3, 2)[1] for n in range(3)]
            assert t[0] - 1 <= t[1] + t[2] <= t[0]   # each truncated to whole Wh
            assert t[2] == pytest.approx(9 * 2300, rel=0.01)
            assert t[1] == pytest.approx(2300, rel=0.03)
            assert get(conn, s, TARIFF, 1, 2) == (LU, 1)
            for attr, data in ((9, NEW_DAYS), (8, NEW_WEEKS), (7, NEW_SEASONS),
                               (6, (OS, b"HALFDAY"))):
                assert set_(conn, s, CAL, 20, attr, data) == 0
            assert act(conn, s, CAL, 20, 1, (axdr.INTEGER, 0)) == 0
            assert get(conn, s, CAL, 20, 2) == (OS, b"HALFDAY")
            assert get(conn, s, TARIFF, 1, 2) == (LU, 4)         # 23:00 local: afternoon
            svc.ctl("advance", seconds=3 * 3600)                 # 02:00 local: tariff 3
            assert get(conn, s, TARIFF, 1, 2) == (LU, 3)
            t3 = get(conn, s, cc.obis("1-0:1.8.3"), 3, 2)[1]
            t4 = get(conn, s, cc.obis("1-0:1.8.4"), 3, 2)[1]
            assert t3 == pytest.approx(2 * 2300, rel=0.03)
            assert t4 == pytest.approx(2300, rel=0.05)
            status = svc.ctl("status")["status"]
            assert status["energy"]["tariff"] == 3
        finally:
            c.close()


@pytest.mark.parametrize("model", ["me382", "mt382"])
def test_every_time_of_use_source_of_the_model_is_bound(model):
    m = meter_mod.Meter(Board(), {"model": model})
    app, src = cosem_service.build(m)
    regs = _FakeRegisters()
    regs.regs = [[100 * t + k for k in range(10)] for t in range(8)]
    m.energy_regs, m.tariff_regs = regs, regs
    names = [n for n in app.model.source_names()
             if n.split(".")[0] in ("tou", "special_days", "tariff") or
             (n.startswith("energy.") and n[-3:-1] == ".t")]
    assert len(names) == 12 * 8 + 10 + 3 + 1     # tariff registers, class 20, class 11, tariff
    for name in names:
        if name not in ("tou.activate_passive_calendar", "special_days.insert",
                        "special_days.delete"):
            src.read(name)
    assert src.read("energy.A-.t3") == 201 and src.read("energy.QIV.t8") == 707
    assert src.read("energy.ABS.t2") == 100 + 101 and src.read("energy.NET.t2") == 100 - 101
