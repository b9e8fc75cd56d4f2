"""Register family: classes 3 Register, 4 Extended register, 5 Demand register.

The row argument is a Scale (tag, scaler, unit, divisor, flags): the source gives an int in the
meter's internal unit (mWh, mV ...); GET divides it by `divisor` (truncated toward zero, or to
nearest with ROUND) and sends it with A-XDR `tag`; scaler_unit is {scaler, unit}. SET multiplies
back. With OPTIONAL a source that does not exist yet reads 0 (tariff registers).
"""
from dlms import axdr
from cosem import ic
from cosem.ic import MAIN, W, SCALED

DATETIME = (axdr.OCTET_STRING, 12, 12)
SCALER_UNIT = (axdr.STRUCTURE, (axdr.INTEGER, axdr.ENUM))

_INT_TAGS = (axdr.DOUBLE_LONG, axdr.DOUBLE_LONG_UNSIGNED, axdr.INTEGER, axdr.LONG,
             axdr.UNSIGNED, axdr.LONG_UNSIGNED, axdr.LONG64, axdr.LONG64_UNSIGNED)


def scaling(tag, scaler, unit, divisor=1, flags=0):
    """A Scale row argument (share one tuple between the rows that use it)."""
    s = (tag, scaler, unit, divisor, flags)
    _check_scale(s)
    return s


def _check_scale(s):
    if not isinstance(s, tuple) or len(s) != 5 or s[0] not in _INT_TAGS:
        raise ValueError("register argument must be a Scale with an integer tag")
    if not -128 <= s[1] <= 127 or not 0 <= s[2] <= 255 or s[3] < 1:
        raise ValueError("bad scaler, unit or divisor")


def _scaler_unit(view, row, n, selector, params):
    sc = row[ic.ARG]
    return axdr.STRUCTURE, [(axdr.INTEGER, sc[1]), (axdr.ENUM, sc[2])]


_SCALER_UNIT = ("scaler_unit", SCALER_UNIT, 0, _scaler_unit, None)
_RESET = ("reset", None, None)


class Register(ic.Interface):
    """Class 3: value (attribute 2) and scaler_unit (3); method 1 reset."""

    CLASS_ID = 3
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("value", None, W | MAIN | SCALED, None, None),
        _SCALER_UNIT,
    )
    METHODS = (_RESET,)

    @classmethod
    def check_arg(cls, arg):
        _check_scale(arg)


class ExtendedRegister(Register):
    """Class 4: Register plus status (4, any type) and capture_time (5)."""

    CLASS_ID = 4
    ATTRS = Register.ATTRS + (
        ("status", None, 0, None, None),
        ("capture_time", DATETIME, 0, None, None),
    )


class DemandRegister(Register):
    """Class 5: current/last average values, scaler_unit, status, capture and start times,
    period and number of periods; methods 1 reset, 2 next_period (delegated to the source)."""

    CLASS_ID = 5
    ATTRS = ic.Interface.ATTRS + (
        ("current_average_value", None, SCALED, None, None),
        ("last_average_value", None, SCALED, None, None),
        _SCALER_UNIT,
        ("status", None, 0, None, None),
        ("capture_time", DATETIME, 0, None, None),
        ("start_time_current", DATETIME, 0, None, None),
        ("period", axdr.DOUBLE_LONG_UNSIGNED, W, None, None),
        ("number_of_periods", (axdr.LONG_UNSIGNED, 1, 0xFFFF), W, None, None),
    )
    METHODS = (_RESET, ("next_period", None, None))
