"""Attribute types: declarative descriptions of A-XDR values, checked before any SET reaches a
binding and on every value a binding produces; plus LazyArray for arrays built element by element.

A type description is one of:

* None: any Data value (a CHOICE such as the value of a Data object);
* a tag (``axdr.LONG_UNSIGNED`` ...): a simple value of that tag;
* ``(tag, lo, hi)``: a simple value with a range: the number for integer tags, the length for
  string tags;
* ``(axdr.ARRAY, element)``: an array of any length;
* ``(axdr.STRUCTURE, (element, ...))``: a structure of exactly these elements.

Simple types travel to and from bindings as plain Python values (int, bool, bytes, or the
``(bits, bytes)`` pair of a bit-string); the other types as Data tuples.
"""
from dlms import axdr
from cosem import errors

_STRINGS = (axdr.OCTET_STRING, axdr.VISIBLE_STRING, axdr.UTF8_STRING)


def tag_of(t):
    """The tag of a simple type description (None for ANY, arrays and structures)."""
    if t is None:
        return None
    tag = t if isinstance(t, int) else t[0]
    if tag == axdr.ARRAY or tag == axdr.STRUCTURE:
        return None
    return tag


def check(t, data):
    """Raise TypeUnmatched unless data is a valid Data value of type t, OtherReason if it is of
    the right type but outside the range of t."""
    if not isinstance(data, tuple) or len(data) != 2 or not isinstance(data[0], int):
        raise errors.TypeUnmatched("not a Data value")
    if t is None:
        try:
            axdr.encoded_size(data)
        except axdr.EncodeError:
            raise errors.TypeUnmatched("value cannot be encoded")
        return
    tag = t if isinstance(t, int) else t[0]
    if data[0] != tag:
        raise errors.TypeUnmatched("wrong type")
    v = data[1]
    if tag == axdr.ARRAY:
        if not isinstance(v, (list, tuple)):
            raise errors.TypeUnmatched("array value must be a list")
        for item in v:
            check(t[1], item)
        return
    if tag == axdr.STRUCTURE:
        if not isinstance(v, (list, tuple)) or len(v) != len(t[1]):
            raise errors.TypeUnmatched("structure of the wrong size")
        for i in range(len(v)):
            check(t[1][i], v[i])
        return
    try:
        axdr.encoded_size(data)
    except axdr.EncodeError:
        raise errors.TypeUnmatched("value does not fit its type")
    if not isinstance(t, int):
        n = len(v) if tag in _STRINGS else v
        if n < t[1] or n > t[2]:
            raise errors.OtherReason("value out of range")


def from_source(t, value):
    """The Data value of a binding's value of type t (simple types: wrap the plain value).
    Raises TemporaryFailure if the binding gave something that does not fit t."""
    tag = tag_of(t)
    data = (tag, value) if tag is not None else value
    try:
        check(t, data)
    except errors.AccessError:
        raise errors.TemporaryFailure("binding value does not fit its type")
    return data


def to_source(t, data):
    """The value a binding receives for a Data value already checked against t."""
    if tag_of(t) is not None:
        return data[1]
    return data


class LazyArray:
    """An A-XDR array whose `count` elements come one by one from an iterator of Data values
    (object_list, profile buffers): nothing proportional to the array is held in RAM. Single
    use: iterate it, or stream its encoding with `chunks()`, once."""

    def __init__(self, count, items):
        self.count = count
        self._items = items

    def __iter__(self):
        n = 0
        for item in self._items:
            n += 1
            if n > self.count:
                raise ValueError("more array elements than announced")
            yield item
        if n != self.count:
            raise ValueError("fewer array elements than announced")

    def chunks(self):
        """Yield the A-XDR encoding in pieces: the array header, then one piece per element."""
        head = bytearray(1 + axdr.length_size(self.count))
        head[0] = axdr.ARRAY
        axdr.encode_length(head, 1, self.count)
        yield bytes(head)
        for item in self:
            yield axdr.encode(item)

    def data(self):
        """The whole array as one Data tuple (small arrays and tests only)."""
        return axdr.ARRAY, list(self)
