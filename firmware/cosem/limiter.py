"""Class 71 Limiter (version 0).

Attributes 2..11 are the sources `<binding>.<name>`: monitored_value {class_id, logical name,
attribute index}, threshold_active / threshold_normal / threshold_emergency (double-long-unsigned
in the unit of the monitored value), min_over / min_under_threshold_duration (s),
emergency_profile {id, activation_time, duration}, emergency_profile_group_id_list,
emergency_profile_active, actions {action_over_threshold, action_under_threshold} with each
action {script logical name, script selector}. Structures travel as Data tuples.
"""
from dlms import axdr
from cosem import ic
from cosem.ic import W

LN = (axdr.OCTET_STRING, 6, 6)
VALUE_DEFINITION = (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, LN, axdr.INTEGER))
ACTION = (axdr.STRUCTURE, (LN, axdr.LONG_UNSIGNED))
EMERGENCY_PROFILE = (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, (axdr.OCTET_STRING, 12, 12),
                                      axdr.DOUBLE_LONG_UNSIGNED))
_THRESHOLD = axdr.DOUBLE_LONG_UNSIGNED
_DLU = axdr.DOUBLE_LONG_UNSIGNED


class Limiter(ic.Interface):
    """Class 71, version 0 (no methods)."""

    CLASS_ID = 71
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("monitored_value", VALUE_DEFINITION, W, None, None),
        ("threshold_active", _THRESHOLD, 0, None, None),
        ("threshold_normal", _THRESHOLD, W, None, None),
        ("threshold_emergency", _THRESHOLD, W, None, None),
        ("min_over_threshold_duration", _DLU, W, None, None),
        ("min_under_threshold_duration", _DLU, W, None, None),
        ("emergency_profile", EMERGENCY_PROFILE, W, None, None),
        ("emergency_profile_group_id_list", (axdr.ARRAY, axdr.LONG_UNSIGNED), W, None, None),
        ("emergency_profile_active", axdr.BOOLEAN, 0, None, None),
        ("actions", (axdr.STRUCTURE, (ACTION, ACTION)), W, None, None),
    )
