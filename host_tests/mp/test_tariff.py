# MicroPython-only checks of the time-of-use core: a week of switches in the 2070s (epoch seconds
# past 2**31, bigints on ARM), the error class, special days, a split step, and no allocation
# growth across many repeated evaluations.
import gc

from core import calendar, civil, dst, special_days, tariff, tariff_registers
from measure import energy

SC = b"\x00\x00\x0a\x00\x64\xff"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def make(special=()):
    days = [(1, [((6, 0, 0), SC, 2), ((22, 0, 0), SC, 1)]), (2, [((0, 0, 0), SC, 3)])]
    cal = calendar.Calendar(b"C", [(b"S", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")],
                            [(b"W", (1, 1, 1, 1, 1, 2, 2))], days)
    return tariff.TimeOfUse(calendar.ActivityCalendar(cal), special_days.SpecialDays(special),
                            dst.eu_rule(-60))


def test_week_of_switches_after_2068():
    m = make()
    t = civil.to_epoch(2071, 6, 1)                     # Monday, CEST
    check(t > 2 ** 31, "instant beyond 2**31")
    got = []
    x = t
    while True:
        x = m.next_switch(x, t + 7 * 86400)
        if x is None:
            break
        got.append((civil.civil(x + 7200)[2:4], m.active_tariff(x)))
    want = [((1, 6), 2), ((1, 22), 1)]
    for d in range(2, 6):
        want += [((d, 6), 2), ((d, 22), 1)]
    want.append(((6, 0), 3))                          # Saturday: day 2 from 00:00
    check(got == want, "switches %r" % (got,))


def test_error_class():
    try:
        calendar.Calendar(b"C", [], [(b"W", (1,) * 7)], [(1, [((0, 0, 0), SC, 9)])])
    except calendar.CalendarError as e:
        check(isinstance(e, ValueError), "a ValueError")
        check(str(e) == "script selector (tariff) outside 1..8", str(e))
        check(e.type_unmatched is False, "other-reason")
        return
    raise AssertionError("no error")


def test_special_day():
    m = make([(0, (0xFFFF, 12, 25, 0xFF), 2)])
    check(m.active_tariff(civil.to_epoch(2070, 12, 25, 12)) == 3, "special day")
    check(m.active_tariff(civil.to_epoch(2070, 12, 24, 12)) == 2, "week day")


def test_split_step():
    m = make()
    e = energy.Energy(1)
    regs = tariff_registers.TariffRegisters(energy.NREG)
    utc = civil.to_epoch(2070, 1, 7, 4, 59, 59)         # Tuesday 06:00 CET is 05:00 UTC
    regs.step(e, m, [3600000000], [0], [3600000000], 2000000, 2000000, utc, 500000)
    check(regs.value(1, energy.A_PLUS) == 500, "before the switch")
    check(regs.value(2, energy.A_PLUS) == 1500, "after the switch")


def test_repeated_evaluation_does_not_grow_the_heap():
    m = make()
    t = civil.to_epoch(2070, 3, 3, 10)
    for u in range(t, t + 600, 60):
        m.active_tariff(u)
    gc.collect()
    before = gc.mem_free()
    for _ in range(20):
        for u in range(t, t + 600, 60):
            m.active_tariff(u)
            m.next_switch(u, u + 86400)
    gc.collect()
    check(before - gc.mem_free() < 2048, "heap grew")
