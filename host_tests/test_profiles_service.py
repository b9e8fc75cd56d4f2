"""Load and billing profiles, event logs and power failures in the running Meter: the real
firmware under micropython on the host board in fast-forward (one scenario per fixture, the
results as JSON), and the pure capture-instant arithmetic on CPython."""
import json

import pytest
from hypothesis import given, settings, strategies as st

import mpy
from core import civil, dst
from runtime import nvlayout, profiles

# Wednesday 2026-01-14 00:00 UTC (01:00 CET)
START = civil.to_epoch(2026, 1, 14, 0, 0, 0)
SUMMER = civil.to_epoch(2026, 7, 14, 0, 0, 0)
LP1 = {"t": 0, "status": 1, "A+": 2, "A-": 3, "QI": 4}

COMMON = r"""
import asyncio
import json
import hw
import sim_nv
from runtime.meter import Meter

def board(start, **opts):
    o = {"start": start, "state_dir": None, "realtime": False}
    o.update(opts)
    b = hw.Board("me382", o)
    b.afe.configure(None, i=10.0, phi=30.0)
    return b

def svc(m, name):
    for s in m.services:
        if type(s).__module__.endswith(name) or type(s).__name__.lower() == name:
            return s

def rows(buf):
    return [list(buf.values(i)) for i in range(len(buf))]

def profile(m, key):
    return rows(svc(m, "profiles").by_key[key].buffer)

def log(m, key):
    return rows(svc(m, "logs").sinks[key].buffer)
"""

SCENARIO = COMMON + r"""
async def main():
    out = {}
    b = board(%(start)d)
    m = Meter(b, {"model": "me382"})
    m.power_on_sync()
    out["p"] = b.afe.ideal()[0]["p"]
    await m.advance(86400)
    out["day"] = profile(m, "lp1")
    out["lp2"] = profile(m, "lp2")
    out["billing2"] = profile(m, "billing2")
    out["A+"] = m.energy_regs.total[0]
    # A soft power cut of 10 minutes: long failure.
    m.power_off()
    off = b.clock.now()
    b.clock.advance(600 * 1000000)
    m.power_on_sync()
    out["off_on"] = [off, b.clock.now()]
    out["booked_at_boot"] = len(log(m, "standard"))
    await m.advance(1800)
    out["alarm2"] = m.events.alarm[1]
    # A hard cut 100 s after the last periodic save, off for 20 s: short failure.
    await m.advance(200)
    saved = b.clock.now()
    await m.advance(100)
    m.power_off(hard=True)
    b.clock.advance(20 * 1000000)
    m.power_on_sync()
    out["hard"] = [saved, b.clock.now()]
    # The clock is set forward by 2 minutes.
    m.set_time(b.clock.now() + 120)
    await m.advance(1800)
    out["lp1"] = profile(m, "lp1")
    out["standard"] = log(m, "standard")
    out["failures"] = rows(svc(m, "logs").failures)
    lg = svc(m, "logs")
    out["counters"] = [lg.count, lg.long_count, lg.last_duration, lg.threshold]
    m.power_off()
    m2 = Meter(b, {"model": "me382"})     # a new boot of the same NV memory
    m2.power_on_sync()
    out["rebooted"] = profile(m2, "lp1")
    lg = svc(m2, "logs")
    out["rebooted_counters"] = [lg.count, lg.long_count, lg.last_duration]
    m2.power_off()
    print(json.dumps(out))

asyncio.run(main())
"""

WRAP = COMMON + r"""
async def main():
    b = board(%(start)d, nv_size=%(nv)d)
    m = Meter(b, {"model": "me382"})
    m.power_on_sync()
    await m.advance(%(days)d * 86400)
    m.power_off()
    m2 = Meter(b, {"model": "me382"})
    a = svc(m, "profiles").by_key["lp1"].buffer
    c = svc(m2, "profiles").by_key["lp1"].buffer
    same = len(a) == len(c) and all(a.values(i) == c.values(i) for i in range(len(a)))
    print(json.dumps({"cap": a.capacity, "times": [a.instant(i) for i in range(len(a))],
                      "same": same}))

asyncio.run(main())
"""

