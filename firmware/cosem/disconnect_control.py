"""Class 70 Disconnect control (version 0): output_state, control_state, control_mode; methods
remote_disconnect and remote_reconnect, each with the parameter integer 0.

Sources: `<binding>.output_state` (bool), `.control_state` (0..2), `.control_mode` (0..6,
writable), actions `<binding>.remote_disconnect` / `.remote_reconnect`. A method the present
state or control mode does not allow is refused by the source (other-reason) and changes nothing
(docs/disconnect.md).
"""
from dlms import axdr
from cosem import ic
from cosem.ic import W

ZERO = (axdr.INTEGER, 0, 0)


class DisconnectControl(ic.Interface):
    """Class 70, version 0."""

    CLASS_ID = 70
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("output_state", axdr.BOOLEAN, 0, None, None),
        ("control_state", (axdr.ENUM, 0, 2), 0, None, None),
        ("control_mode", (axdr.ENUM, 0, 6), W, None, None),
    )
    METHODS = (("remote_disconnect", ZERO, None), ("remote_reconnect", ZERO, None))
