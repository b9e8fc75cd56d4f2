"""core.dst against CPython's zoneinfo (tz database rules) over 2000..2099."""
import datetime
import zoneinfo

import pytest
from hypothesis import given, settings, strategies as st

from core import civil, dst

ANY, ANY_YEAR = 0xFF, 0xFFFF
UNIX_2000 = 946684800                  # 2000-01-01 00:00:00 UTC in Unix seconds
LOCAL_EPOCH = datetime.datetime(2000, 1, 1)
LAST = civil.DAYS * 86400 - 1

# zone name -> (rule in COSEM terms, first year the tz database follows that rule)
ZONES = {
    "Europe/Ljubljana": (dst.eu_rule(-60), 2000),
    "Europe/Helsinki": (dst.eu_rule(-120), 2000),
    "Europe/Lisbon": (dst.eu_rule(0), 2000),
    "Europe/London": (dst.eu_rule(0), 2000),
    # Second Sunday of March 02:00 EST .. first Sunday of November 02:00 EDT, since 2007.
    "America/New_York": (dst.Rule(300, (ANY_YEAR, 3, 8, 7, 2, 0, 0),
                                  (ANY_YEAR, 11, 1, 7, 2, 0, 0)), 2008),
    # Southern hemisphere: first Sunday of October 02:00 AEST .. first Sunday of April 03:00 AEDT.
    "Australia/Sydney": (dst.Rule(-600, (ANY_YEAR, 10, 1, 7, 2, 0, 0),
                                  (ANY_YEAR, 4, 1, 7, 3, 0, 0)), 2009),
    # Negative DST: Irish standard time is summer time (UTC+1), winter GMT is "DST" of -60.
    "Europe/Dublin": (dst.Rule(-60, (ANY_YEAR, 10, 0xFE, 7, 2, 0, 0),
                               (ANY_YEAR, 3, 0xFE, 7, 1, 0, 0), -60), 2000),
}


def zone_offset(zone, s):
    """UTC offset (seconds, local = UTC + offset) of the zone at meter epoch second s."""
    d = datetime.datetime.fromtimestamp(s + UNIX_2000, zone)
    return int(d.utcoffset().total_seconds())


def start_of(year):
    return civil.to_epoch(year, 1, 1) + 86400     # clear of the zone's previous rules


@pytest.mark.parametrize("name", sorted(ZONES))
def test_daily_offsets_and_exact_transitions(name):
    rule, first = ZONES[name]
    zone = zoneinfo.ZoneInfo(name)
    start = start_of(first)
    for s in range(start, LAST, 86400):
        local, deviation, _ = dst.local_from_utc(s, rule)
        assert local - s == zone_offset(zone, s) == -deviation * 60
    # Walk the transitions: each one changes the zone's offset at exactly that second.
    t = start
    count = 0
    while True:
        nxt = dst.next_transition(t, rule)
        if nxt is None:
            break
        t, active = nxt
        assert dst.is_dst(t, rule) == active and dst.is_dst(t - 1, rule) != active
        before = zone_offset(zone, t - 1)
        after = zone_offset(zone, t)
        assert after - before == (rule.deviation if active else -rule.deviation) * 60
        count += 1
    assert count == 2 * (2100 - first)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(ZONES)), st.integers(0, LAST))
def test_local_from_utc_matches_zoneinfo(name, s):
    rule, first = ZONES[name]
    if s < start_of(first):
        return
    zone = zoneinfo.ZoneInfo(name)
    local, deviation, active = dst.local_from_utc(s, rule)
    d = datetime.datetime.fromtimestamp(s + UNIX_2000, zone)
    assert local == s + int(d.utcoffset().total_seconds())
    assert deviation == -int(d.utcoffset().total_seconds()) // 60
    if name != "Europe/Dublin":            # the tz database may store Irish DST either way round
        assert active == bool(d.dst())


def expected_utc(zone, local_s, fold):
    naive = LOCAL_EPOCH + datetime.timedelta(seconds=local_s)
    return int(naive.replace(tzinfo=zone, fold=fold).timestamp()) - UNIX_2000


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(ZONES)), st.integers(2010, 2098), st.booleans(),
       st.integers(-3 * 3600, 3 * 3600), st.sampled_from([0, 1]))
def test_utc_from_local_near_transitions_matches_zoneinfo(name, year, use_end, delta, fold):
    rule, _ = ZONES[name]
    zone = zoneinfo.ZoneInfo(name)
    t = dst.transitions(rule, year)[1 if use_end else 0]
    local_s = t - rule.time_zone * 60 + delta
    assert dst.utc_from_local(local_s, rule, fold) == expected_utc(zone, local_s, fold)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(ZONES)), st.integers(start_of(2010), LAST - 86400),
       st.sampled_from([0, 1]))
