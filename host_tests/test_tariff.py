"""Tariff switch source, manual tariff activation and register activation masks."""
import pytest

from core import calendar, civil, dst, special_days, tariff
from core.calendar import CalendarError

SC = b"\x00\x00\x0a\x00\x64\xff"


def tou():
    days = [(1, [((6, 0, 0), SC, 2), ((22, 0, 0), SC, 1)])]
    cal = calendar.Calendar(b"C", [(b"S", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")],
                            [(b"W", (1,) * 7)], days)
    return tariff.TimeOfUse(calendar.ActivityCalendar(cal), special_days.SpecialDays(),
                            dst.eu_rule(0))


def t(*a):
    return civil.to_epoch(*a)


def test_manual_activation_holds_until_the_next_calendar_switch():
    m = tou()
    now = t(2030, 1, 10, 8)
    m.execute_script(5, now)
    assert m.active_tariff(now - 1) == 2
    assert m.active_tariff(now) == 5
    assert m.active_tariff(t(2030, 1, 10, 21, 59, 59)) == 5
    assert m.next_switch(now - 10) == now
    assert m.next_switch(now) == t(2030, 1, 10, 22)
    assert m.active_tariff(t(2030, 1, 10, 22)) == 1
    # Executing the script of the tariff already in force changes nothing visible.
    m.execute_script(1, t(2030, 1, 11, 1))
    assert m.next_switch(t(2030, 1, 11, 0)) == t(2030, 1, 11, 6)


def test_manual_and_external_sources():
    m = tou()
    m.set_source(tariff.SOURCE_MANUAL)
    now = t(2030, 1, 10, 8)
    assert m.active_tariff(now) == 1                  # default before any manual activation
    m.execute_script(7, now)
    assert m.active_tariff(t(2031, 5, 5)) == 7
    assert m.next_switch(now) is None
    m.set_source(tariff.SOURCE_EXTERNAL)
    m.set_external(4)
    assert m.active_tariff(now) == 4
    m.set_source(tariff.SOURCE_CALENDAR)
    assert m.active_tariff(now) == 2                  # the earlier manual activation is dropped


@pytest.mark.parametrize("call, shape", [
    (lambda m: m.execute_script(9, 0), False), (lambda m: m.execute_script(0, 0), False),
    (lambda m: m.execute_script("1", 0), True), (lambda m: m.set_source(3), False),
    (lambda m: m.set_external(-1), False), (lambda m: m.set_source(None), True),
])
def test_invalid_requests_change_nothing(call, shape):
    m = tou()
    with pytest.raises(CalendarError) as e:
        call(m)
    assert e.value.type_unmatched == shape
    assert m.source == tariff.SOURCE_CALENDAR and m._override is None
    assert m.active_tariff(t(2030, 1, 10, 8)) == 2


def test_register_activation_masks():
    act = tariff.RegisterActivation(10)
    assert act.mask(1) == act.mask(8) == 0x3FF
    act.set_mask(2, [0, 1])
    assert act.mask(2) == 3 and act.mask(1) == 0x3FF
    with pytest.raises(CalendarError):
        act.set_mask(2, [10])
    with pytest.raises(CalendarError):
        act.set_mask(9, [0])
    assert act.mask(2) == 3


def test_no_switch_in_a_single_tariff_calendar():
    cal = calendar.Calendar(b"C", [(b"S", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")],
                            [(b"W", (1,) * 7)], [(1, [((0, 0, 0), SC, 3)])])
    m = tariff.TimeOfUse(calendar.ActivityCalendar(cal), special_days.SpecialDays(),
                         dst.eu_rule(-60))
    assert m.next_switch(t(2040, 3, 1)) is None       # 400 days of looking, across DST changes
    assert m.active_tariff(t(2040, 3, 1)) == 3
