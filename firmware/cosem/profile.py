"""Class 7 Profile generic (version 1).

Row argument: (capture_objects, sort_method, sort_object) with capture objects as
(class_id, logical name, attribute index, data index) tuples and sort_object one of them or None.
Attribute 2 buffer: the source `<binding>.buffer` is a provider, a callable
``rows(selector, parameters) -> LazyArray`` (selector None for the whole buffer, 1 range or 2
entry with the raw selective-access parameters: the provider checks them and raises an
AccessError to refuse). capture_period, entries_in_use and profile_entries are sources; methods
reset and capture are delegated.
"""
from dlms import axdr
from cosem import dtype, errors, ic
from cosem.ic import SOURCED, W

FIFO = 1
LIFO = 2
RANGE = 1
ENTRY = 2

CAPTURE_OBJECT = (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, (axdr.OCTET_STRING, 6, 6), axdr.INTEGER,
                                   axdr.LONG_UNSIGNED))
_NO_SORT_OBJECT = (0, bytes(6), 0, 0)


def capture_object(c):
    """Data value of one capture object definition (class_id, ln, attribute, data_index)."""
    return axdr.STRUCTURE, [(axdr.LONG_UNSIGNED, c[0]), (axdr.OCTET_STRING, c[1]),
                            (axdr.INTEGER, c[2]), (axdr.LONG_UNSIGNED, c[3])]


def _buffer(view, row, n, selector, params):
    provider = view.read(ic.source_name(row, "buffer", False))
    try:
        rows = provider(selector, params)
    except errors.AccessError:
        raise
    except Exception as e:
        view.failed("buffer provider", e)
        raise errors.TemporaryFailure("buffer provider failed")
    if not isinstance(rows, dtype.LazyArray):
        raise errors.TemporaryFailure("buffer provider gave no LazyArray")
    return rows


def _capture_objects(view, row, n, selector, params):
    return axdr.ARRAY, [capture_object(c) for c in row[ic.ARG][0]]


def _sort_method(view, row, n, selector, params):
    return axdr.ENUM, row[ic.ARG][1]


def _sort_object(view, row, n, selector, params):
    return capture_object(row[ic.ARG][2] or _NO_SORT_OBJECT)


class ProfileGeneric(ic.Interface):
    """Class 7, version 1."""

    CLASS_ID = 7
    VERSION = 1
    ATTRS = ic.Interface.ATTRS + (
        ("buffer", None, SOURCED, _buffer, None),
        ("capture_objects", (axdr.ARRAY, CAPTURE_OBJECT), 0, _capture_objects, None),
        ("capture_period", axdr.DOUBLE_LONG_UNSIGNED, W, None, None),
        ("sort_method", (axdr.ENUM, 1, 6), 0, _sort_method, None),
        ("sort_object", CAPTURE_OBJECT, 0, _sort_object, None),
        ("entries_in_use", axdr.DOUBLE_LONG_UNSIGNED, 0, None, None),
        ("profile_entries", axdr.DOUBLE_LONG_UNSIGNED, W, None, None),
    )
    METHODS = (("reset", None, None), ("capture", None, None))
    SELECTORS = ((2, (RANGE, ENTRY)),)

    @classmethod
    def check_arg(cls, arg):
        if not isinstance(arg, tuple) or len(arg) != 3 or arg[1] not in range(1, 7):
            raise ValueError("profile argument must be (capture objects, sort method, sort object)")
        try:
            for c in tuple(arg[0]) + ((arg[2],) if arg[2] is not None else ()):
                dtype.check(CAPTURE_OBJECT, capture_object(c))
        except (errors.AccessError, TypeError, IndexError):
            raise ValueError("bad capture object definition")
