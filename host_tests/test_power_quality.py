"""Power quality: the pure detectors against simple models (hypothesis), the service in the
running Meter under micropython (fast-forwarded host board, measured windows and analytic
advance), and its COSEM objects (thresholds written by the management client)."""
import cmath
import json
import math

import pytest
from hypothesis import given, settings, strategies as st

import mpy
from core import civil
from core import power_quality as pq
from dlms import axdr
from runtime import power_quality as service

# Voltages away from every threshold and hysteresis band: missing, sag, normal, swell.
LEVEL_MV = {pq.MISSING: 5000, pq.SAG: 190000, pq.NORMAL: 230000, pq.SWELL: 270000}


def reference(trace, s):
    """Transitions [(level, at)] and the last sag / swell (magnitude, duration) of a trace of
    (class, u, t) samples: runs of one class; a run of another level than the present one becomes
    the level when it lasted its time threshold; a level's values are those of the samples from
    its start to the start of the next level."""
    delay = {pq.SAG: s.sag_s, pq.SWELL: s.swell_s, pq.MISSING: s.missing_s, pq.NORMAL: 0}
    runs = []
    for c, u, t in trace:
        if runs and runs[-1][0] == c:
            runs[-1][1].append((u, t))
        else:
            runs.append((c, [(u, t)]))
    state, start, events, fired = pq.NORMAL, None, [], []
    for k, (c, samples) in enumerate(runs):
        if c == state:
            continue
        t0 = samples[0][1]
        if any(t - t0 >= delay[c] for _, t in samples):
            events.append((c, t0 + delay[c]))
            fired.append((c, k))
            state = c
    last = {}
    for j, (c, k) in enumerate(fired):
        if c not in (pq.SAG, pq.SWELL) or j + 1 == len(fired):
            continue
        k_end = fired[j + 1][1]
        values = [u for _, smp in runs[k:k_end] for u, _ in smp]
        end = runs[k_end][1][0][1]
        last[c] = (max(values) if c == pq.SWELL else min(values), end - runs[k][1][0][1])
    return events, last


traces = st.lists(st.tuples(st.sampled_from(sorted(LEVEL_MV)), st.integers(-3000, 3000),
                            st.integers(0, 3)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(traces, st.integers(0, 4), st.integers(0, 4), st.integers(0, 4))
def test_level_detector_matches_the_model(steps, sag_s, swell_s, missing_s):
    s = pq.Settings()
    s.sag_s, s.swell_s, s.missing_s = sag_s, swell_s, missing_s
    lv = pq.Level(s)
    trace = []
    t = 1000
    events = []
    for c, du, dt in steps:
        t += dt
        u = LEVEL_MV[c] + du
        trace.append((c, u, t))
        level = lv.update(u, t)
        if level is not None:
            events.append((level, lv.at))
    want, last = reference(trace, s)
    assert events == want
    assert lv.sags == sum(1 for c, _ in want if c == pq.SAG)
    assert lv.swells == sum(1 for c, _ in want if c == pq.SWELL)
    if pq.SAG in last:
        assert (lv.last_sag_mv, lv.last_sag_s) == last[pq.SAG]
    if pq.SWELL in last:
        assert (lv.last_swell_mv, lv.last_swell_s) == last[pq.SWELL]


def test_return_to_normal_needs_the_hysteresis():
    lv = pq.Level(pq.Settings())
    lv.update(200000, 0)
    assert lv.update(200000, 1) == pq.SAG
    assert lv.update(208000, 5) is None             # above 207 V but inside the 2 % band
    assert lv.update(212000, 6) == pq.NORMAL and lv.at == 6
    assert (lv.last_sag_mv, lv.last_sag_s) == (200000, 6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300000), st.integers(0, 900)), min_size=1, max_size=40),
       st.sampled_from([60, 600]))
