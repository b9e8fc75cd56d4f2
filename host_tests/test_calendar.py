"""Activity calendar and special days: validation (precise errors, nothing changed) and the
semantics of seasons, day profiles, special days and the passive calendar activation."""
import pytest

from core import calendar, civil, dst, special_days, tariff
from core.calendar import CalendarError

SC = b"\x00\x00\x0a\x00\x64\xff"
DAYS = [(1, [((6, 0, 0), SC, 2), ((22, 0, 0), SC, 1)]), (2, [((0, 0, 0), SC, 3)])]
WEEKS = [(b"WORK", (1, 1, 1, 1, 1, 2, 2))]
SEASONS = [(b"WIN", (0xFFFF, 10, 1, 0xFF, 0, 0, 0), b"WORK"),
           (b"SUM", (0xFFFF, 4, 1, 0xFF, 0, 0, 0), b"WORK")]
UTC = dst.Rule(0, (0xFFFF, 3, 0xFE, 7, 1, 0, 0), (0xFFFF, 10, 0xFE, 7, 2, 0, 0), 60, False)


def cal(seasons=SEASONS, weeks=WEEKS, days=DAYS):
    return calendar.Calendar(b"CAL", seasons, weeks, days)


def tou(c=None, special=(), rule=UTC):
    return tariff.TimeOfUse(calendar.ActivityCalendar(c or cal()),
                            special_days.SpecialDays(special), rule)


def t(*a):
    return civil.to_epoch(*a)


@pytest.mark.parametrize("args, msg, shape", [
    ((SEASONS + [(b"WIN", (0xFFFF, 6, 1, 0xFF, 0, 0, 0), b"WORK")], WEEKS, DAYS),
     "duplicate season name", False),
    ((SEASONS + [(b"X", (0xFFFF, 4, 1, 0xFF, 0, 0, 0), b"WORK")], WEEKS, DAYS),
     "same instant", False),
    # The last Sunday of March 2001 is the 25th: both start then.
    (([(b"A", (2001, 3, 0xFE, 7, 0, 0, 0), b"WORK"), (b"B", (0xFFFF, 3, 25, 0xFF, 0, 0, 0),
                                                      b"WORK")], WEEKS, DAYS), "same instant", False),
    (([(b"A", (0xFFFF, 2, 30, 0xFF, 0, 0, 0), b"WORK")], WEEKS, DAYS), "never occurs", False),
    (([(b"A", (0xFFFF, 0xFF, 1, 0xFF, 0, 0, 0), b"WORK")], WEEKS, DAYS), "month", False),
    (([(b"A", (0xFFFF, 4, 1, 0xFF, 24, 0, 0), b"WORK")], WEEKS, DAYS), "hour", False),
    (([(b"A", (0xFFFF, 4, 1, 0xFF, 0, 0), b"WORK")], WEEKS, DAYS), "shape", True),
    (([(b"A", (0xFFFF, 4, 1, 0xFF, 0, 0, 0), b"NOPE")], WEEKS, DAYS), "unknown week", False),
    ((SEASONS, [(b"WORK", (1, 1, 1, 1, 1, 2, 9))], DAYS), "unknown day id", False),
    ((SEASONS, [(b"WORK", (1, 1, 1, 1, 1, 2))], DAYS), "shape", True),
    ((SEASONS, WEEKS + [(b"WORK", (1,) * 7)], DAYS), "duplicate week", False),
    ((SEASONS, WEEKS, DAYS + [(1, [((1, 0, 0), SC, 1)])]), "duplicate day id", False),
    ((SEASONS, WEEKS, [DAYS[0], (2, [((5, 0, 0), SC, 1), ((4, 0, 0), SC, 2)])]),
     "ascending", False),
    ((SEASONS, WEEKS, [DAYS[0], (2, [((5, 0, 0), SC, 1), ((5, 0, 0), SC, 2)])]),
     "ascending", False),
    ((SEASONS, WEEKS, [DAYS[0], (2, [((5, 0, 0), SC, 9)])]), "outside 1..8", False),
    ((SEASONS, WEEKS, [DAYS[0], (2, [((5, 0, 0), SC, 0)])]), "outside 1..8", False),
    ((SEASONS, WEEKS, [DAYS[0], (2, [((0xFF, 0, 0), SC, 1)])]), "given time", False),
    ((SEASONS, WEEKS, [DAYS[0], (2, [((5, 0, 0), SC[:5], 1)])]), "6 octets", True),
    ((SEASONS, WEEKS, [DAYS[0], (2, [])]), "without actions", False),
    ((SEASONS, WEEKS, [DAYS[0], (2, [((5, 0, 0), SC, "1")])]), "integer", True),
])
def test_invalid_calendars(args, msg, shape):
    with pytest.raises(CalendarError) as e:
        calendar.Calendar(b"CAL", *args)
    assert msg in str(e.value)
    assert e.value.type_unmatched == shape
    assert isinstance(e.value, ValueError)


