"""Tariffs in the running Meter: the real firmware Meter under micropython on the host board in
fast-forward, with the default day/night calendar and with a calendar written at run time; the
energy records and the NV records of the calendar and special days (CPython)."""
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

import mpy
import sim_nv
from core import calendar, civil, dst, special_days, tariff
from measure.energy import NAMES, NREG, Energy
from runtime import meter as meter_mod
from runtime import nvlayout, records, time_of_use
from core.tariff_registers import TariffRegisters
from cosem import activity_calendar as ac

SC = b"\x00\x00\x0a\x00\x64\xff"
# Wednesday 2026-01-14 04:58 UTC = 05:58 CET: the default calendar switches to tariff 2 at 06:00.
START = civil.to_epoch(2026, 1, 14, 4, 58, 0)

SCENARIO = r"""
import asyncio
import json
import hw
from core import calendar
from runtime.meter import Meter

SC = b"\x00\x00\x0a\x00\x64\xff"

def regs(m):
    e = m.energy()
    return {"total": [e["total"][n] for n in NAMES], "tariff": e["tariff"],
            "tariffs": [[row[n] for n in NAMES] for row in e["tariffs"]],
            "time": m.board.clock.now()}

NAMES = ("A+", "A-", "R+", "R-", "QI", "QII", "QIII", "QIV", "S+", "S-")

async def main():
    board = hw.Board("me382", {"start": %(start)d, "state_dir": None, "realtime": False})
    board.afe.configure(None, i=10.0, phi=30.0)
    m = Meter(board, {"model": "me382"})
    m.power_on_sync()
    out = {"p": board.afe.ideal()[0]["p"]}
    await m.run_until_stopped(240)          # across 06:00 local, then save and halt
    m.power_on_sync()                       # boot again: registers from NV
    out["window"] = regs(m)
    await m.advance(86400)
    out["day"] = regs(m)
    # A calendar with four tariffs, one per 6 hours of the local day, activated at once.
    days = [(1, [((0, 0, 0), SC, 1), ((6, 0, 0), SC, 2), ((12, 0, 0), SC, 3),
                 ((18, 0, 0), SC, 4)])]
    cal = calendar.Calendar(b"FOUR", [(b"ALL", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")],
                            [(b"W", (1,) * 7)], days)
    m.set_activity(calendar.ActivityCalendar(cal))
    await m.advance(2 * 86400)
    out["four"] = regs(m)
    m.power_off()
    m2 = Meter(board, {"model": "me382"})   # a new boot of the same NV memory
    m2.power_on_sync()
    out["rebooted"] = regs(m2)
    out["calendar"] = m2.tou.activity.active.name.decode()
    m2.power_off()
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def run():
    return json.loads(mpy.run_code(SCENARIO % {"start": START}, timeout=60))


def _sums_equal_totals(r):
    for k in range(NREG):
        assert sum(row[k] for row in r["tariffs"]) == r["total"][k], NAMES[k]


def test_tariff_registers_sum_to_the_totals_throughout(run):
    for key in ("window", "day", "four", "rebooted"):
        _sums_equal_totals(run[key])
    assert run["window"]["total"][0] > 0


def test_measured_windows_split_at_the_switch(run):
    # 4 minutes of measured windows, half before 06:00 local (tariff 1), half after (tariff 2).
    w = run["window"]
    per_s = run["p"] / 3.6e6        # mWh per second (p in uW)
    t1, t2 = w["tariffs"][0][0], w["tariffs"][1][0]
    assert abs(t1 - 120 * per_s) < 2 * per_s
    assert abs(t2 - (w["time"] - START - 120) * per_s) < 2 * per_s
    assert w["tariff"] == 2
    assert all(v == 0 for row in w["tariffs"][2:] for v in row)


def test_a_day_goes_to_day_and_night_tariffs(run):
    # Wednesday 06:02 local + 24 h: 15 h 58 min of tariff 2 (to 22:00), 8 h 2 min of tariff 1.
    w, d = run["window"], run["day"]
    per_s = run["p"] / 3.6e6
    got1 = d["tariffs"][0][0] - w["tariffs"][0][0]
    got2 = d["tariffs"][1][0] - w["tariffs"][1][0]
    day_s = civil.to_epoch(2026, 1, 14, 21, 0, 0) - w["time"]
    # The sampling task runs between the 15-minute steps of `advance`; after each clock jump
    # its first window only resynchronises (not registered), evenly over the day: compare the
    # shares of the energy with the shares of the time.
    assert got1 + got2 == d["total"][0] - w["total"][0]
    assert got1 + got2 == pytest.approx((d["time"] - w["time"]) * per_s, rel=0.01)
    assert got2 / (got1 + got2) == pytest.approx(day_s / (d["time"] - w["time"]), abs=0.002)
    assert d["tariff"] == 2


def test_a_calendar_set_at_run_time_books_four_tariffs_and_survives_a_reboot(run):
    d, f = run["day"], run["four"]
    gained = [f["tariffs"][t][0] - d["tariffs"][t][0] for t in range(4)]
    for g in gained:        # two days from 06:02 local: 12 h in each quarter of the day
        assert g / sum(gained) == pytest.approx(0.25, abs=0.002)
    assert all(v == 0 for row in f["tariffs"][4:] for v in row)
    assert run["rebooted"]["tariffs"] == f["tariffs"] and run["rebooted"]["total"] == f["total"]
    assert run["calendar"] == "FOUR"


# ------------------------------------------------------------------ records (CPython)

def _registers(phases):
    e = Energy(phases)
    e.accumulate([2300000000] * phases, [-500000000] * phases, [2400000000] * phases,
                 3600 * 1000000, 3600 * 1000000)
    regs = TariffRegisters(NREG)
    regs.regs[0][:] = e.total
    return e, regs


@pytest.mark.parametrize("phases", [1, 3])
def test_energy_record_round_trip_and_size(phases):
    e, regs = _registers(phases)
    raw = records.pack_energy(e, regs)
    assert len(raw) <= dict(nvlayout.RECORDS)["registers"]
    total, phase, rows = records.unpack_energy(raw, phases, NREG, 8)
    assert total == e.total and rows == regs.regs
    assert phase == (e.phase if phases > 1 else None)


def test_old_and_foreign_energy_records_are_refused():
    e, regs = _registers(1)
    v1 = bytes((1, 1, NREG)) + bytes(8 * NREG)
    with pytest.raises(ValueError, match="version 1"):
        records.unpack_energy(v1, 1, NREG, 8)
    with pytest.raises(ValueError, match="meter has 3"):
        records.unpack_energy(records.pack_energy(e, regs), 3, NREG, 8)
    with pytest.raises(ValueError, match="length"):
        records.unpack_energy(records.pack_energy(e, regs)[:-1], 1, NREG, 8)


def test_calendar_and_special_day_records_round_trip():
    a = time_of_use.default_calendar()
    days = [(7, [((0, 0, 0, 0xFF), SC, 3)])]
    passive = calendar.Calendar(b"P", [(b"S", (2027, 4, 0xFE, 7, 2, 0, 0), b"W")],
                                [(b"W", (7,) * 7)], days)
    a.set_passive(passive)
    a.set_activation_time((2027, 1, 1, 0xFF, 0, 0, 0))
    back = records.unpack_calendar(records.pack_calendar(a))
    for c, d in ((back.active, a.active), (back.passive, a.passive)):
        assert (c.name, c.seasons, c.weeks) == (d.name, d.seasons, d.weeks)
        assert ac.days_data(c) == ac.days_data(d)      # start times come back with hundredths
    assert back.activation_time == a.activation_time
    sd = special_days.SpecialDays([(3, (0xFFFF, 12, 25, 0xFF), 2), (0, (2026, 1, 1, 0xFF), 7)])
    assert records.unpack_special_days(records.pack_special_days(sd)).entries == sd.entries
    with pytest.raises(ValueError):
        records.unpack_calendar(b"\x02" + records.pack_calendar(a)[1:])
    with pytest.raises(ValueError):
        records.unpack_special_days(records.pack_special_days(sd)[:-2])


def test_meter_refuses_an_oversized_calendar_and_keeps_the_old_one():
    m = meter_mod.Meter(_Board(), {"model": "me382"})
    days = [(d, [((h, 0, 0), SC, 1 + (h % 8)) for h in range(24)]) for d in range(10)]
    big = calendar.Calendar(b"BIG", [(b"S", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")],
                            [(b"W", (0,) * 7)], days)
    before = m.tou.activity
    with pytest.raises(ValueError, match="octets"):
        m.set_activity(calendar.ActivityCalendar(big))
    assert m.tou.activity is before and m.store.read(meter_mod.KEY_CALENDAR) is None


class _Clock:
    def now(self):
        return START


class _Board:
    def __init__(self):
        self.nv = sim_nv.NvMem()
        self.clock = _Clock()


def test_switch_cache_answers_like_the_time_of_use():
    rnd = random.Random(5)
    tou = tariff.TimeOfUse(time_of_use.default_calendar(), special_days.SpecialDays(
        [(0, (0xFFFF, 12, 25, 0xFF), 2)]), dst.eu_rule(-60))
    cache = time_of_use.SwitchCache(tou)
    t = civil.to_epoch(2026, 3, 20)
    for _ in range(3000):
        t += rnd.choice((1, 59, 900, 3600, 86400, 40 * 86400, -7200))
        limit = t + rnd.choice((1, 900, 86400, 60 * 86400))
        assert cache.active_tariff(t) == tou.active_tariff(t)
        assert cache.next_switch(t, limit) == tou.next_switch(t, limit)


def test_records_are_the_same_under_micropython():
    a = time_of_use.default_calendar()
    sd = special_days.SpecialDays([(3, (0xFFFF, 12, 25, 0xFF), 2), (0, (2026, 1, 1, 5), 1)])
    code = """
