"""Interface-class machinery: attribute and method tables, generic GET/SET/ACTION through the
bindings of an object row.

An object is a row tuple (logical name, interface class, binding, argument, access profile):
the binding is the name of its data source (or None), the argument a class-specific constant
shared between rows (a scaler/unit, a value type, capture objects ...). An interface class is a
Python class that is never instantiated: its tables describe every object of the class.

ATTRS: one entry per attribute id from 1: (name, type, flags, getter, setter).
  type: a `dtype` description; flags: W, MAIN, SECRET, ROWTYPE, SCALED, SOURCED below;
  getter f(view, row, attr_id, selector, params) -> Data or LazyArray, None: read the source;
  setter f(view, row, attr_id, data) with data already type-checked, None: write the source.
METHODS: one entry per method id from 1: (name, parameter type, handler);
  handler f(view, row, method_id, data) -> Data or None, None: call the source.

Source names: the binding itself for MAIN attributes, else binding + "." + attribute name (and
binding + "." + method name for methods). See `cosem.sources` for the contract of the sources.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from dlms import axdr
from cosem import access, dtype, errors

# row fields
LN = const(0)
IC = const(1)
BIND = const(2)
ARG = const(3)
ACC = const(4)

# attribute flags
W = const(1)          # SET can reach the attribute (the access rights decide who may)
MAIN = const(2)       # the source is the binding itself
SECRET = const(4)     # never readable, whatever the access rights
ROWTYPE = const(8)    # the type is the row's argument
SCALED = const(16)    # a register value: type and scaling from the row's Scale argument
SOURCED = const(32)   # a custom getter that reads the source <binding>.<attribute>

# Scale flags (Scale = (tag, scaler, unit, divisor, flags)): see cosem.register.
ROUND = const(1)      # divide to nearest (else truncate toward zero)
OPTIONAL = const(2)   # a source that does not exist reads 0

LOGICAL_NAME = (axdr.OCTET_STRING, 6, 6)


def _logical_name(view, row, n, selector, params):
    return axdr.OCTET_STRING, row[LN]


def wrap(t, value):
    """dtype.from_source(t, value): the Data of a source's value. The most frequent simple
    values (bytes for an octet-/visible-string, an int for an integer tag, with or without a
    range) are checked here without encoding them once more; the rest goes to dtype."""
    if type(t) is int:
        tag, lo, hi = t, None, None
    elif type(t) is tuple and len(t) == 3:
        tag, lo, hi = t
    else:
        return dtype.from_source(t, value)
    tv = type(value)
    if tv is bytes:
        if (tag == axdr.OCTET_STRING or tag == axdr.VISIBLE_STRING) and (
                lo is None or lo <= len(value) <= hi):
            return tag, value
    elif tv is int:
        spec = axdr.int_spec(tag)
        if spec is not None and spec[2] <= value <= spec[3] and (
                lo is None or lo <= value <= hi):
            return tag, value
    return dtype.from_source(t, value)


def _reads_source(e):
    return (e[3] is None and not e[2] & SECRET) or e[2] & SOURCED


def _writes_source(e):
    return e[4] is None and e[2] & W


def source_name(row, name, main):
    """The source name of an attribute or method `name` of a row."""
    return row[BIND] if main else row[BIND] + "." + name


def scale(value, div, rounding):
    """value / div as an int: to nearest (halves away from zero) or truncated toward zero."""
    if div == 1:
        return value
    neg = value < 0
    if neg:
        value = -value
    q = (value + div // 2) // div if rounding else value // div
    return -q if neg else q


class Interface:
    """Base of the interface classes: attribute 1 (logical_name) and the generic machinery."""

    CLASS_ID = 0
    VERSION = 0
    ATTRS = (("logical_name", LOGICAL_NAME, 0, _logical_name, None),)
    METHODS = ()
    # ((attribute id, (selector, ...)), ...): selective access each attribute supports
    SELECTORS = ()

    @classmethod
    def attr(cls, n):
        """Table entry of attribute n; ObjectUndefined if the class has none."""
        if not isinstance(n, int) or n < 1 or n > len(cls.ATTRS):
            raise errors.ObjectUndefined("no such attribute")
        return cls.ATTRS[n - 1]

    @classmethod
    def method(cls, n):
        """Table entry of method n; ObjectUndefined if the class has none."""
        if not isinstance(n, int) or n < 1 or n > len(cls.METHODS):
            raise errors.ObjectUndefined("no such method")
        return cls.METHODS[n - 1]

    @classmethod
    def secret(cls, n):
        """True if attribute n is never readable."""
        return bool(cls.ATTRS[n - 1][2] & SECRET)

    @classmethod
    def writable(cls, n):
        """True if SET may reach attribute n."""
        return bool(cls.ATTRS[n - 1][2] & W)

    @classmethod
    def selectors(cls, n):
        """Selectors attribute n supports (empty tuple: no selective access)."""
        for a, sel in cls.SELECTORS:
            if a == n:
                return sel
        return ()

    @classmethod
    def attr_type(cls, row, n):
        """The dtype description of attribute n of this row."""
        e = cls.ATTRS[n - 1]
        if e[2] & SCALED:
            return row[ARG][0]
        if e[2] & ROWTYPE:
            return row[ARG]
        return e[1]

    @classmethod
    def check_arg(cls, arg):
        """Raise ValueError if arg is not a valid row argument of this class."""
        if arg is not None:
            raise ValueError("class %d takes no row argument" % cls.CLASS_ID)

    @classmethod
    def check_row(cls, bind, arg):
        """Raise ValueError if a row of this class lacks what its tables need (the argument, a
        binding for sourced attributes and delegated methods)."""
        cls.check_arg(arg)
        if bind is not None:
            return
        if any(_reads_source(e) or _writes_source(e) for e in cls.ATTRS) or any(
                m[2] is None for m in cls.METHODS):
            raise ValueError("class %d needs a binding" % cls.CLASS_ID)

    @classmethod
    def source_names(cls, row):
        """The source names the row uses for what at least one client may do: reads, writes
        and method calls."""
        if row[BIND] is None:
            return
        rights = [r for r in row[ACC] if r is not None]
        for i in range(len(cls.ATTRS)):
            e = cls.ATTRS[i]
            if (_reads_source(e) and any(access.can_read(r[0][i]) for r in rights)) or (
                    _writes_source(e) and any(access.can_write(r[0][i]) for r in rights)):
                yield source_name(row, e[0], e[2] & MAIN)
        for i in range(len(cls.METHODS)):
            if cls.METHODS[i][2] is None and any(r[1][i] for r in rights):
                yield source_name(row, cls.METHODS[i][0], False)

    # -- generic behaviour ---------------------------------------------------------------------

    @classmethod
    def get(cls, view, row, n, selector, params):
        """Value of attribute n (access rights already checked)."""
        e = cls.ATTRS[n - 1]
        if e[3] is not None:
            return e[3](view, row, n, selector, params)
        flags = e[2]
        name = source_name(row, e[0], flags & MAIN)
        if flags & SCALED:
            sc = row[ARG]
            v = view.read(name, sc[4] & OPTIONAL)
            if not isinstance(v, int) or isinstance(v, bool):
                raise errors.TemporaryFailure("binding value is not an int")
            return wrap(sc[0], scale(v, sc[3], sc[4] & ROUND))
        return wrap(cls.attr_type(row, n), view.read(name))

    @classmethod
    def set(cls, view, row, n, data):
        """Write attribute n with a value already checked against its type."""
        e = cls.ATTRS[n - 1]
        if e[4] is not None:
            e[4](view, row, n, data)
            return
        name = source_name(row, e[0], e[2] & MAIN)
        if e[2] & SCALED:
            view.write(name, data[1] * row[ARG][3])
            return
        view.write(name, dtype.to_source(cls.attr_type(row, n), data))

    @classmethod
    def invoke(cls, view, row, m, data):
        """Run method m with parameters already checked; return Data or None."""
        e = cls.METHODS[m - 1]
        if e[2] is not None:
            return e[2](view, row, m, data)
        arg = None if data is None else dtype.to_source(e[1], data)
        ret = view.call(source_name(row, e[0], False), arg)
        if ret is not None:
            try:
                dtype.check(None, ret)
            except errors.AccessError:
                raise errors.TemporaryFailure("binding returned a bad value")
        return ret