def test_model_round_trips_the_cosem_shape():
    c = cal()
    assert c.seasons == tuple((s[0], s[1], s[2]) for s in SEASONS)
    assert c.weeks == ((b"WORK", (1, 1, 1, 1, 1, 2, 2)),)
    assert c.days == ((1, (((6, 0, 0), SC, 2), ((22, 0, 0), SC, 1))), (2, (((0, 0, 0), SC, 3),)))


def test_previous_day_action_holds_before_the_first_switch():
    m = tou()
    # Monday 2026-03-02: before 06:00 the Sunday (day 2: tariff 3 from 00:00) still holds.
    assert m.active_tariff(t(2026, 3, 2, 5, 59, 59)) == 3
    assert m.active_tariff(t(2026, 3, 2, 6)) == 2
    assert m.active_tariff(t(2026, 3, 3, 1)) == 1        # Tuesday 01:00: Monday's 22:00 action
    assert m.next_switch(t(2026, 3, 2, 5)) == t(2026, 3, 2, 6)
    assert m.next_switch(t(2026, 3, 6, 22)) == t(2026, 3, 7)     # Saturday 00:00: tariff 3
    assert m.next_switch(t(2026, 3, 7, 0)) == t(2026, 3, 9, 6)


def test_season_starting_mid_day_takes_over_from_its_start():
    days = DAYS + [(3, [((8, 0, 0), SC, 5), ((20, 0, 0), SC, 6)])]
    seasons = [(b"A", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"WORK"),
               (b"B", (0xFFFF, 6, 10, 0xFF, 12, 0, 0), b"OTHER")]
    m = tou(cal(seasons, WEEKS + [(b"OTHER", (3,) * 7)], days))
    # Wednesday 2026-06-10: season A until 12:00 (tariff 2 since 06:00); B's 08:00 action lies
    # before its start, so tariff 2 holds until B's 20:00 action.
    assert m.active_tariff(t(2026, 6, 10, 11, 59)) == 2
    assert m.active_tariff(t(2026, 6, 10, 12)) == 2
    assert m.active_tariff(t(2026, 6, 10, 19, 59)) == 2
    assert m.next_switch(t(2026, 6, 10, 7)) == t(2026, 6, 10, 20)
    assert m.active_tariff(t(2026, 6, 11, 7)) == 6
    assert m.active_tariff(t(2026, 6, 11, 8)) == 5


