"""Class 7 Profile generic (version 1).

Row argument: (capture_objects, sort_method, sort_object) with capture objects as
(class_id, logical name, attribute index, data index) tuples and sort_object one of them or None.

Attribute 2 buffer: the source `<binding>.buffer` gives either

* a table (runtime.profile_buffer.ProfileBuffer or anything alike) with ``len(table)`` rows
  oldest first, ``instant(i)`` (UTC seconds of the clock column of row i), ``cells(i)`` (the
  Data values of row i, one per capture object), ``dropped`` (rows that have left the front of
  the buffer so far: a reset or a capture into a full buffer) and ``rule`` (the core.dst rule
  for date-times without deviation); this class then does the selective access itself, or
* a provider, a callable ``rows(selector, parameters) -> LazyArray`` (selector None for the
  whole buffer, 1 range or 2 entry with the raw parameters) that checks the parameters and
  raises an AccessError to refuse.

Selective access on a table (Blue Book): range_descriptor {restricting_object, from_value,
to_value, selected_values}: the restricting object must be the clock column; rows whose instant
lies in from..to (both included; date-times with deviation "not specified" are local time read
with the rule, a wholly unspecified bound is open) in buffer order, even when a clock set made
the instants non-monotonic; a range that ends before it begins selects nothing.
entry_descriptor {from_entry, to_entry, from_selected_value, to_selected_value}, numbered from 1
(the oldest row; 0 as upper bound: the last): entries beyond the buffer select nothing (an upper
bound beyond it is cut), columns beyond the capture objects and bounds in reverse order are
refused. Shapes that are wrong
answer type-unmatched, values that make no sense (a zero lower bound, a restricting object or
selected value that is not a capture object, an invalid date-time) other-reason.

The buffer is streamed row by row: nothing proportional to it is held in RAM. A row that leaves
the buffer while a block transfer reads it (a capture into a full buffer, a reset) ends the
transfer with temporary-failure rather than a shifted or duplicated row.

capture_period, entries_in_use and profile_entries are sources (the service refuses bad values
with ValueError: other-reason); methods reset and capture are delegated.
"""
from dlms import axdr
from cosem import dtype, errors, ic
from cosem.ic import SOURCED, W
from core import dst

FIFO = 1
LIFO = 2
RANGE = 1
ENTRY = 2

CAPTURE_OBJECT = (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, (axdr.OCTET_STRING, 6, 6), axdr.INTEGER,
                                   axdr.LONG_UNSIGNED))
_NO_SORT_OBJECT = (0, bytes(6), 0, 0)
_CLOCK_CLASS = 8


def capture_object(c):
    """Data value of one capture object definition (class_id, ln, attribute, data_index)."""
    return axdr.STRUCTURE, [(axdr.LONG_UNSIGNED, c[0]), (axdr.OCTET_STRING, c[1]),
                            (axdr.INTEGER, c[2]), (axdr.LONG_UNSIGNED, c[3])]


def _typed(data, tag, what):
    if not isinstance(data, tuple) or len(data) != 2 or data[0] != tag:
        raise errors.TypeUnmatched(what + " has the wrong type")
    return data[1]


def _structure(data, n, what):
    v = _typed(data, axdr.STRUCTURE, what)
    if not isinstance(v, (list, tuple)) or len(v) != n:
        raise errors.TypeUnmatched(what + " has the wrong element count")
    return v


def _definition(data):
    # (class_id, ln, attribute, data_index) of a capture_object_definition Data value.
    v = _structure(data, 4, "capture object")
    ln = _typed(v[1], axdr.OCTET_STRING, "logical name")
    if len(ln) != 6:
        raise errors.TypeUnmatched("logical name is not 6 octets")
    return (_typed(v[0], axdr.LONG_UNSIGNED, "class id"), bytes(ln),
            _typed(v[2], axdr.INTEGER, "attribute index"),
            _typed(v[3], axdr.LONG_UNSIGNED, "data index"))


def _column(objects, c):
    # Column of capture object c (its data index 0 and the capture object's both mean "all").
    for k in range(len(objects)):
        o = objects[k]
        if o[0] == c[0] and o[1] == c[1] and o[2] == c[2] and (c[3] == 0 or c[3] == o[3]):
            return k
    raise errors.OtherReason("not a capture object of this profile")


def _bound(data, what, rule):
    """UTC seconds of a range bound; None for a wholly unspecified date-time (open bound)."""
    if isinstance(data, tuple) and len(data) == 2 and data[0] == axdr.DATE_TIME:
        b = data[1]
    else:
        b = _typed(data, axdr.OCTET_STRING, what)
    if not isinstance(b, (bytes, bytearray)) or len(b) != 12:
        raise errors.TypeUnmatched(what + " is not a 12-octet date-time")
    try:
        y, mo, d, _, h, mi, s, _, dev, _ = axdr.unpack_datetime(b)
    except axdr.DecodeError:
        raise errors.OtherReason(what + " is not a valid date-time")
    if y is None and mo is None and d is None and h is None and mi is None and s is None:
        return None
    if y is None or mo is None or d is None or h is None or mi is None or mo > 12 or d > 31:
        raise errors.OtherReason(what + " names no instant")
    try:
        return dst.utc_from_clock(y, mo, d, h, mi, s or 0, 0x8000 if dev is None else dev, rule)
    except ValueError:
        raise errors.OtherReason(what + " is outside the meter's time range")


