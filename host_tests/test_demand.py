"""Demand register (class 5): block and sliding demand, maximum demand per tariff, outages,
clock changes, reset, against a brute-force oracle over random load sequences."""
from hypothesis import given, settings, strategies as st
import pytest

from core import civil, demand, dst

T0 = civil.to_epoch(2026, 3, 1, 10, 7, 13)


def run(period, n, off, t0, events, tariffs=2):
    """Drive a Demand with events; return it with the oracle's record of what happened.

    The record is one list per clock segment (a clock change starts a new one):
    [start, end, feeds [(t_end, e, tariff)], outages [(down, up)]]."""
    d = demand.Demand(period, n, tariffs=tariffs, offset_s=off)
    d.start(t0)
    t = t0
    segs = [[t0, None, [], []]]
    for ev in events:
        if ev[0] == "step":
            _, dt, e, tariff = ev
            end = min(t + dt, d.next_boundary())
            d.feed(e, end, tariff)
            segs[-1][2].append((end, e, tariff))
            t = end
        elif ev[0] == "outage":
            d.power_down(t)
            d.power_up(t + ev[1])
            segs[-1][3].append((t, t + ev[1]))
            t += ev[1]
        else:
            d.clock_changed(t, t + ev[1])
            segs[-1][1] = t
            t += ev[1]
            segs.append([t, None, [], []])
    segs[-1][1] = t
    return d, segs


def subperiods(period, off, seg, last):
    """(start, end, energy, complete, tariff at end) of the closed sub-periods of a segment and
    (start, energy) of the running one; boundaries found by scanning seconds."""
    s, now, feeds, outages = seg
    bounds = [s]
    b = s + 1
    while True:
        while (b + off) % period:
            b += 1
        if b > now:
            break
        bounds.append(b)
        b += period
    if not last:
        bounds.append(now)              # closed early by the clock change
    out = []
    for k in range(len(bounds)):
        lo = bounds[k]
        hi = bounds[k + 1] if k + 1 < len(bounds) else None
        e = sum(x[1] for x in feeds if x[0] > lo and (hi is None or x[0] <= hi))
        complete = k > 0 and (last or k + 2 < len(bounds)) and not any(
            dn < (hi if hi is not None else now + 1) and up >= lo for dn, up in outages)
        if hi is None:
            return out, (lo, e)
        tariff = [x[2] for x in feeds if x[0] == hi]
        out.append((lo, hi, e, complete and bool(tariff), tariff[0] if tariff else None))
    return out, None


def oracle(period, n, off, segs, tariffs=2):
    """Last window, maxima and running values recomputed from the sub-periods."""
    subs = []
    for i, seg in enumerate(segs):
        closed, running = subperiods(period, off, seg, i == len(segs) - 1)
        subs += closed
    unit = demand.MWH
    last = None
    maxv = [0] * (tariffs + 1)
    maxt = [None] * (tariffs + 1)
    for k in range(len(subs)):
        win = [subs[j] for j in range(k - n + 1, k + 1) if j >= 0]
        e = sum(w[2] for w in win)
        ok = len(win) == n and all(w[3] for w in win)
        avg = e * unit // (10 ** 12 * period * n)
        last = (avg, subs[k][1], ok)
        if ok:
            for j in (0, subs[k][4]):
                if maxt[j] is None or avg > maxv[j]:
                    maxv[j], maxt[j] = avg, subs[k][1]
    prev = sum(w[2] for w in subs[max(0, len(subs) - n + 1):]) if n > 1 else 0
    current = (prev + running[1]) * unit // (10 ** 12 * period * n)
    return last, maxv, maxt, running[0], current


step = st.tuples(st.just("step"), st.integers(1, 2000), st.integers(0, 400000), st.integers(1, 2))
outage = st.tuples(st.just("outage"), st.integers(1, 9000))
jump = st.tuples(st.just("jump"), st.integers(-5000, 5000))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([60, 300, 900]), st.integers(1, 4), st.sampled_from([0, 3600, -1800]),
       st.integers(0, 7200), st.lists(st.one_of(step, step, step, step, outage, jump),
                                      max_size=60))
