# MicroPython checks of core.power_quality: the detectors on the unix port, instants past 2**31
# (ARM small ints end at 2**30), and no heap allocation per window while the voltage is steady.
import micropython

from core import civil
from core import power_quality as pq
from runtime import power_quality as service


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_sag_counted_after_its_time_threshold_past_2038():
    s = pq.Settings()
    s.sag_s = 3
    lv = pq.Level(s)
    t = civil.to_epoch(2071, 6, 1, 12)
    check(t > 2 ** 31, "instant beyond 2**31")
    check(lv.update(230000, t) is None, "normal")
    check(lv.update(200000, t + 1) is None, "sag pending")
    check(lv.update(190000, t + 3) is None, "not long enough yet")
    check(lv.update(195000, t + 4) == pq.SAG and lv.at == t + 4, "sag at its threshold")
    check(lv.sags == 1, "counted")
    check(lv.update(230000, t + 10) == pq.NORMAL and lv.at == t + 10, "normal again")
    check((lv.last_sag_mv, lv.last_sag_s) == (190000, 9), "magnitude and duration")


def test_short_dip_is_no_sag():
    lv = pq.Level(pq.Settings())
    lv.update(200000, 100)
    check(lv.update(230000, 100) is None and lv.sags == 0, "dip shorter than 1 s")


def test_steady_voltage_does_not_allocate():
    lv = pq.Level(pq.Settings())
    day = pq.Daily()
    avg = pq.Average(600)
    t = civil.to_epoch(2030, 1, 1)
    lv.update(230000, t)
    day.update(230000, 10957)
    avg.update(230000, t)
    micropython.heap_lock()
    try:
        for k in range(50):
            lv.update(229000 + k, t + k // 5)
            day.update(229000 + k, 10957)
            avg.update(229000 + k, t + k // 5)
    finally:
        micropython.heap_unlock()
    check(day.max == 230000 and day.min == 229000, "daily range")


def test_average_and_daily_rollover():
    avg = pq.Average(600)
    avg.update(230000, 0)
    avg.update(220000, 300)
    avg.update(220000, 600)
    check(avg.last == 225000, "time weighted average %d" % avg.last)
    d = pq.Daily()
    d.update(230000, 5)
    d.update(240000, 5)
    d.update(231000, 6)
    check((d.prev_max, d.prev_min) == (240000, 230000), "previous day")


def test_asymmetry_and_neutral():
    check(pq.asymmetry([230000, 230000, 0]) == 100, "one phase lost")
    check(pq.asymmetry([230000, 230000, 230000]) == 0, "balanced")
    n = pq.expected_neutral([10000, 10000, 10000], [2300000] * 3, [0] * 3, [2300000] * 3)
    check(n < 20, "balanced currents cancel: %d" % n)
    n = pq.expected_neutral([10000, 0, 0], [2300000, 0, 0], [0] * 3, [2300000, 0, 0])
    check(n == 10000, "one loaded phase: %d" % n)
    check(pq.neutral_fault(10000, 0, pq.Settings()), "missing neutral current")


def test_settings_record_round_trip():
    s = pq.Settings()
    s.sag_mv = 200000
    s.missing_s = 7
    back = service.unpack_settings(service.pack_settings(s))
    check((back.sag_mv, back.missing_s) == (200000, 7), "record")