class _Selection:
    """One read of a table: the rows lo..hi-1 (indices when the read began), the columns to
    send and an optional instant range."""

    def __init__(self, table, lo, hi, cols, t0, t1):
        self.table = table
        self.lo = lo
        self.hi = hi
        self.cols = cols
        self.t0 = t0
        self.t1 = t1
        self.mark = table.dropped

    def _index(self, j):
        i = j - (self.table.dropped - self.mark)
        if i < 0:
            raise errors.TemporaryFailure("row left the buffer while it was read")
        return i

    def _in_range(self, t):
        return (self.t0 is None or t >= self.t0) and (self.t1 is None or t <= self.t1)

    def count(self):
        if self.t0 is None and self.t1 is None:
            return self.hi - self.lo
        n = 0
        for j in range(self.lo, self.hi):
            if self._in_range(self.table.instant(j)):
                n += 1
        return n

    def rows(self):
        table = self.table
        cols = self.cols
        ranged = self.t0 is not None or self.t1 is not None
        for j in range(self.lo, self.hi):
            i = self._index(j)
            try:
                if ranged and not self._in_range(table.instant(i)):
                    continue
                cells = table.cells(i)
            except Exception:
                # A row that no longer verifies (NV rot since the boot scan): the transfer ends
                # with a protocol answer rather than a broken connection.
                raise errors.TemporaryFailure("profile row unreadable")
            if cols is None:
                yield axdr.STRUCTURE, cells
            else:
                yield axdr.STRUCTURE, [cells[k] for k in cols]


def _empty():
    return dtype.LazyArray(0, iter(()))


def select(table, objects, selector, params):
    """The LazyArray of the rows of `table` (see module) that selective access `selector` with
    `params` picks; `objects` are the capture objects of the profile."""
    n = len(table)
    if selector is None:
        sel = _Selection(table, 0, n, None, None, None)
    elif selector == RANGE:
        v = _structure(params, 4, "range descriptor")
        restricting = _definition(v[0])
        if restricting[0] != _CLOCK_CLASS or _column(objects, restricting) != getattr(
                table, "clock_column", 0):
            raise errors.OtherReason("the restricting object must be the clock column")
        t0 = _bound(v[1], "from_value", table.rule)
        t1 = _bound(v[2], "to_value", table.rule)
        wanted = _typed(v[3], axdr.ARRAY, "selected_values")
        cols = [_column(objects, _definition(c)) for c in wanted] if wanted else None
        if t0 is not None and t1 is not None and t1 < t0:
            return _empty()
        sel = _Selection(table, 0, n, cols, t0, t1)
    elif selector == ENTRY:
        v = _structure(params, 4, "entry descriptor")
        e0 = _typed(v[0], axdr.DOUBLE_LONG_UNSIGNED, "from_entry")
        e1 = _typed(v[1], axdr.DOUBLE_LONG_UNSIGNED, "to_entry")
        c0 = _typed(v[2], axdr.LONG_UNSIGNED, "from_selected_value")
        c1 = _typed(v[3], axdr.LONG_UNSIGNED, "to_selected_value")
        ncols = len(objects)
        if e0 == 0 or c0 == 0:
            raise errors.OtherReason("entries and values count from 1")
        if e1 and e1 < e0:
            raise errors.OtherReason("entry range ends before it begins")
        if c0 > ncols or (c1 and c1 < c0):
            raise errors.OtherReason("no such selected values")
        if c1 == 0 or c1 > ncols:
            c1 = ncols
        hi = n if e1 == 0 or e1 > n else e1
        if e0 > hi:
            return _empty()
        cols = None if c0 == 1 and c1 == ncols else list(range(c0 - 1, c1))
        sel = _Selection(table, e0 - 1, hi, cols, None, None)
    else:
        raise errors.ScopeViolated("selective access not supported")
    return dtype.LazyArray(sel.count(), sel.rows())


def _buffer(view, row, n, selector, params):
    source = view.read(ic.source_name(row, "buffer", False))
    try:
        if callable(source):
            rows = source(selector, params)
        else:
            rows = select(source, row[ic.ARG][0], selector, params)
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
            raise ValueError("profile argument: (capture objects, sort method, sort object)")
        try:
            for c in tuple(arg[0]) + ((arg[2],) if arg[2] is not None else ()):
                dtype.check(CAPTURE_OBJECT, capture_object(c))
        except (errors.AccessError, TypeError, IndexError):
            raise ValueError("bad capture object definition")