def test_against_oracle(period, n, off, dt0, events):
    d, segs = run(period, n, off, T0 + dt0, events)
    last, maxv, maxt, start, current = oracle(period, n, off, segs)
    if last is not None:
        assert d.last_average_value == last[0]
        assert d.capture_time == last[1]
        assert (d.status & demand.STATUS_INCOMPLETE == 0) == last[2]
        assert (d.capture_time + off) % period == 0 or len(segs) > 1
    assert d.max_value == maxv
    assert d.max_time == maxt
    assert d.start_time_current == start
    assert d.current_average_value() == current


def test_block_value_in_watts():
    d = demand.Demand(900, 1)
    d.start(T0 - T0 % 900 - 900)            # a short first period
    b = d.next_boundary()
    d.feed(0, b)
    d.feed(125000, b + 450)                 # 125 Wh in half the period
    assert d.current_average_value() == 500
    d.feed(125000, b + 900, 2)
    assert (d.last_average_value, d.capture_time, d.status) == (1000, b + 900, 0)
    assert d.max_value[:3] == [1000, 0, 1000] and d.max_time[2] == b + 900
    assert d.start_time_current == b + 900 and d.current_average_value() == 0


def test_sliding_window_of_three():
    d = demand.Demand(300, 3, offset_s=0)
    t = T0 - T0 % 300
    d.start(t)
    got = []
    for e in (0, 3000, 6000, 9000, 0, 0):   # mWh per 5-minute sub-period
        t += 300
        d.feed(e, t)
        got.append((d.last_average_value, d.status & demand.STATUS_INCOMPLETE))
    # window 900 s: 3.6 W per mWh/1000 -> (sum mWh) * 3.6 / 900 W
    assert got == [(0, 4), (12, 4), (36, 4), (72, 0), (60, 0), (36, 0)]
    assert d.max_value[0] == 72


def test_aligned_to_local_quarter_hours_across_dst():
    rule = dst.eu_rule(-60)
    d = demand.Demand(900, 1, offset_s=3600)
    t = civil.to_epoch(2026, 3, 29, 0, 3)                     # UTC, the spring change day
    d.start(t)
    for _ in range(4 * 24):
        t = d.next_boundary()
        d.feed(1000, t)
        local = civil.civil(dst.local_from_utc(t, rule)[0])
        assert local[4] % 15 == 0 and local[5] == 0


def test_outage_clock_change_and_reset_flags():
    d = demand.Demand(900, 1)
    t = T0 - T0 % 900
    d.start(t)
    d.feed(100000, t + 900)
    d.feed(100000, t + 1800)
    assert d.status == 0 and d.max_time[0] == t + 1800
    d.power_down(t + 2000)
    d.power_up(t + 2100)                     # same period: it is incomplete
    d.feed(10 ** 6, t + 2700)
    assert d.status & demand.STATUS_POWER_DOWN and d.max_value[0] == 400
    d.power_down(t + 2700)
    d.power_up(t + 100 * 86400 + 5)          # a long outage closes only empty periods
    assert d.capture_time == t + 100 * 86400 and d.last_average_value == 0
    assert d.start_time_current == t + 100 * 86400
    d.clock_changed(t + 100 * 86400 + 60, t + 100 * 86400 + 4000)
    assert d.capture_time == t + 100 * 86400 + 60 and d.status & demand.STATUS_CLOCK
    assert d.next_boundary() == t + 100 * 86400 + 4500
    d.reset(t + 100 * 86400 + 4100)
    assert (d.last_average_value, d.current_average_value()) == (0, 0)
    d.feed(5000, t + 100 * 86400 + 4500)
    assert d.status & demand.STATUS_INCOMPLETE and d.max_value[0] == 400


def test_end_of_billing_cumulates_and_resets():
    d = demand.Demand(900, 1)
    t = T0 - T0 % 900
    d.start(t)
    d.feed(0, t + 900)
    d.feed(2500, t + 1800, 1)
    old = d.end_of_billing()
    assert old[0][:2] == [10, 10] and old[1][1] == t + 1800
    assert d.cum_value[:3] == [10, 10, 0] and d.max_value == [0] * 9 and d.max_time == [None] * 9


@pytest.mark.parametrize("bad", [lambda d: d.feed(-1, T0), lambda d: d.feed(1, T0, 9),
                                 lambda d: d.feed(1, d.next_boundary() + 1)])
def test_rejects_bad_input(bad):
    d = demand.Demand(900, 1)
    d.start(T0)
    with pytest.raises(ValueError):
        bad(d)
    with pytest.raises(ValueError):
        demand.Demand(0, 1)