def test_average_is_the_time_average_of_the_held_values(samples, period):
    avg = pq.Average(period)
    t = 5000
    seq = []
    for v, dt in samples:
        t += dt
        seq.append((t, v))
        avg.update(v, t)
    # Model: the value held per second; the last complete period before the last instant.
    end = seq[-1][0]
    last_period = end - end % period - period
    if last_period < seq[0][0] - seq[0][0] % period:
        assert avg.last == 0
        return
    per_second = {}
    for (t0, v), (t1, _) in zip(seq, seq[1:]):
        for x in range(t0, t1):
            per_second[x] = v
    values = [per_second[x] for x in range(last_period, last_period + period) if x in per_second]
    if len(values) == period:
        assert avg.last == sum(values) // period
    elif values:
        # A period that started inside the first period of data: averaged over what it had.
        assert avg.last == sum(values) // len(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(100000, 300000), st.integers(0, 2)), min_size=1,
                max_size=50))
def test_daily_range_is_the_previous_days_extremes(samples):
    d = pq.Daily()
    day = 9000
    per_day = {}
    for v, step in samples:
        day += step
        per_day.setdefault(day, []).append(v)
        d.update(v, day)
    assert (d.max, d.min) == (max(per_day[day]), min(per_day[day]))
    earlier = [k for k in per_day if k < day]
    if earlier:
        prev = max(earlier)
        if prev == day - 1:
            assert (d.prev_max, d.prev_min) == (max(per_day[prev]), min(per_day[prev]))
        else:       # days skipped held the last value
            assert d.prev_max == d.prev_min == per_day[prev][-1]


@given(st.lists(st.integers(0, 300000), min_size=1, max_size=3))
def test_asymmetry_is_the_largest_deviation_from_the_mean(values):
    mean = sum(values) / len(values)
    got = pq.asymmetry(values)
    if mean == 0:
        assert got == 0
    else:
        assert got == int(max(abs(v - mean) for v in values) * 100 / mean + 1e-9)


@given(st.lists(st.tuples(st.integers(0, 100000), st.floats(-180, 180)), min_size=3,
                max_size=3))
def test_expected_neutral_is_the_phasor_sum(phases):
    i_ma, p, q, s = [], [], [], []
    total = 0j
    for k, (i, phi) in enumerate(phases):
        u = 230.0
        i_ma.append(i)
        s.append(round(u * i))
        p.append(round(u * i * math.cos(math.radians(phi))))
        q.append(round(u * i * math.sin(math.radians(phi))))
        total += i * cmath.exp(1j * math.radians((0, -120, 120)[k] - phi))
    # sin 120 degrees is taken as 0.866
    assert abs(pq.expected_neutral(i_ma, p, q, s) - abs(total)) <= 2 + abs(total) * 1e-4


def test_neutral_fault_needs_a_current_and_a_mismatch():
    s = pq.Settings()
    assert not pq.neutral_fault(400, 0, s)          # below the floor
    assert pq.neutral_fault(10000, 0, s)
    assert not pq.neutral_fault(10000, 9000, s)     # within 20 %
    assert pq.neutral_fault(0, 10000, s)            # a neutral current nothing explains


@pytest.mark.parametrize("field, value", [("sag_mv", 240000), ("swell_mv", 220000),
                                          ("missing_mv", 210000), ("sag_s", 4000)])
def test_settings_refuse_inconsistent_thresholds(field, value):
    s = pq.Settings()
    setattr(s, field, value)
    with pytest.raises(ValueError):
        s.check()
    with pytest.raises(ValueError):
        service.unpack_settings(service.pack_settings(s))


# -- the service in the running Meter (micropython, host board fast-forwarded) ----------------

START = civil.to_epoch(2026, 3, 2, 10, 0, 0)