def test_special_days_override_and_lowest_index_wins():
    sd = [(7, (0xFFFF, 12, 25, 0xFF), 2), (3, (0xFFFF, 12, 0xFF, 5), 1)]
    m = tou(special=sd)
    # Friday 2026-12-25: both match, index 3 (day 1) wins over index 7.
    assert m.active_tariff(t(2026, 12, 25, 12)) == 2
    # Friday 2026-12-25 -> Thursday 2025-12-25 matches only index 7: day 2 all day.
    assert m.active_tariff(t(2025, 12, 25, 12)) == 3
    assert m.active_tariff(t(2025, 12, 26, 5)) == 3       # carried into the next morning
    m.special_days.delete(7)
    assert m.active_tariff(t(2025, 12, 25, 12)) == 2
    m.special_days.insert((3, (2025, 12, 25, 0xFF), 2))   # replaces index 3
    assert m.special_days.entries == ((3, (2025, 12, 25, 0xFF), 2),)
    assert m.active_tariff(t(2025, 12, 25, 12)) == 3
    # An unknown day id falls back to the week profile.
    m.special_days.insert((3, (2025, 12, 25, 0xFF), 99))
    assert m.active_tariff(t(2025, 12, 25, 12)) == 2


def test_invalid_special_days_change_nothing():
    sd = special_days.SpecialDays([(1, (0xFFFF, 1, 1, 0xFF), 2)])
    before = sd.entries
    for bad, shape in (((2, (0xFFFF, 13, 1, 0xFF), 2), False), ((2, (0xFFFF, 1, 1), 2), True),
                       ((70000, (0xFFFF, 1, 1, 0xFF), 2), False), ((2, (0xFFFF, 1, 1, 8), 2), False),
                       ((2, (0xFFFF, 1, 1, 0xFF), 256), False), ((2, (0xFFFF, 1, 1, 0xFF)), True)):
        with pytest.raises(CalendarError) as e:
            sd.insert(bad)
        assert e.value.type_unmatched == shape
        assert sd.entries == before
    with pytest.raises(CalendarError, match="duplicate"):
        sd.set_entries([(1, (0xFFFF, 1, 1, 0xFF), 2), (1, (0xFFFF, 1, 2, 0xFF), 2)])
    assert sd.entries == before


def test_dst_gap_action_switches_when_the_wall_clock_jumps():
    days = [(1, [((0, 0, 0), SC, 1), ((2, 30, 0), SC, 2)])]
    c = cal([(b"S", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")], [(b"W", (1,) * 7)], days)
    m = tou(c, rule=dst.eu_rule(-60))
    # 2026-03-29: 02:00 CET (01:00 UTC) becomes 03:00 CEST; the 02:30 action is passed at once.
    assert m.next_switch(t(2026, 3, 28, 23)) == t(2026, 3, 29, 1)
    assert m.active_tariff(t(2026, 3, 29, 0, 59, 59)) == 1
    assert m.active_tariff(t(2026, 3, 29, 1)) == 2
    # 2026-10-25: the wall clock repeats 02:00..03:00 and with it the 02:30 action.
    base = t(2026, 10, 24, 22)                  # 00:00 CEST
    sw = []
    x = base
    while True:
        x = m.next_switch(x, base + 25 * 3600)
        if x is None:
            break
        sw.append(x - base)
    # 02:30 CEST, 02:00 CET (back to the 00:00 action), 02:30 CET, the next midnight (25 h on).
    assert sw == [9000, 10800, 12600, 25 * 3600]


def test_passive_calendar_activation():
    active = cal()
    passive = calendar.Calendar(b"NEW", [(b"S", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")],
                                [(b"W", (1,) * 7)], [(1, [((0, 0, 0), SC, 8)])])
    m = tou(active)
    act = m.activity
    act.set_passive(passive)
    with pytest.raises(CalendarError):
        act.set_activation_time((2026, 13, 1, 0xFF, 0, 0, 0))
    assert act.activation_utc(UTC) is None
    act.set_activation_time((2026, 5, 4, 0xFF, 12, 30, 0))
    a = t(2026, 5, 4, 12, 30)
    assert act.activation_utc(UTC) == a
    assert m.active_tariff(a - 1) == 2
    assert m.active_tariff(a) == 8                      # pure: already answered before activation
    assert m.next_switch(a - 3600) == a
    assert m.activate_passive(a - 1) is False and act.active is active
    assert m.activate_passive(a) is True
    assert act.active is passive and act.activation_utc(UTC) is None
    assert m.active_tariff(a - 1) == 8
    act.activate_passive()
    assert act.active is passive