def test_utc_from_local_anywhere_matches_zoneinfo(name, local_s, fold):
    rule, _ = ZONES[name]
    zone = zoneinfo.ZoneInfo(name)
    assert dst.utc_from_local(local_s, rule, fold) == expected_utc(zone, local_s, fold)


def test_cet_worked_example():
    rule = dst.eu_rule()
    t = civil.to_epoch
    assert rule.begin == (ANY_YEAR, 3, 0xFE, 7, 2, 0, 0)
    assert rule.end == (ANY_YEAR, 10, 0xFE, 7, 3, 0, 0)
    assert dst.transitions(rule, 2024) == (t(2024, 3, 31, 1), t(2024, 10, 27, 1))
    # The Clock example of the protocol notes: 2024-03-15 12:30:45 CET, deviation -60.
    assert dst.local_from_utc(t(2024, 3, 15, 11, 30, 45), rule) == \
        (t(2024, 3, 15, 12, 30, 45), -60, False)
    assert dst.local_from_utc(t(2024, 6, 15, 18, 23, 45), rule) == \
        (t(2024, 6, 15, 20, 23, 45), -120, True)
    # Skipped hour 02:00..03:00 on 31 March 2024, repeated hour 02:00..03:00 on 27 October.
    assert dst.utc_from_local(t(2024, 3, 31, 2, 30), rule) == t(2024, 3, 31, 1, 30)
    assert dst.utc_from_local(t(2024, 3, 31, 2, 30), rule, 1) == t(2024, 3, 31, 0, 30)
    assert dst.utc_from_local(t(2024, 10, 27, 2, 30), rule) == t(2024, 10, 27, 0, 30)
    assert dst.utc_from_local(t(2024, 10, 27, 2, 30), rule, 1) == t(2024, 10, 27, 1, 30)
    assert dst.next_transition(t(2024, 3, 31, 1) - 1, rule) == (t(2024, 3, 31, 1), True)
    assert dst.next_transition(t(2024, 3, 31, 1), rule) == (t(2024, 10, 27, 1), False)
    assert dst.next_transition(t(2099, 10, 25, 1), rule) is None
    assert rule.months == (3, 10)


def test_disabled_rule_is_standard_time():
    rule = dst.Rule(-60, dst.eu_rule().begin, dst.eu_rule().end, 60, False)
    s = civil.to_epoch(2024, 7, 1)
    assert dst.local_from_utc(s, rule) == (s + 3600, -60, False)
    assert dst.utc_from_local(s, rule) == s - 3600
    assert dst.next_transition(s, rule) is None


def test_one_year_rule_and_redundant_transitions():
    t = civil.to_epoch
    once = dst.Rule(-60, (2030, 3, 0xFE, 7, 2, 0, 0), (2030, 10, 0xFE, 7, 3, 0, 0))
    assert dst.next_transition(t(2024, 1, 1), once) == (t(2030, 3, 31, 1), True)
    assert dst.next_transition(t(2030, 3, 31, 1), once) == (t(2030, 10, 27, 1), False)
    assert dst.next_transition(t(2030, 10, 27, 1), once) is None
    assert not dst.is_dst(t(2031, 7, 1), once)
    # Begins only in 2030 but ends every October: the ends before 2030 change nothing.
    late = dst.Rule(-60, (2030, 3, 0xFE, 7, 2, 0, 0), (ANY_YEAR, 10, 0xFE, 7, 3, 0, 0))
    assert not dst.is_dst(t(2024, 7, 1), late)
    assert dst.next_transition(t(2024, 1, 1), late) == (t(2030, 3, 31, 1), True)
    # No transition at all: standard time everywhere.
    never = dst.Rule(-60, (ANY_YEAR, 2, 30, ANY, 2, 0, 0), (ANY_YEAR, 2, 31, ANY, 3, 0, 0))
    assert dst.local_from_utc(t(2024, 7, 1), never)[2] is False
    assert dst.next_transition(0, never) is None


def test_first_months_of_2000_follow_the_first_transition():
    sydney = ZONES["Australia/Sydney"][0]
    assert dst.is_dst(0, sydney)              # summer time until the first end, April 2000
    assert dst.next_transition(0, sydney) == (dst.transitions(sydney, 2000)[1], False)
    assert not dst.is_dst(0, dst.eu_rule())


def test_wildcard_time_in_a_rule_means_midnight():
    rule = dst.Rule(-60, (ANY_YEAR, 3, 0xFE, 7, ANY, ANY, ANY), (ANY_YEAR, 10, 0xFE, 7, 3, 0, 0))
    assert dst.transitions(rule, 2024)[0] == civil.to_epoch(2024, 3, 30, 23)