SCENARIO = r"""
import asyncio
import json
import hw
from runtime.meter import Meter

async def main():
    board = hw.Board("%(model)s", {"start": %(start)d, "state_dir": None, "realtime": False})
    m = Meter(board, {"model": "%(model)s"})
    seen = []
    raise_event = m.events.raise_event
    def record(code, t_s, log=None):
        seen.append((code, t_s))
        return raise_event(code, t_s, log)
    m.events.raise_event = record
    m.power_on_sync()
    pq = [s for s in m.services if type(s).__name__ == "PowerQuality"][0]
    out = {}
    for phase, settings, seconds in %(steps)s:
        board.afe.configure(phase, **settings)
        if seconds > 0:
            end = board.clock.now() + seconds
            while board.clock.now() < end:
                await asyncio.sleep_ms(0)
        else:
            await m.advance(-seconds)
    lv = pq.levels
    out["events"] = seen
    out["sags"] = [x.sags for x in lv]
    out["swells"] = [x.swells for x in lv]
    out["last_sag"] = [(x.last_sag_mv, x.last_sag_s) for x in lv]
    out["last_swell"] = [(x.last_swell_mv, x.last_swell_s) for x in lv]
    out["alarm"] = list(m.events.alarm)
    out["time"] = board.clock.now()
    out["daily"] = [(d.prev_max, d.prev_min, d.max, d.min) for d in pq.daily]
    out["average"] = [a.last for a in pq.average]
    m.power_off()
    m2 = Meter(board, {"model": "%(model)s"})
    pq2 = [s for s in m2.services if type(s).__name__ == "PowerQuality"][0]
    out["rebooted"] = {"sags": [x.sags for x in pq2.levels], "alarm": list(m2.events.alarm)}
    print(json.dumps(out))

asyncio.run(main())
"""


def run_meter(model, steps):
    """Run the Meter through steps (phase, load settings, seconds: > 0 measured windows, < 0 an
    analytic advance), then power it off and boot the same NV memory again."""
    code = SCENARIO % {"model": model, "start": START, "steps": repr(steps)}
    return json.loads(mpy.run_code(code, timeout=240).strip().splitlines()[-1])


def test_sag_and_swell_from_measured_windows():
    out = run_meter("me382", [(None, {"u": 230.0}, 3), (None, {"u": 195.0}, 4),
                              (None, {"u": 230.0}, 3), (None, {"u": 262.0}, 4),
                              (None, {"u": 230.0}, 3)])
    codes = [c for c, _ in out["events"]]
    assert [c for c in codes if 76 <= c <= 87] == [76, 85, 79, 85]
    assert out["sags"] == [1] and out["swells"] == [1]
    (sag_mv, sag_s), (swell_mv, swell_s) = out["last_sag"][0], out["last_swell"][0]
    assert 194000 <= sag_mv <= 196000 and 3 <= sag_s <= 5
    assert 261000 <= swell_mv <= 263000 and 3 <= swell_s <= 5
    assert out["rebooted"]["sags"] == [1]
    assert out["alarm"][1] & (1 << 5)                # voltage normal L1
    assert out["rebooted"]["alarm"] == out["alarm"]  # alarms kept in NV


def test_sag_during_an_analytic_advance_is_stamped_at_its_threshold():
    # During analytic steps the service runs on the quarter hours (START is one): the second
    # jump passes START + 900, where it sees the voltage back since the last window it saw.
    out = run_meter("me382", [(None, {"u": 230.0}, 2), (None, {"u": 190.0}, -60),
                              (None, {"u": 190.0}, 1), (None, {"u": 230.0}, -900)])
    events = {c: t for c, t in out["events"]}
    t_sag = events[76]
    # Whole seconds: the last window seen ended within the second before the jump.
    assert START + 2 <= t_sag <= START + 2 + 60
    assert START + 62 <= events[85] <= START + 70
    assert out["sags"] == [1]
    assert out["last_sag"][0][0] == pytest.approx(190000, abs=300)
    assert out["last_sag"][0][1] >= 59


def test_daily_range_and_average_across_local_midnight():
    # 10:00 UTC = 11:00 CET; the jumps end at 00:00:02 UTC = 01:00 CET the next day.
    out = run_meter("mt382", [(None, {"u": 235.0}, 2), (2, {"u": 245.0}, -3600),
                              (None, {"u": 225.0}, -13 * 3600)])
    assert START + 14 * 3600 < out["time"] < START + 15 * 3600
    for p in range(3):
        prev_max, prev_min, today_max, today_min = out["daily"][p]
        assert prev_max == pytest.approx(245000 if p == 1 else 235000, abs=300)
        assert prev_min == pytest.approx(225000, abs=300)
        assert today_max == today_min == pytest.approx(225000, abs=300)
        assert out["average"][p] == pytest.approx(225000, abs=300)
    assert out["sags"] == out["swells"] == [0, 0, 0]


