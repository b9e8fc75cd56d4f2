"""Class 17 SAP assignment (version 0): the logical devices of the server and their SAPs.

The meter has one logical device, the management device at SAP 1 (Model.server_sap); its name is
read from the row's binding (the logical device name source). connect_logical_device is not
supported (the list is fixed)."""
from dlms import axdr
from cosem import errors, ic
from cosem.ic import MAIN, SOURCED

_ENTRY = (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, axdr.OCTET_STRING))


def _list(view, row, n, selector, params):
    ldn = view.read(row[ic.BIND])
    if not isinstance(ldn, (bytes, bytearray)):
        raise errors.TemporaryFailure("logical device name is not bytes")
    return axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.LONG_UNSIGNED, view.model.server_sap),
                                          (axdr.OCTET_STRING, bytes(ldn))])]


def _connect(view, row, m, data):
    raise errors.ReadWriteDenied("the logical devices are fixed")


class SapAssignment(ic.Interface):
    """Class 17, version 0: SAP_assignment_list."""

    CLASS_ID = 17
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("SAP_assignment_list", (axdr.ARRAY, _ENTRY), MAIN | SOURCED, _list, None),
    )
    METHODS = (("connect_logical_device", _ENTRY, _connect),)