@pytest.mark.parametrize("args", [
    (-721, (ANY_YEAR, 3, 0xFE, 7, 2, 0, 0), (ANY_YEAR, 10, 0xFE, 7, 3, 0, 0)),
    (721, (ANY_YEAR, 3, 0xFE, 7, 2, 0, 0), (ANY_YEAR, 10, 0xFE, 7, 3, 0, 0)),
    (-60, (ANY_YEAR, 0xFE, 0xFE, 7, 2, 0, 0), (ANY_YEAR, 10, 0xFE, 7, 3, 0, 0)),
    (-60, (ANY_YEAR, 3, 0xFE, 7, 2, 0, 0), (ANY_YEAR, 0xFD, 0xFE, 7, 3, 0, 0)),
    (-60, (ANY_YEAR, 3, 0xFE, 7, 2, 0), (ANY_YEAR, 10, 0xFE, 7, 3, 0, 0)),
    (-60, (ANY_YEAR, 3, 0xFE, 7, 24, 0, 0), (ANY_YEAR, 10, 0xFE, 7, 3, 0, 0)),
])
def test_invalid_rule(args):
    with pytest.raises(ValueError):
        dst.Rule(*args)


def test_invalid_arguments():
    rule = dst.eu_rule()
    with pytest.raises(ValueError):
        dst.Rule(-60, rule.begin, rule.end, 121)
    with pytest.raises(ValueError):
        dst.eu_rule(720)
    with pytest.raises(ValueError):
        dst.local_from_utc(-1, rule)
    with pytest.raises(ValueError):
        dst.local_from_utc(LAST + 1, rule)
    with pytest.raises(ValueError):
        dst.utc_from_local(1000, rule)        # 1999-12-31 in UTC
    with pytest.raises(ValueError):
        dst.utc_from_local(civil.to_epoch(2024, 1, 1), rule, 2)
    with pytest.raises(ValueError):
        dst.transitions(rule, 2100)


def test_clock_fields_and_clock_writes():
    rule = dst.eu_rule()
    t = civil.to_epoch
    # A meter captured at 2024-06-15 20:23:45 CEST reports deviation -120 and the DST bit.
    utc = t(2024, 6, 15, 18, 23, 45)
    assert dst.clock_fields(utc, rule) == (2024, 6, 15, 6, 20, 23, 45, -120, True)
    assert dst.utc_from_clock(2024, 6, 15, 20, 23, 45, -120, rule) == utc
    assert dst.utc_from_clock(2024, 1, 6, 0, 0, 0, -60, rule) == t(2024, 1, 5, 23)
    # Deviation not specified (0x8000, or the same bits read as a signed i16): local time.
    assert dst.utc_from_clock(2024, 6, 15, 20, 23, 45, 0x8000, rule) == utc
    assert dst.utc_from_clock(2024, 6, 15, 20, 23, 45, -0x8000, rule) == utc
    assert dst.utc_from_clock(2024, 10, 27, 2, 30, 0, 0x8000, rule) == t(2024, 10, 27, 0, 30)
    assert dst.utc_from_clock(2024, 6, 15, 20, 23, 45, 0, rule) == t(2024, 6, 15, 20, 23, 45)
    with pytest.raises(ValueError):
        dst.utc_from_clock(2024, 6, 15, 20, 23, 45, 721, rule)
    with pytest.raises(ValueError):
        dst.utc_from_clock(2000, 1, 1, 0, 0, 0, -60, rule)


@settings(max_examples=100, deadline=None)
@given(st.integers(start_of(2000), LAST - 86400))
def test_clock_fields_round_trip(utc):
    rule = dst.eu_rule()
    y, mo, d, wd, h, mi, s, deviation, active = dst.clock_fields(utc, rule)
    assert wd == datetime.date(y, mo, d).isoweekday()
    assert dst.utc_from_clock(y, mo, d, h, mi, s, deviation, rule) == utc


def test_transition_past_the_end_of_the_range_is_ignored():
    # Begins 31 December 23:00 local, UTC-5: in 2099 that is 2100-01-01 04:00 UTC.
    rule = dst.Rule(300, (ANY_YEAR, 12, 31, ANY, 23, 0, 0), (ANY_YEAR, 1, 1, ANY, 1, 0, 0))
    assert dst.transitions(rule, 2099)[0] == LAST + 1 + 4 * 3600
    assert dst.next_transition(civil.to_epoch(2099, 6, 1), rule) is None
    assert dst.local_from_utc(LAST, rule) == (LAST - 5 * 3600, 300, False)
    assert dst.next_transition(civil.to_epoch(2098, 6, 1), rule) == \
        (civil.to_epoch(2099, 1, 1, 4), True)
