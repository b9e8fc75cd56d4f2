"""Class 8 Clock. Every attribute but logical_name is a source `<binding>.<attribute>`; time is
the 12-octet COSEM date-time (local time, deviation and status included) and setting it goes
through the binding. Methods 1..6 are delegated to `<binding>.<method>`."""
from dlms import axdr
from cosem import ic
from cosem.ic import W

DATETIME = (axdr.OCTET_STRING, 12, 12)


class Clock(ic.Interface):
    """Class 8, version 0."""

    CLASS_ID = 8
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("time", DATETIME, W, None, None),
        ("time_zone", (axdr.LONG, -720, 720), W, None, None),
        ("status", axdr.UNSIGNED, 0, None, None),
        ("daylight_savings_begin", DATETIME, W, None, None),
        ("daylight_savings_end", DATETIME, W, None, None),
        ("daylight_savings_deviation", (axdr.INTEGER, -120, 120), W, None, None),
        ("daylight_savings_enabled", axdr.BOOLEAN, W, None, None),
        ("clock_base", axdr.ENUM, 0, None, None),
    )
    METHODS = (
        ("adjust_to_quarter", None, None),
        ("adjust_to_measuring_period", None, None),
        ("adjust_to_minute", None, None),
        ("adjust_to_preset_time", None, None),
        ("preset_adjusting_time", (axdr.STRUCTURE, (DATETIME, DATETIME, DATETIME)), None),
        ("shift_time", (axdr.LONG, -900, 900), None),
    )
