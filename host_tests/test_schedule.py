"""Single action schedule (class 22): types, next execution against a day-by-day oracle, DST gap
and repeated hour, executions missed across a power failure or a clock jump."""
from hypothesis import given, settings, strategies as st
import pytest

from core import civil, dst, schedule

ANY = 0xFF
CET = dst.Rule(-60, (0xFFFF, 3, 0xFE, 7, 2, 0, 0), (0xFFFF, 10, 0xFE, 7, 3, 0, 0), 60, False)
EU = dst.eu_rule(-60)


def date_ok(date, y, m, d, wd):
    py, pm, pd, pw = date
    last = civil.days_in_month(y, m)
    return ((py == 0xFFFF or py == y) and (pm == ANY or pm == m)
            and (pd == ANY or pd == d or pd == 0xFE and d == last) and (pw == ANY or pw == wd))


def oracle(entries, utc_s, offset, horizon_days):
    """Next execution by walking local days and their minutes (no DST: local = utc + offset)."""
    local = utc_s + offset
    day0 = local // 86400
    for day in range(day0, min(day0 + horizon_days, civil.DAYS)):
        y, m, d = civil.civil_from_days(day)[:3]
        wd = civil.weekday(day)
        best = None
        for time, date in entries:
            if not date_ok(date, y, m, d, wd):
                continue
            for h in range(24) if time[0] == ANY else [time[0]]:
                for mi in range(60) if time[1] == ANY else [time[1]]:
                    t = day * 86400 + h * 3600 + mi * 60 + time[2]
                    if t > local and (best is None or t < best):
                        best = t
        if best is not None:
            return best - offset
    return None


time_st = st.tuples(st.one_of(st.just(ANY), st.integers(0, 23)),
                    st.one_of(st.just(ANY), st.integers(0, 59)), st.sampled_from([0, 30]))
wild_date = st.one_of(
    st.tuples(st.just(0xFFFF), st.one_of(st.just(ANY), st.integers(1, 12)),
              st.one_of(st.just(ANY), st.just(0xFE), st.integers(1, 28)), st.just(ANY)),
    st.tuples(st.just(0xFFFF), st.just(ANY), st.just(ANY), st.integers(1, 7)))
fixed_date = st.tuples(st.integers(2026, 2028), st.integers(1, 12), st.integers(1, 28),
                       st.just(ANY))


@st.composite
def schedules(draw):
    kind = draw(st.integers(1, 5))
    n = 1 if kind == 1 else draw(st.integers(1, 4))
    same = draw(time_st)
    dates = wild_date if kind in (1, 3, 5) else fixed_date
    return kind, [(same if kind in (1, 2, 3) else draw(time_st), draw(dates)) for _ in range(n)]


@settings(max_examples=150, deadline=None)
@given(schedules(), st.integers(0, 2 * 365 * 86400))
def test_next_execution_against_oracle(sched, dt):
    kind, entries = sched
    u = civil.to_epoch(2026, 1, 1) + dt
    s = schedule.Schedule(kind, entries, CET)
    want = oracle(entries, u, 3600, 1200)
    got = s.next_execution(u)
    assert got == want or want is None and (got is None or got > u + 1100 * 86400)


def test_types_are_validated():
    t = (0, 0, 0)
    fixed = (2026, 5, 1, ANY)
    wild = (0xFFFF, ANY, 1, ANY)
    schedule.check(1, [(t, wild)])
    schedule.check(4, [(t, fixed), ((6, 0, 0), fixed)])
    bad = [(0, [(t, fixed)]), (6, [(t, fixed)]), (1, [(t, wild), (t, wild)]), (1, []),
           (2, [(t, wild)]), (4, [(t, (2026, 0xFE, 1, ANY))]), (4, [(t, (2026, 5, 0xFE, ANY))]),
           (2, [(t, fixed), ((1, 0, 0), fixed)]), (3, [(t, wild), ((1, 0, 0), wild)]),
           (1, [((24, 0, 0), wild)]), (1, [(t, (0xFFFF, 13, 1, ANY))])]
    for kind, entries in bad:
        with pytest.raises(ValueError):
            schedule.check(kind, entries)


def test_monthly_billing_in_local_time_across_dst():
    s = schedule.monthly(EU)
    u = civil.to_epoch(2026, 1, 1)
    got = []
    for _ in range(12):
        u = s.next_execution(u)
        got.append(civil.civil(dst.local_from_utc(u, EU)[0])[:6])
    assert got == [(2026, m, 1, 0, 0, 0) for m in range(2, 13)] + [(2027, 1, 1, 0, 0, 0)]


def test_spring_gap_executes_at_the_jump_and_repeated_hour_once():
    s = schedule.Schedule(1, [((2, 30, 0), (0xFFFF, ANY, ANY, ANY))], EU)
    jump = civil.to_epoch(2026, 3, 29, 1)               # 02:00 CET -> 03:00 CEST
    assert s.next_execution(jump - 3600) == jump
    assert s.next_execution(jump) == civil.to_epoch(2026, 3, 30, 0, 30)
    first = civil.to_epoch(2026, 10, 25, 0, 30)         # 02:30 CEST
    assert s.next_execution(first - 1) == first
    assert s.next_execution(first) == civil.to_epoch(2026, 10, 26, 1, 30)
    # asked inside the second pass of the hour, before 02:30 CET: already executed
    assert s.next_execution(first + 3000) == civil.to_epoch(2026, 10, 26, 1, 30)


def test_missed_executions_run_once():
    s = schedule.monthly(CET)
    t = civil.to_epoch(2026, 1, 10)
    assert not s.due(t)                                  # first call: starting point only
    assert not s.due(t + 86400)
    assert s.due(civil.to_epoch(2026, 4, 2))             # outage over three month starts: once
    assert not s.due(civil.to_epoch(2026, 4, 3))
    assert not s.due(civil.to_epoch(2026, 3, 20))        # clock set back: no repeat
    assert not s.due(civil.to_epoch(2026, 4, 20))
    assert s.due(civil.to_epoch(2026, 4, 30, 23))        # 00:00 CET on May 1st
