"""Class 21 Register monitor (version 0): thresholds (attribute 2), monitored_value (3),
actions (4): one {action_up, action_down} per threshold, each action {script logical name,
script selector}.

Row argument: the type of one threshold (the type of the monitored value, e.g.
axdr.DOUBLE_LONG_UNSIGNED). Sources `<binding>.thresholds` (array Data tuple),
`.monitored_value` and `.actions` (Data tuples); the service checks what is written.
"""
from dlms import axdr
from cosem import dtype, ic
from cosem.ic import W
from cosem.limiter import ACTION, VALUE_DEFINITION

ACTION_SET = (axdr.STRUCTURE, (ACTION, ACTION))


class RegisterMonitor(ic.Interface):
    """Class 21, version 0 (no methods)."""

    CLASS_ID = 21
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("thresholds", None, W, None, None),
        ("monitored_value", VALUE_DEFINITION, 0, None, None),
        ("actions", (axdr.ARRAY, ACTION_SET), W, None, None),
    )

    @classmethod
    def attr_type(cls, row, n):
        if n == 2:
            return axdr.ARRAY, row[ic.ARG]
        return cls.ATTRS[n - 1][1]

    @classmethod
    def check_arg(cls, arg):
        if dtype.tag_of(arg) is None:
            raise ValueError("register monitor argument must be a simple threshold type")