def test_three_phase_loss_asymmetry_and_missing_neutral():
    out = run_meter("mt382", [(None, {"u": 230.0, "i": 0.0}, 2),
                              (2, {"u": 0.0}, 7),
                              (None, {"u": 230.0}, 2),
                              (1, {"i": 10.0}, 2),
                              (None, {"in_gain": 0.0}, 8)])
    codes = [c for c, _ in out["events"]]
    assert 83 in codes                                # voltage missing L2
    assert 90 in codes                                # asymmetry
    assert 82 not in codes and 84 not in codes
    assert 89 in codes                                # neutral current gone, phases unbalanced
    assert out["alarm"][1] & (1 << 3) and out["alarm"][1] & (1 << 9) and out["alarm"][1] & (1 << 8)


def test_single_phase_missing_neutral():
    out = run_meter("me382", [(None, {"i": 10.0}, 2), (None, {"in_gain": 0.0}, 8)])
    assert 89 in [c for c, _ in out["events"]]


# -- COSEM objects -----------------------------------------------------------------------------

def _cosem_meter():
    import sim_clock
    import sim_nv
    from runtime import meter as meter_mod

    class Board:
        def __init__(self, nv=None):
            self.clock = sim_clock.Clock(1000, START)
            self.nv = nv or sim_nv.NvMem()

    return meter_mod.Meter(Board(), {"model": "mt382"}), Board


def test_thresholds_over_cosem_are_checked_and_kept_in_nv():
    import cosem_client as cc
    from runtime import cosem_service
    from test_clock_set import associate, ciphered
    m, Board = _cosem_meter()
    app, _ = cosem_service.build(m)
    conn, s = associate(app)

    def get(text, cls, attr):
        rsp = ciphered(conn, s, cc.get(cls, cc.obis(text), attr), 0xC8)
        assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
        return axdr.decode_all(rsp[4:])

    def set_(text, cls, attr, data):
        return ciphered(conn, s, cc.set_(cls, cc.obis(text), attr, axdr.encode(data)), 0xC9)[3]

    assert get("1-0:12.31.0", 3, 2) == (axdr.LONG_UNSIGNED, 2070)
    assert get("1-0:12.31.0", 3, 3) == (axdr.STRUCTURE, [(axdr.INTEGER, -1), (axdr.ENUM, 35)])
    assert set_("1-0:12.31.0", 3, 2, (axdr.LONG_UNSIGNED, 2000)) == 0
    assert set_("1-0:12.43.0", 3, 2, (axdr.LONG_UNSIGNED, 5)) == 0
    assert set_("1-0:12.35.0", 3, 2, (axdr.LONG_UNSIGNED, 2200)) == 250    # below Un
    assert set_("1-0:12.35.0", 3, 2, (axdr.UNSIGNED, 250)) == 12           # wrong type
    assert get("1-0:12.35.0", 3, 2) == (axdr.LONG_UNSIGNED, 2530)
    assert set_("1-0:52.32.0", 1, 2, (axdr.LONG_UNSIGNED, 0)) == 3         # counters read-only
    assert get("1-0:72.32.0", 1, 2) == (axdr.LONG_UNSIGNED, 0)
    assert get("0-0:128.8.31", 3, 2) == (axdr.LONG_UNSIGNED, 0)
    again = [x for x in _boot(Board, m) if type(x).__name__ == "PowerQuality"][0]
    assert (again.settings.sag_mv, again.settings.sag_s) == (200000, 5)


def _boot(Board, m):
    from runtime import meter as meter_mod
    return meter_mod.Meter(Board(m.board.nv), {"model": "mt382"}).services
