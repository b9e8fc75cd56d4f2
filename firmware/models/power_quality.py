"""Voltage quality objects (application spec 3.2), bound to runtime.power_quality.

Thresholds (class 3, management writes them): sag 1-0:12.31.0, swell 12.35.0, missing voltage
12.39.0 (V, scaler -1); time thresholds 1-0:12.43.0 / 12.44.0 / 12.45.0 (s). Per phase (C = 32,
52, 72): sag and swell counters C.32.0 / C.36.0 (class 1, long-unsigned, saturating), magnitude
and duration of the last sag C.34.0 / C.33.0 and swell C.38.0 / C.37.0, average voltage C.24.0
(class 3); daily peak and minimum voltage of the previous day 0-0:128.8.x1 / x3 (x = phase).

MT382 per-phase power failures (runtime.logs, application spec section 14): failures 0-0:96.7.1-3
and long failures 0-0:96.7.6-8 (class 1, long-unsigned, saturating), duration of the last long
failure 0-0:96.7.16-18 (class 3, s).

Watchdog counter 0-0:128.15.0 (runtime.watchdog, application spec section 14; the spec gives no
OBIS: manufacturer-specific C = 128 as for the daily peaks): class 1, double-long-unsigned, read
only.
"""
from dlms import axdr
from cosem import register
from cosem.data import Data
from cosem.register import Register
from models.common import READ, VOLT

_SECOND = 7
SECONDS = register.scaling(axdr.LONG_UNSIGNED, 0, _SECOND)
DURATION = register.scaling(axdr.DOUBLE_LONG_UNSIGNED, 0, _SECOND)
_SETTING = (None, "rbr", "r*")


def rows(phases):
    """Thresholds, the objects of each phase, then the watchdog counter."""
    yield "1-0:12.31.0", Register, "pq.sag_threshold", VOLT, _SETTING
    yield "1-0:12.35.0", Register, "pq.swell_threshold", VOLT, _SETTING
    yield "1-0:12.39.0", Register, "pq.missing_threshold", VOLT, _SETTING
    yield "1-0:12.43.0", Register, "pq.sag_time", SECONDS, _SETTING
    yield "1-0:12.44.0", Register, "pq.swell_time", SECONDS, _SETTING
    yield "1-0:12.45.0", Register, "pq.missing_time", SECONDS, _SETTING
    for p in range(phases):
        c = 32 + 20 * p
        s = ".L%d" % (p + 1)
        yield "1-0:%d.32.0" % c, Data, "pq.sags" + s, axdr.LONG_UNSIGNED, READ
        yield "1-0:%d.36.0" % c, Data, "pq.swells" + s, axdr.LONG_UNSIGNED, READ
        yield "1-0:%d.34.0" % c, Register, "pq.last_sag_mv" + s, VOLT, READ
        yield "1-0:%d.33.0" % c, Register, "pq.last_sag_s" + s, DURATION, READ
        yield "1-0:%d.38.0" % c, Register, "pq.last_swell_mv" + s, VOLT, READ
        yield "1-0:%d.37.0" % c, Register, "pq.last_swell_s" + s, DURATION, READ
        yield "1-0:%d.24.0" % c, Register, "pq.average" + s, VOLT, READ
        yield "0-0:128.8.%d1" % (p + 1), Register, "pq.daily_max" + s, VOLT, READ
        yield "0-0:128.8.%d3" % (p + 1), Register, "pq.daily_min" + s, VOLT, READ
    if phases == 3:
        for p in range(phases):
            s = ".L%d" % (p + 1)
            yield "0-0:96.7.%d" % (p + 1), Data, "power_failure.count" + s, axdr.LONG_UNSIGNED, READ
            yield ("0-0:96.7.%d" % (p + 6), Data, "power_failure.long_count" + s,
                   axdr.LONG_UNSIGNED, READ)
            yield "0-0:96.7.%d" % (p + 16), Register, "power_failure.duration" + s, DURATION, READ
    yield "0-0:128.15.0", Data, "watchdog.count", axdr.DOUBLE_LONG_UNSIGNED, READ