CUT = COMMON + r"""
async def main():
    out = []
    b = board(%(start)d)
    m = Meter(b, {"model": "me382"})
    m.power_on_sync()
    await m.advance(3 * 900 - 5)               # 5 s before the third capture
    before = profile(m, "lp1")
    for n in %(cuts)s:
        b.nv.cut_after(n, torn=True, seed=n + 1)
        try:
            await m.advance(10)
            cut = False
        except sim_nv.PowerCut:
            cut = True
        b.nv.restore()
        m2 = Meter(b, {"model": "me382"})      # reboot on what NV holds
        got = profile(m2, "lp1")
        out.append({"n": n, "cut": cut, "rows": got, "before": before})
        break
    print(json.dumps(out))

asyncio.run(main())
"""

DST = COMMON + r"""
async def main():
    b = board(%(start)d)
    m = Meter(b, {"model": "me382"})
    m.power_on_sync()
    await m.advance(2 * 86400)
    print(json.dumps({"lp1": profile(m, "lp1"), "lp2": profile(m, "lp2")}))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def run():
    return json.loads(mpy.run_code(SCENARIO % {"start": START}, timeout=120))


def test_one_day_is_96_rows_at_quarter_hours_with_the_energy_of_each(run):
    day = run["day"]
    assert len(day) == 96
    assert [r[0] for r in day] == [START + 900 * (k + 1) for k in range(96)]
    wh = run["p"] * 900 / 3600 / 1e6     # p in uW
    deltas = [day[k + 1][LP1["A+"]] - day[k][LP1["A+"]] for k in range(95)]
    assert all(abs(d - wh) <= 1 for d in deltas), (wh, deltas)
    assert sum(deltas) == day[-1][LP1["A+"]] - day[0][LP1["A+"]]
    # The sampling task keeps measuring between analytic steps: the register may have moved on
    # by a few measured seconds after the last capture.
    assert 0 <= run["A+"] // 1000 - day[-1][LP1["A+"]] <= run["p"] * 60 / 3600 / 1e6
    assert all(r[LP1["A-"]] == 0 for r in day)
    assert day[1][LP1["QI"]] > 0


def test_status_bits_power_up_then_clean_intervals(run):
    day = run["day"]
    assert day[0][1] == profiles.PUP | profiles.DATA_NOT_VALID     # first boot: no PDN
    assert all(r[1] == 0 for r in day[1:])


def test_daily_profiles_capture_at_local_midnight(run):
    midnight = START + 23 * 3600                # 00:00 CET
    assert [r[0] for r in run["lp2"]] == [midnight]
    assert [r[0] for r in run["billing2"]] == [midnight]
    assert run["lp2"][0][2] == run["billing2"][0][5]        # A+ tariff 1
    assert run["lp2"][0][2] + run["lp2"][0][3] in (run["billing2"][0][1],
                                                   run["billing2"][0][1] - 1)


def test_power_cut_sets_pdn_pup_and_logs_the_failure(run):
    off, on = run["off_on"]
    lp1 = run["lp1"]
    first = [r for r in lp1 if r[0] > on][0]
    assert first[1] & (profiles.PDN | profiles.PUP | profiles.DATA_NOT_VALID) == 0xC4
    assert not [r for r in lp1 if off < r[0] <= on]          # no row while off
    later = [r for r in lp1 if r[0] > first[0]]
    assert later[0][1] == 0
    assert [on, 600] in run["failures"] and len(run["failures"]) == 1
    std = run["standard"]
    assert [off, 1] in std and [on, 2] in std
    # Booked at the first tick, once the alarm registers are restored: their bits stay set.
    assert run["booked_at_boot"] == 0 and run["alarm2"] & 3 == 3


def test_hard_cut_measures_the_outage_from_the_last_save(run):
    saved, on = run["hard"]
    std = run["standard"]
    downs = [r[0] for r in std if r[1] == 1]
    assert downs[-1] <= saved + 300 and on - downs[-1] < 300 + 120
    assert [on, 2] in std
    count, long_count, last, threshold = run["counters"]
    assert (count, long_count, last, threshold) == (2, 1, 600, 180)


def test_clock_set_marks_the_interval(run):
    on = run["hard"][1]
    after = [r for r in run["lp1"] if r[0] > on]
    assert after[0][1] & profiles.CLOCK_ADJUSTED
    assert after[0][1] & profiles.PDN                 # the hard cut was in the same interval
    assert all(r[0] % 900 == 0 for r in run["lp1"])


def test_rows_and_counters_survive_a_reboot(run):
    assert run["rebooted"] == run["lp1"]
    assert run["rebooted_counters"][:2] == [3, 1]     # the last power off counts at the boot


def test_wrap_at_capacity_keeps_consecutive_rows():
    nv = nvlayout.RECORDS_REGION + 64000     # every ring at about 40 % of its capacity
    out = json.loads(mpy.run_code(WRAP % {"start": START, "nv": nv, "days": 15}, timeout=300))
    cap = out["cap"]
    assert cap == nvlayout.ring_capacity(nv, "profile.lp1") and cap < 15 * 96
    times = out["times"]
    assert len(times) == cap and times[-1] == START + 15 * 86400
    assert times == [times[-1] - 900 * (cap - 1 - k) for k in range(cap)]
    assert out["same"]


@pytest.mark.parametrize("n", [0, 5, 20, 40])
def test_power_cut_during_a_capture_loses_at_most_that_row(n):
    out = json.loads(mpy.run_code(CUT % {"start": START, "cuts": [n]}, timeout=120))[0]
    before, got = out["before"], out["rows"]
    assert out["cut"]
    assert got[:len(before)] == before and len(got) in (len(before), len(before) + 1)
    if len(got) > len(before):
        assert got[-1][0] == START + 3 * 900


def test_summer_rows_carry_the_dst_bit_and_daily_rows_follow_local_midnight():
    out = json.loads(mpy.run_code(DST % {"start": SUMMER}, timeout=120))
    assert all(r[1] & profiles.DST_ACTIVE for r in out["lp1"])
    assert [r[0] for r in out["lp2"]] == [SUMMER + 22 * 3600, SUMMER + 46 * 3600]


RULE = dst.eu_rule(-60)


@settings(max_examples=300, deadline=None)
@given(t=st.integers(civil.to_epoch(2025, 1, 1), civil.to_epoch(2027, 12, 31)),
       p=st.sampled_from([60, 300, 900, 1800, 3600, 7200, 86400]))
def test_next_capture_is_the_first_aligned_local_instant_after_now(t, p):
    n = profiles.next_capture(t, p, RULE)
    assert t < n <= t + p + 3600
    local = dst.local_from_utc(n, RULE)[0]
    assert local % p == 0
    if p < 86400 and 3600 % p == 0:
        assert n - t <= p


def test_valid_periods():
    assert [p for p in (0, 59, 60, 90, 900, 1000, 3600, 5400, 7200, 18000, 86400, 172800)
            if profiles.valid_period(p)] == [60, 90, 900, 3600, 7200, 86400]


def test_ring_entries_fit_the_capture_objects_and_every_ring_fits_the_host_nv():
    import sim_nv
    from models import profiles as defs
    from runtime.profile_buffer import entry_size
    sizes = {name: (size, cap) for name, size, cap in nvlayout.RINGS}
    for key, _, _, columns in defs.PROFILES:
        assert sizes["profile." + key][0] == entry_size(defs.kinds(columns))
    assert sizes["profile.lp1"][1] >= 2880 + 96          # a month of 15-minute rows + a day
    assert nvlayout._scale(sim_nv.SIZE) == (1, 1)           # nominal capacities on the host
