"""A-XDR codec for the COSEM `Data` CHOICE (IEC 61334-6, DLMS UA Green Book), plus date-time helpers.

Value model: every Data value is a tagged tuple ``(tag, value)``:

=====================================  =======================================================
tag                                    value
=====================================  =======================================================
NULL, DONT_CARE                        None
ARRAY, STRUCTURE                       list of Data tuples
BOOLEAN                                bool (decode: any non-zero octet is True)
BIT_STRING                             (number_of_bits, bytes) packed MSB first
DOUBLE_LONG .. LONG64_UNSIGNED, ENUM   int (range checked on encode)
BCD                                    int 0..255, the raw octet
OCTET_STRING                           bytes
VISIBLE_STRING, UTF8_STRING            bytes (encode also takes str, sent as UTF-8)
FLOAT32, FLOAT64                       float (single-precision ports lose float64 precision)
DATE_TIME, DATE, TIME                  bytes of 12, 5, 4 octets (see pack_datetime ...)
COMPACT_ARRAY                          (type_description, list of Data tuples)
=====================================  =======================================================

A type description (compact-array) is an int tag for a simple type, ``(ARRAY, count, desc)`` or
``(STRUCTURE, [desc, ...])``. Delta types are not supported (DecodeError "unknown tag").

Decoding is bounded: nesting depth, a budget of decoded items, counts checked against the bytes
that remain before anything is allocated; any malformed input raises DecodeError(message, pos).
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

NULL = const(0)
ARRAY = const(1)
STRUCTURE = const(2)
BOOLEAN = const(3)
BIT_STRING = const(4)
DOUBLE_LONG = const(5)
DOUBLE_LONG_UNSIGNED = const(6)
OCTET_STRING = const(9)
VISIBLE_STRING = const(10)
UTF8_STRING = const(12)
BCD = const(13)
INTEGER = const(15)
LONG = const(16)
UNSIGNED = const(17)
LONG_UNSIGNED = const(18)
COMPACT_ARRAY = const(19)
LONG64 = const(20)
LONG64_UNSIGNED = const(21)
ENUM = const(22)
FLOAT32 = const(23)
FLOAT64 = const(24)
DATE_TIME = const(25)
DATE = const(26)
TIME = const(27)
DONT_CARE = const(255)

MAX_DEPTH = const(16)
MAX_ITEMS = const(2048)

# tag: (struct format, size, min, max)
_INTS = {
    DOUBLE_LONG: (">i", 4, -0x80000000, 0x7FFFFFFF),
    DOUBLE_LONG_UNSIGNED: (">I", 4, 0, 0xFFFFFFFF),
    BCD: (">B", 1, 0, 0xFF),
    INTEGER: (">b", 1, -0x80, 0x7F),
    LONG: (">h", 2, -0x8000, 0x7FFF),
    UNSIGNED: (">B", 1, 0, 0xFF),
    LONG_UNSIGNED: (">H", 2, 0, 0xFFFF),
    LONG64: (">q", 8, -0x8000000000000000, 0x7FFFFFFFFFFFFFFF),
    LONG64_UNSIGNED: (">Q", 8, 0, 0xFFFFFFFFFFFFFFFF),
    ENUM: (">B", 1, 0, 0xFF),
}
_FLOATS = {FLOAT32: (">f", 4), FLOAT64: (">d", 8)}
_OCTETS = {DATE_TIME: 12, DATE: 5, TIME: 4}
_STRINGS = (OCTET_STRING, VISIBLE_STRING, UTF8_STRING)


def int_spec(tag):
    """(struct format, size, min, max) of an integer tag, None for the other tags."""
    return _INTS.get(tag)


class DecodeError(ValueError):
    """Malformed, truncated or out-of-bounds A-XDR input: args = (message, position)."""


class EncodeError(ValueError):
    """A value that cannot be encoded (wrong shape, out of range) or a full output buffer."""


# ---------------------------------------------------------------- length field (A-XDR and BER)

def length_size(n):
    """Octets needed by the length field for n."""
    if n < 0x80:
        return 1
    if n < 0x100:
        return 2
    if n < 0x10000:
        return 3
    if n < 0x1000000:
        return 4
    return 5


def encode_length(buf, pos, n):
    """Write length n at buf[pos] (buf None: measure only); return the next position."""
    if n < 0 or n > 0xFFFFFFFF:
        raise EncodeError("length out of range")
    size = length_size(n)
    if buf is not None:
        _room(buf, pos, size)
        if size == 1:
            buf[pos] = n
        else:
            buf[pos] = 0x80 | (size - 1)
            for k in range(size - 1, 0, -1):
                buf[pos + k] = n & 0xFF
                n >>= 8
    return pos + size


def decode_length(buf, pos, end=None):
    """Read a length field at buf[pos]; return (n, next position). Raises DecodeError."""
    if end is None:
        end = len(buf)
    if pos >= end:
        raise DecodeError("truncated length", pos)
    first = buf[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    size = first & 0x7F
    if size == 0:
        raise DecodeError("indefinite length", pos - 1)
    if size > 4:
        raise DecodeError("length field too long", pos - 1)
    if end - pos < size:
        raise DecodeError("truncated length", pos)
    n = 0
    for k in range(size):
        n = (n << 8) | buf[pos + k]
    return n, pos + size


def _room(buf, pos, n):
    if pos + n > len(buf):
        raise EncodeError("buffer full")


# ---------------------------------------------------------------- encoder

def encoded_size(data):
    """Octets that encode(data) produces (validates data like encode)."""
    return _put(None, 0, data)


def encode(data):
    """Encode one Data tuple; return bytes."""
    buf = bytearray(_put(None, 0, data))
    _put(buf, 0, data)
    return bytes(buf)


def encode_into(buf, pos, data):
    """Encode one Data tuple into buf at pos (bytearray or memoryview; None only measures, as
    for the xdlms put functions); return the next position.

    Raises EncodeError("buffer full") when buf is too short (its tail is then undefined).
    """
    # Short strings and integers (most GET answers) are written here, without the generic
    # encoder's chain of calls; the result is the same.
    if type(data) is tuple and len(data) == 2:
        tag, v = data
        tv = type(v)
        if tv is bytes and (tag == OCTET_STRING or tag == VISIBLE_STRING) and len(v) < 0x80:
            n = len(v)
            end = pos + 2 + n
            if buf is None:
                return end
            if end > len(buf):
                raise EncodeError("buffer full")
            buf[pos] = tag
            buf[pos + 1] = n
            buf[pos + 2:end] = v
            return end
        if tv is int:
            spec = _INTS.get(tag)
            if spec is not None and spec[2] <= v <= spec[3]:
                end = pos + 1 + spec[1]
                if buf is None:
                    return end
                if end > len(buf):
                    raise EncodeError("buffer full")
                buf[pos] = tag
                struct.pack_into(spec[0], buf, pos + 1, v)
                return end
    return _put(buf, pos, data)


def _put(buf, pos, data):
    tag, value = _pair(data)
    if buf is not None:
        _room(buf, pos, 1)
        buf[pos] = tag
    return _put_body(buf, pos + 1, tag, value)


def _pair(data):
    if not isinstance(data, tuple) or len(data) != 2:
        raise EncodeError("Data must be a (tag, value) tuple")
    return data


def _as_bytes(v):
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return v
    raise EncodeError("string value must be bytes or str")


def _put_raw(buf, pos, b):
    n = len(b)
    if buf is not None:
        _room(buf, pos, n)
        buf[pos:pos + n] = b
    return pos + n


def _put_body(buf, pos, tag, v):
    """Encode the contents of a value without its tag (also the compact-array element form)."""
    spec = _INTS.get(tag)
    if spec is not None:
        fmt, size, lo, hi = spec
        if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
            raise EncodeError("integer out of range")
        if buf is not None:
            _room(buf, pos, size)
            struct.pack_into(fmt, buf, pos, v)
        return pos + size
    if tag in _STRINGS:
        b = _as_bytes(v)
        return _put_raw(buf, encode_length(buf, pos, len(b)), b)
    if tag == ARRAY or tag == STRUCTURE:
        if not isinstance(v, (list, tuple)):
            raise EncodeError("array/structure value must be a list")
        pos = encode_length(buf, pos, len(v))
        for item in v:
            pos = _put(buf, pos, item)
        return pos
    if tag == BOOLEAN:
        if v is not True and v is not False:
            raise EncodeError("boolean value must be bool")
        if buf is not None:
            _room(buf, pos, 1)
            buf[pos] = 1 if v else 0
        return pos + 1
    if tag == NULL or tag == DONT_CARE:
        if v is not None:
            raise EncodeError("null value must be None")
        return pos
    size = _OCTETS.get(tag)
    if size is not None:
        b = _as_bytes(v)
        if len(b) != size:
            raise EncodeError("date/time value has the wrong length")
        return _put_raw(buf, pos, b)
    fspec = _FLOATS.get(tag)
    if fspec is not None:
        if not isinstance(v, float):
            raise EncodeError("float value must be float")
        if buf is not None:
            _room(buf, pos, fspec[1])
            struct.pack_into(fspec[0], buf, pos, v)
        return pos + fspec[1]
    if tag == BIT_STRING:
        if not isinstance(v, tuple) or len(v) != 2:
            raise EncodeError("bit-string value must be (bits, bytes)")
        nbits, b = v[0], _as_bytes(v[1])
        if not isinstance(nbits, int) or nbits < 0 or len(b) != (nbits + 7) >> 3:
            raise EncodeError("bit-string length mismatch")
        return _put_raw(buf, encode_length(buf, pos, nbits), b)
    if tag == COMPACT_ARRAY:
        return _put_compact(buf, pos, v)
    raise EncodeError("unknown tag")


def _put_compact(buf, pos, v):
    if not isinstance(v, tuple) or len(v) != 2 or not isinstance(v[1], (list, tuple)):
        raise EncodeError("compact-array value must be (type_description, list)")
    desc, items = v
    pos = _put_desc(buf, pos, desc, 0)
    size = 0
    for item in items:
        size = _put_typed(None, size, desc, item)
    pos = encode_length(buf, pos, size)
    for item in items:
        pos = _put_typed(buf, pos, desc, item)
    return pos


def _put_desc(buf, pos, desc, depth):
    if depth > MAX_DEPTH:
        raise EncodeError("type description too deep")
    if isinstance(desc, int):
        if not _simple(desc):
            raise EncodeError("bad type description")
        if buf is not None:
            _room(buf, pos, 1)
            buf[pos] = desc
        return pos + 1
    if isinstance(desc, tuple) and len(desc) == 3 and desc[0] == ARRAY:
        if not isinstance(desc[1], int) or not 0 <= desc[1] <= 0xFFFF:
            raise EncodeError("bad array count in type description")
        if buf is not None:
            _room(buf, pos, 3)
            struct.pack_into(">BH", buf, pos, ARRAY, desc[1])
        return _put_desc(buf, pos + 3, desc[2], depth + 1)
    if isinstance(desc, tuple) and len(desc) == 2 and desc[0] == STRUCTURE:
        if buf is not None:
            _room(buf, pos, 1)
            buf[pos] = STRUCTURE
        pos = encode_length(buf, pos + 1, len(desc[1]))
        for d in desc[1]:
            pos = _put_desc(buf, pos, d, depth + 1)
        return pos
    raise EncodeError("bad type description")


def _simple(tag):
    return tag in _INTS or tag in _FLOATS or tag in _OCTETS or tag in _STRINGS or tag in (
        NULL, DONT_CARE, BOOLEAN, BIT_STRING)


def _put_typed(buf, pos, desc, data):
    """Encode a compact-array element: contents only, shaped by its type description."""
    tag, value = _pair(data)
    if isinstance(desc, int):
        if tag != desc:
            raise EncodeError("compact-array element does not match its type")
        return _put_body(buf, pos, tag, value)
    if tag != desc[0] or not isinstance(value, (list, tuple)):
        raise EncodeError("compact-array element does not match its type")
    if tag == ARRAY:
        if len(value) != desc[1]:
            raise EncodeError("compact-array element count mismatch")
        for item in value:
            pos = _put_typed(buf, pos, desc[2], item)
        return pos
    if len(value) != len(desc[1]):
        raise EncodeError("compact-array structure size mismatch")
    for i in range(len(value)):
        pos = _put_typed(buf, pos, desc[1][i], value[i])
    return pos


# ---------------------------------------------------------------- decoder

def decode(buf, pos=0, end=None, max_depth=MAX_DEPTH, max_items=MAX_ITEMS):
    """Decode one Data value from buf[pos:end]; return (data, next position)."""
    r = _Reader(buf, pos, end, max_depth, max_items)
    return r.data(0), r.pos


def decode_all(buf, max_depth=MAX_DEPTH, max_items=MAX_ITEMS):
    """Decode a buffer holding exactly one Data value; trailing octets raise DecodeError."""
    r = _Reader(buf, 0, None, max_depth, max_items)
    data = r.data(0)
    if r.pos != r.end:
        raise DecodeError("trailing bytes", r.pos)
    return data


class _Reader:
    def __init__(self, buf, pos, end, max_depth, max_items):
        if end is None:
            end = len(buf)
        if pos < 0 or end > len(buf) or pos > end:
            raise DecodeError("bad range", pos)
        self.buf = buf
        self.pos = pos
        self.end = end
        self.max_depth = max_depth
        self.items = max_items

    def take(self, n):
        p = self.pos
        if self.end - p < n:
            raise DecodeError("truncated", p)
        self.pos = p + n
        return p

    def length(self):
        n, self.pos = decode_length(self.buf, self.pos, self.end)
        return n

    def count_item(self):
        self.items -= 1
        if self.items < 0:
            raise DecodeError("too many items", self.pos)

    def data(self, depth):
        self.count_item()
        tag = self.buf[self.take(1)]
        return tag, self.body(tag, depth)

    def body(self, tag, depth):
        buf = self.buf
        spec = _INTS.get(tag)
        if spec is not None:
            return struct.unpack_from(spec[0], buf, self.take(spec[1]))[0]
        if tag in _STRINGS:
            n = self.length()
            p = self.take(n)
            return bytes(buf[p:p + n])
        if tag == ARRAY or tag == STRUCTURE:
            if depth >= self.max_depth:
                raise DecodeError("nesting too deep", self.pos)
            n = self.length()
            # Every element has a tag octet: a count beyond the remaining bytes cannot be valid.
            if n > self.end - self.pos:
                raise DecodeError("count exceeds data", self.pos)
            return [self.data(depth + 1) for _ in range(n)]
        if tag == BOOLEAN:
            return buf[self.take(1)] != 0
        if tag == NULL or tag == DONT_CARE:
            return None
        size = _OCTETS.get(tag)
        if size is not None:
            p = self.take(size)
            return bytes(buf[p:p + size])
        fspec = _FLOATS.get(tag)
        if fspec is not None:
            return struct.unpack_from(fspec[0], buf, self.take(fspec[1]))[0]
        if tag == BIT_STRING:
            nbits = self.length()
            n = (nbits + 7) >> 3
            p = self.take(n)
            return nbits, bytes(buf[p:p + n])
        if tag == COMPACT_ARRAY:
            return self.compact(depth)
        raise DecodeError("unknown tag", self.pos - 1)

    def compact(self, depth):
        if depth >= self.max_depth:
            raise DecodeError("nesting too deep", self.pos)
        desc = self.desc(depth + 1)
        n = self.length()
        start = self.take(n)
        stop = self.end
        self.pos, self.end = start, start + n
        items = []
        while self.pos < self.end:
            p = self.pos
            items.append(self.typed(desc, depth + 1))
            if self.pos == p:
                # A zero-size element type would repeat forever on non-empty contents.
                raise DecodeError("zero-size compact-array element", p)
        self.end = stop
        return desc, items

    def desc(self, depth):
        if depth > self.max_depth:
            raise DecodeError("type description too deep", self.pos)
        self.count_item()
        tag = self.buf[self.take(1)]
        if tag == ARRAY:
            p = self.take(2)
            count = (self.buf[p] << 8) | self.buf[p + 1]
            return ARRAY, count, self.desc(depth + 1)
        if tag == STRUCTURE:
            n = self.length()
            if n > self.end - self.pos:
                raise DecodeError("count exceeds data", self.pos)
            return STRUCTURE, [self.desc(depth + 1) for _ in range(n)]
        if not _simple(tag):
            raise DecodeError("bad type description", self.pos - 1)
        return tag

    def typed(self, desc, depth):
        self.count_item()
        if isinstance(desc, int):
            return desc, self.body(desc, depth)
        if desc[0] == ARRAY:
            return ARRAY, [self.typed(desc[2], depth + 1) for _ in range(desc[1])]
        return STRUCTURE, [self.typed(d, depth + 1) for d in desc[1]]


# ---------------------------------------------------------------- COSEM date and time

DST_END = const(0xFD)          # month
DST_BEGIN = const(0xFE)        # month
SECOND_LAST_DAY = const(0xFD)  # day of month
LAST_DAY = const(0xFE)         # day of month
STATUS_INVALID = const(0x01)
STATUS_DOUBTFUL = const(0x02)
STATUS_DIFFERENT_BASE = const(0x04)
STATUS_INVALID_STATUS = const(0x08)
STATUS_DST = const(0x80)

_DEVIATION_NONE = const(0x8000)


def _field(v, lo, hi, extra, name):
    """Octet for a field: None -> 0xFF (not specified), else lo..hi or one of `extra`."""
    if v is None:
        return 0xFF
    if not isinstance(v, int) or ((v < lo or v > hi) and v not in extra):
        raise EncodeError(name + " out of range")
    return v


def pack_date(year=None, month=None, day=None, weekday=None):
    """5-octet COSEM date; None marks a field as not specified. weekday: 1 = Monday .. 7."""
    y = 0xFFFF if year is None else _field(year, 0, 0xFFFE, (), "year")
    return bytes((y >> 8, y & 0xFF, _field(month, 1, 12, (DST_END, DST_BEGIN), "month"),
                  _field(day, 1, 31, (SECOND_LAST_DAY, LAST_DAY), "day"),
                  _field(weekday, 1, 7, (), "weekday")))


def pack_time(hour=None, minute=None, second=None, hundredths=None):
    """4-octet COSEM time; None marks a field as not specified."""
    return bytes((_field(hour, 0, 23, (), "hour"), _field(minute, 0, 59, (), "minute"),
                  _field(second, 0, 59, (), "second"),
                  _field(hundredths, 0, 99, (), "hundredths")))


def pack_datetime(year=None, month=None, day=None, weekday=None, hour=None, minute=None,
                  second=None, hundredths=None, deviation=None, status=None):
    """12-octet COSEM date-time.

    deviation: minutes, UTC = local + deviation (CET = -60), -720..720; None = not specified
    (0x8000). status: clock status octet (STATUS_* bits); None = not specified (0xFF).
    """
    if deviation is None:
        dev = _DEVIATION_NONE
    else:
        dev = _field(deviation, -720, 720, (), "deviation") & 0xFFFF
    st = _field(status, 0, 0xFE, (), "status")
    return (pack_date(year, month, day, weekday) + pack_time(hour, minute, second, hundredths)
            + bytes((dev >> 8, dev & 0xFF, st)))


def _get(buf, pos, lo, hi, extra, name):
    v = buf[pos]
    if v == 0xFF:
        return None
    if (v < lo or v > hi) and v not in extra:
        raise DecodeError(name + " out of range", pos)
    return v


def unpack_date(buf, pos=0):
    """(year, month, day, weekday) from 5 octets at buf[pos]; None where not specified."""
    if len(buf) - pos < 5:
        raise DecodeError("truncated date", pos)
    y = (buf[pos] << 8) | buf[pos + 1]
    return (None if y == 0xFFFF else y,
            _get(buf, pos + 2, 1, 12, (DST_END, DST_BEGIN), "month"),
            _get(buf, pos + 3, 1, 31, (SECOND_LAST_DAY, LAST_DAY), "day"),
            _get(buf, pos + 4, 1, 7, (), "weekday"))


def unpack_time(buf, pos=0):
    """(hour, minute, second, hundredths) from 4 octets at buf[pos]; None where not specified."""
    if len(buf) - pos < 4:
        raise DecodeError("truncated time", pos)
    return (_get(buf, pos, 0, 23, (), "hour"), _get(buf, pos + 1, 0, 59, (), "minute"),
            _get(buf, pos + 2, 0, 59, (), "second"), _get(buf, pos + 3, 0, 99, (), "hundredths"))


def unpack_datetime(buf, pos=0):
    """The 10 fields of pack_datetime from 12 octets at buf[pos]; None where not specified."""
    if len(buf) - pos < 12:
        raise DecodeError("truncated date-time", pos)
    dev = (buf[pos + 9] << 8) | buf[pos + 10]
    if dev == _DEVIATION_NONE:
        dev = None
    else:
        if dev & 0x8000:
            dev -= 0x10000
        if dev < -720 or dev > 720:
            raise DecodeError("deviation out of range", pos + 9)
    st = buf[pos + 11]
    return unpack_date(buf, pos) + unpack_time(buf, pos + 5) + (dev, None if st == 0xFF else st)