from core import special_days
from runtime import nvlayout, records, time_of_use
sd = special_days.SpecialDays([(3, (0xFFFF, 12, 25, 0xFF), 2), (0, (2026, 1, 1, 5), 1)])
raw = records.pack_calendar(time_of_use.default_calendar()) + records.pack_special_days(sd)
back = records.unpack_special_days(records.pack_special_days(sd))
print(raw.hex(), back.entries == sd.entries,
      records.unpack_calendar(records.pack_calendar(time_of_use.default_calendar())).active.name)
"""
    want = (records.pack_calendar(a) + records.pack_special_days(sd)).hex()
    assert mpy.run_code(code).split() == [want, "True", "b'DAYNIGHT'"]


def test_three_phase_meter_books_tariffs_and_keeps_them_over_a_reboot():
    code = r"""
import asyncio
import hw
from runtime.meter import Meter

async def main():
    board = hw.Board("mt382", {"start": %d, "state_dir": None, "realtime": False})
    board.afe.configure(None, i=5.0, phi=-20.0)
    m = Meter(board, {"model": "mt382"})
    m.power_on_sync()
    await m.advance(4 * 3600)
    await m.run_until_stopped(5)
    m.power_on_sync()
    e = m.energy()
    ok = all(sum(row[n] for row in e["tariffs"]) == e["total"][n] for n in e["total"])
    print(ok, e["tariffs"][0]["A+"] > 0, e["tariffs"][1]["A+"] > 0, e["tariffs"][1]["QIV"] > 0)
    m.power_off()

asyncio.run(main())
""" % (START - 3 * 3600)
    # 02:58 .. 06:00 local on tariff 1, then tariff 2 (and the load is capacitive: QIV).
    assert mpy.run_code(code, timeout=60).split() == ["True", "True", "True", "True"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.sampled_from((0, 1, 2)))
def test_unusable_records_raise_value_error_only(tail, kind):
    good = records.pack_calendar(time_of_use.default_calendar())
    raw = (good[:len(good) // 2] + tail if kind == 0 else
           bytes((good[0],)) + tail if kind == 1 else good[:-len(tail) or None] + tail)
    for unpack in (records.unpack_calendar, records.unpack_special_days):
        try:
            unpack(raw)
        except ValueError:
            pass
