"""Alarm registers 1 and 2, alarm filters and alarm descriptors (class 1, double-long-unsigned),
bound to runtime.alarms. Management reads them and writes them (a written register or descriptor
resets bits, a filter is replaced); the pre-established client reads them."""
from dlms import axdr
from cosem.data import Data

_DLU = axdr.DOUBLE_LONG_UNSIGNED
_RW = (None, "rb", "r*")


def rows():
    """The six alarm objects."""
    for r in (1, 2):
        yield "0-0:97.98.%d" % (r - 1), Data, "alarms.register%d" % r, _DLU, _RW
        yield "0-0:97.98.%d" % (9 + r), Data, "alarms.filter%d" % r, _DLU, _RW
        yield "0-0:97.98.%d" % (19 + r), Data, "alarms.descriptor%d" % r, _DLU, _RW
