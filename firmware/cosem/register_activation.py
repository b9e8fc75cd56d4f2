"""Class 6 Register activation: which registers of a list integrate, by named masks.

Row argument: (register_assignment, mask_list), both fixed by the model: register_assignment a
tuple of (class_id, logical name as 6 octets), mask_list a tuple of (mask name as bytes, tuple of
1-based indices into register_assignment); build it with `argument`. active_mask (attribute 4)
reads the source "<binding>.active_mask": the meter's tariff in force decides it (the tariff
scripts select the masks, see runtime.tariff_service), so it is not written here.

The lists being fixed, the methods add_register, add_mask and delete_mask are refused with
read-write-denied (a model normally grants no access to them at all, which the server answers
the same way).
"""
from dlms import axdr
from cosem import errors, ic, obis

_NAME = (axdr.OCTET_STRING, 0, 32)
_ASSIGNMENT = (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, ic.LOGICAL_NAME))
_MASK = (axdr.STRUCTURE, (axdr.OCTET_STRING, (axdr.ARRAY, axdr.UNSIGNED)))


def argument(registers, masks):
    """A row argument: `registers` ((class_id, OBIS text or 6 octets), ...), `masks`
    ((name, (index, ...)), ...) with 1-based indices into `registers`."""
    regs = tuple((cid, obis.parse(ln) if isinstance(ln, str) else bytes(ln))
                 for cid, ln in registers)
    arg = (regs, tuple((bytes(name), tuple(idx)) for name, idx in masks))
    RegisterActivation.check_arg(arg)
    return arg


def _register_assignment(view, row, n, selector, params):
    return axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.LONG_UNSIGNED, cid), (axdr.OCTET_STRING, ln)])
                        for cid, ln in row[ic.ARG][0]]


def _mask_list(view, row, n, selector, params):
    return axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, name),
                                          (axdr.ARRAY, [(axdr.UNSIGNED, i) for i in idx])])
                        for name, idx in row[ic.ARG][1]]


def _fixed(view, row, m, data):
    raise errors.ReadWriteDenied("the register and mask lists are fixed by the meter model")


def mask_index(arg, name):
    """Position (0-based) of mask `name` in the mask list of a row argument, or -1."""
    masks = arg[1]
    for i in range(len(masks)):
        if masks[i][0] == name:
            return i
    return -1


class RegisterActivation(ic.Interface):
    """Class 6, version 0: logical_name, register_assignment, mask_list, active_mask; methods
    add_register, add_mask, delete_mask (refused: fixed lists)."""

    CLASS_ID = 6
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (
        ("register_assignment", (axdr.ARRAY, _ASSIGNMENT), 0, _register_assignment, None),
        ("mask_list", (axdr.ARRAY, _MASK), 0, _mask_list, None),
        ("active_mask", _NAME, 0, None, None),
    )
    METHODS = (
        ("add_register", _ASSIGNMENT, _fixed),
        ("add_mask", _MASK, _fixed),
        ("delete_mask", _NAME, _fixed),
    )

    @classmethod
    def check_arg(cls, arg):
        if not isinstance(arg, tuple) or len(arg) != 2:
            raise ValueError("register activation argument is (registers, masks)")
        regs, masks = arg
        for r in regs:
            if (not isinstance(r, tuple) or len(r) != 2 or not isinstance(r[0], int)
                    or not 0 <= r[0] <= 0xFFFF or not isinstance(r[1], bytes) or len(r[1]) != 6):
                raise ValueError("a register assignment is (class id, 6-octet logical name)")
        if len(regs) > 255:
            raise ValueError("mask indices are unsigned: at most 255 registers")
        names = []
        for m in masks:
            if not isinstance(m, tuple) or len(m) != 2 or not isinstance(m[0], bytes):
                raise ValueError("a mask is (name, indices)")
            if m[0] in names or len(m[0]) > _NAME[2]:
                raise ValueError("mask names must be distinct and at most 32 octets")
            names.append(m[0])
            for i in m[1]:
                if not isinstance(i, int) or not 1 <= i <= len(regs):
                    raise ValueError("mask index outside the register assignment")
