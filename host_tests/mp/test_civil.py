# MicroPython-only checks of core.civil / core.datepattern / core.dst: no allocation in the day
# functions the calendar calls often, precise ValueErrors, and known instants past 2**30 / 2**31.
import micropython

from core import civil, datepattern, dst

_EU_BEGIN = (0xFFFF, 3, 0xFE, 7)


def _raises(fn, *args):
    try:
        fn(*args)
    except ValueError:
        return
    raise AssertionError("no ValueError from %s%r" % (fn.__name__, args))


def test_day_functions_do_not_allocate():
    total = 0
    micropython.heap_lock()
    try:
        for y in (2000, 2023, 2024, 2099):
            n = civil.days_from_civil(y, 3, 31)
            total += n + civil.weekday(n) + civil.days_in_month(y, 2) + civil.day_of_year(y, 12, 31)
            if civil.is_leap(y):
                total += 1
            if datepattern.date_matches(_EU_BEGIN, y, 3, 31):
                total += 1000000
    finally:
        micropython.heap_unlock()
    # 2024-03-31 is the only last Sunday of March among these dates.
    expected = 0
    for y in (2000, 2023, 2024, 2099):
        n = civil.days_from_civil(y, 3, 31)
        expected += n + civil.weekday(n) + civil.days_in_month(y, 2) + civil.day_of_year(y, 12, 31)
        expected += 1 if y % 4 == 0 else 0
    if total != expected + 1000000:
        raise AssertionError("unexpected total %d" % total)


def test_instants_beyond_small_int_range():
    if civil.civil(2 ** 30) != (2034, 1, 9, 13, 37, 4, 1, 9):
        raise AssertionError("2**30")
    if civil.civil(2 ** 31) != (2068, 1, 19, 3, 14, 8, 4, 19):
        raise AssertionError("2**31")
    last = civil.to_epoch(2099, 12, 31, 23, 59, 59)
    if last != 3155759999 or civil.civil(last)[:3] != (2099, 12, 31):
        raise AssertionError("end of range")


def test_value_errors():
    _raises(civil.civil, -1)
    _raises(civil.civil, 3155760000)
    _raises(civil.to_epoch, 2023, 2, 29)
    _raises(civil.to_epoch, 2100, 1, 1)
    _raises(civil.to_epoch, 2024, 1, 1, 24)
    _raises(datepattern.check_date, (0xFFFF, 13, 1, 0xFF))
    _raises(datepattern.next_datetime, (0xFFFF, 1, 1, 0xFF, 0, 60, 0), 0)
    _raises(dst.Rule, -60, (0xFFFF, 0xFE, 1, 7, 2, 0, 0), (0xFFFF, 10, 0xFE, 7, 3, 0, 0))
    _raises(dst.local_from_utc, -1, dst.eu_rule())


def test_eu_rule_2068():
    rule = dst.eu_rule(-60)
    begin, end = dst.transitions(rule, 2068)
    if civil.civil(begin)[:5] != (2068, 3, 25, 1, 0):
        raise AssertionError("EU 2068 begin")
    if civil.civil(end)[:5] != (2068, 10, 28, 1, 0):
        raise AssertionError("EU 2068 end")
    if dst.local_from_utc(begin, rule)[1:] != (-120, True):
        raise AssertionError("CEST at begin")
    if dst.local_from_utc(begin - 1, rule)[1:] != (-60, False):
        raise AssertionError("CET before begin")
