"""xDLMS LN service APDUs, server side (DLMS UA Green Book): GET / SET / ACTION, ExceptionResponse.

Sans-IO codec. ``decode_request(apdu)`` turns a plain (deciphered) request into one small
namedtuple; every malformed, truncated, oversized or unsupported request raises an exception that
carries the answer the server must send:

* ``ExceptionResponseError``: no usable header (unknown tag or choice, truncated header, too long);
  ``.response()`` is the ExceptionResponse ``D8 state-error service-error``.
* ``RequestError``: the header (tag, choice, invoke-id-and-priority) is valid but the body is not;
  ``.response()`` is the normal-form Get/Set/Action-Response with ``.result`` (type-unmatched for a
  `Data` value present but not decodable, other-reason for the rest: truncation, trailing bytes,
  bad flags or counts) and the request's invoke-id echoed.

Responses are written by ``put`` functions ``f(buf, pos, ...) -> end`` into a caller's bytearray or
memoryview (``buf`` None only measures, as in ``axdr``); a full buffer raises
``axdr.EncodeError("buffer full")``. ``build(f, ...)`` returns bytes. A Get-Data-Result argument is
an int (a Data-Access-Result), a Data tuple, or bytes holding an already encoded `Data`.

Selective access stays raw in the decoded request (selector, parameters as a Data tuple);
``range_descriptor``, ``entry_descriptor`` and ``capture_object`` interpret and validate it.
"""
import struct
from collections import namedtuple

from dlms import axdr

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# APDU tags (plain, LN referencing)
DATA_NOTIFICATION = const(0x0F)
GET_REQUEST = const(0xC0)
SET_REQUEST = const(0xC1)
ACTION_REQUEST = const(0xC3)
GET_RESPONSE = const(0xC4)
SET_RESPONSE = const(0xC5)
ACTION_RESPONSE = const(0xC7)
EXCEPTION_RESPONSE = const(0xD8)

# CHOICE numbers inside each service
_NORMAL = const(1)
_GET_NEXT = const(2)
_GET_WITH_LIST = const(3)
_GET_RSP_BLOCK = const(2)
_GET_RSP_LIST = const(3)
_SET_FIRST_BLOCK = const(2)
_SET_BLOCK = const(3)
_SET_WITH_LIST = const(4)
_SET_LIST_FIRST_BLOCK = const(5)
_SET_RSP_BLOCK = const(2)
_SET_RSP_LAST_BLOCK = const(3)
_SET_RSP_LAST_BLOCK_LIST = const(4)
_SET_RSP_LIST = const(5)
_ACTION_WITH_PBLOCK = const(6)

# Data-Access-Result
SUCCESS = const(0)
HARDWARE_FAULT = const(1)
TEMPORARY_FAILURE = const(2)
READ_WRITE_DENIED = const(3)
OBJECT_UNDEFINED = const(4)
OBJECT_CLASS_INCONSISTENT = const(9)
OBJECT_UNAVAILABLE = const(11)
TYPE_UNMATCHED = const(12)
SCOPE_OF_ACCESS_VIOLATED = const(13)
DATA_BLOCK_UNAVAILABLE = const(14)
LONG_GET_ABORTED = const(15)
NO_LONG_GET_IN_PROGRESS = const(16)
LONG_SET_ABORTED = const(17)
NO_LONG_SET_IN_PROGRESS = const(18)
DATA_BLOCK_NUMBER_INVALID = const(19)
OTHER_REASON = const(250)
# Action-Result: the Data-Access-Result codes 0..14 and 250, plus these two (no 17..19)
LONG_ACTION_ABORTED = const(15)
NO_LONG_ACTION_IN_PROGRESS = const(16)

# ExceptionResponse state-error and service-error
STATE_SERVICE_NOT_ALLOWED = const(1)
STATE_SERVICE_UNKNOWN = const(2)
SERVICE_OPERATION_NOT_POSSIBLE = const(1)
SERVICE_NOT_SUPPORTED = const(2)
SERVICE_OTHER_REASON = const(3)
SERVICE_PDU_TOO_LONG = const(4)
SERVICE_DECIPHERING_ERROR = const(5)
SERVICE_INVOCATION_COUNTER_ERROR = const(6)

# Invoke-Id-And-Priority bits
IIP_INVOKE_ID_MASK = const(0x0F)
IIP_CONFIRMED = const(0x40)
IIP_HIGH_PRIORITY = const(0x80)

# Selective access selectors of profile generic buffers
RANGE_DESCRIPTOR = const(1)
ENTRY_DESCRIPTOR = const(2)

_DESC_SIZE = const(9)      # class-id u16, instance-id 6 octets, attribute/method id i8
_GET_PLAIN_SIZE = const(13)  # C0 01 iip, descriptor, no selective access

# ---------------------------------------------------------------- decoded requests

Attribute = namedtuple("Attribute", ("class_id", "instance", "attribute_id", "selector",
                                     "parameters"))
Method = namedtuple("Method", ("class_id", "instance", "method_id"))
GetNormal = namedtuple("GetNormal", ("iip", "attribute"))
GetNext = namedtuple("GetNext", ("iip", "block_number"))
GetWithList = namedtuple("GetWithList", ("iip", "attributes"))
SetNormal = namedtuple("SetNormal", ("iip", "attribute", "value"))
SetWithList = namedtuple("SetWithList", ("iip", "attributes", "values"))
# with_list False: Set-Request-With-First-Datablock (one attribute); True: -With-List-And-First-
# Datablock. raw: memoryview into the request APDU (valid while the APDU buffer is).
SetFirstBlock = namedtuple("SetFirstBlock", ("iip", "attributes", "with_list", "last",
                                             "block_number", "raw"))
SetBlock = namedtuple("SetBlock", ("iip", "last", "block_number", "raw"))
ActionNormal = namedtuple("ActionNormal", ("iip", "method", "parameters"))


class XdlmsError(ValueError):
    """A request the server cannot serve as asked; subclasses say what to answer."""


class ExceptionResponseError(XdlmsError):
    """Answer with an ExceptionResponse (state_error, service_error[, invocation_counter])."""

    def __init__(self, message, state_error, service_error, invocation_counter=None):
        super().__init__(message)
        self.state_error = state_error
        self.service_error = service_error
        self.invocation_counter = invocation_counter

    def response(self):
        """The ExceptionResponse APDU."""
        return build(exception_response, self.state_error, self.service_error,
                     self.invocation_counter)


class AccessError(XdlmsError):
    """Answer with a result code: a Data-Access-Result (GET, SET) or Action-Result (ACTION)."""

    result = OTHER_REASON

    def __init__(self, message, result=None):
        super().__init__(message)
        if result is not None:
            self.result = result


class RequestError(AccessError):
    """A request with a valid header and a bad body: answered in the service's normal form."""

    def __init__(self, message, service, iip, result):
        super().__init__(message, result)
        self.service = service
        self.iip = iip

    def response(self):
        """Get/Set/Action-Response-Normal with the result code and the request's iip."""
        if self.service == GET_REQUEST:
            return build(get_response_normal, self.iip, self.result)
        if self.service == SET_REQUEST:
            return build(set_response_normal, self.iip, self.result)
        return build(action_response_normal, self.iip, self.result)


def _unsupported(message):
    return ExceptionResponseError(message, STATE_SERVICE_UNKNOWN, SERVICE_NOT_SUPPORTED)


class _Body:
    """Reads the body of a request whose tag, choice and invoke-id-and-priority were valid."""

    def __init__(self, buf, service, iip):
        self.buf = buf
        self.service = service
        self.iip = iip
        self.pos = 3
        self.end = len(buf)

    def fail(self, message, result=OTHER_REASON):
        return RequestError(message, self.service, self.iip, result)

    def take(self, n):
        p = self.pos
        if self.end - p < n:
            raise self.fail("truncated")
        self.pos = p + n
        return p

    def u8(self):
        return self.buf[self.take(1)]

    def u32(self):
        return struct.unpack_from(">I", self.buf, self.take(4))[0]

    def length(self):
        try:
            n, self.pos = axdr.decode_length(self.buf, self.pos, self.end)
        except axdr.DecodeError:
            raise self.fail("bad length")
        return n

    def count(self, min_item_size):
        # Bound a SEQUENCE OF count by the bytes present before anything is allocated for it.
        n = self.length()
        if n * min_item_size > self.end - self.pos:
            raise self.fail("count exceeds data")
        return n

    def descriptor(self):
        p = self.take(_DESC_SIZE)
        class_id, member = struct.unpack_from(">H6xb", self.buf, p)
        return class_id, bytes(self.buf[p + 2:p + 8]), member

    def attribute(self):
        class_id, instance, attribute_id = self.descriptor()
        flag = self.u8()
        if flag == 0:
            return Attribute(class_id, instance, attribute_id, None, None)
        if flag != 1:
            raise self.fail("bad access-selection flag")
        selector = self.u8()
        return Attribute(class_id, instance, attribute_id, selector, self.data())

    def attributes(self):
        # Smallest Cosem-Attribute-Descriptor-With-Selection: 9 octets + absent selection flag.
        return [self.attribute() for _ in range(self.count(_DESC_SIZE + 1))]

    def data(self):
        if self.pos >= self.end:
            raise self.fail("truncated")
        try:
            value, self.pos = axdr.decode(self.buf, self.pos, self.end)
        except axdr.DecodeError:
            raise self.fail("bad Data", TYPE_UNMATCHED)
        return value

    def datablock(self):
        last = self.u8() != 0
        block_number = self.u32()
        n = self.length()
        p = self.take(n)
        return last, block_number, memoryview(self.buf)[p:p + n]

    def done(self, request):
        if self.pos != self.end:
            raise self.fail("trailing bytes")
        return request


def decode_request(apdu, max_size=0xFFFF):
    """Decode a plain GET / SET / ACTION request APDU into one of the request namedtuples.

    max_size: the server's negotiated max receive PDU size. Raises ExceptionResponseError or
    RequestError (see the module docstring); never anything else for any input bytes.
    """
    n = len(apdu)
    if n > max_size:
        raise ExceptionResponseError("pdu too long", STATE_SERVICE_NOT_ALLOWED,
                                     SERVICE_PDU_TOO_LONG)
    if n == 0:
        raise ExceptionResponseError("empty apdu", STATE_SERVICE_NOT_ALLOWED,
                                     SERVICE_OTHER_REASON)
    tag = apdu[0]
    if n == _GET_PLAIN_SIZE and tag == GET_REQUEST and apdu[1] == _NORMAL and apdu[12] == 0:
        # The most frequent request, Get-Request-Normal without selective access, decoded
        # without the generic body reader (same result).
        a = apdu[11]
        return GetNormal(apdu[2], Attribute((apdu[3] << 8) | apdu[4], bytes(apdu[5:11]),
                                            a - 256 if a > 127 else a, None, None))
    if tag != GET_REQUEST and tag != SET_REQUEST and tag != ACTION_REQUEST:
        raise _unsupported("unsupported apdu")
    if n < 3:
        raise ExceptionResponseError("truncated header", STATE_SERVICE_NOT_ALLOWED,
                                     SERVICE_OTHER_REASON)
    choice = apdu[1]
    b = _Body(apdu, tag, apdu[2])
    if tag == GET_REQUEST:
        return _get(b, choice)
    if tag == SET_REQUEST:
        return _set(b, choice)
    return _action(b, choice)


def _get(b, choice):
    if choice == _NORMAL:
        return b.done(GetNormal(b.iip, b.attribute()))
    if choice == _GET_NEXT:
        return b.done(GetNext(b.iip, b.u32()))
    if choice == _GET_WITH_LIST:
        return b.done(GetWithList(b.iip, b.attributes()))
    raise _unsupported("unknown get-request choice")


def _set(b, choice):
    if choice == _NORMAL:
        attribute = b.attribute()
        return b.done(SetNormal(b.iip, attribute, b.data()))
    if choice == _SET_FIRST_BLOCK or choice == _SET_LIST_FIRST_BLOCK:
        with_list = choice == _SET_LIST_FIRST_BLOCK
        attributes = b.attributes() if with_list else [b.attribute()]
        last, block_number, raw = b.datablock()
        return b.done(SetFirstBlock(b.iip, attributes, with_list, last, block_number, raw))
    if choice == _SET_BLOCK:
        last, block_number, raw = b.datablock()
        return b.done(SetBlock(b.iip, last, block_number, raw))
    if choice == _SET_WITH_LIST:
        attributes = b.attributes()
        # Every Data has at least its tag octet.
        if b.count(1) != len(attributes):
            raise b.fail("value count differs from attribute count")
        values = [b.data() for _ in attributes]
        return b.done(SetWithList(b.iip, attributes, values))
    raise _unsupported("unknown set-request choice")


def _action(b, choice):
    if choice == _NORMAL:
        class_id, instance, method_id = b.descriptor()
        flag = b.u8()
        if flag == 0:
            parameters = None
        elif flag == 1:
            parameters = b.data()
        else:
            raise b.fail("bad parameters flag")
        return b.done(ActionNormal(b.iip, Method(class_id, instance, method_id), parameters))
    if 1 < choice <= _ACTION_WITH_PBLOCK:
        raise _unsupported("action with list or pblock not supported")
    raise _unsupported("unknown action-request choice")


# ---------------------------------------------------------------- response encoders

def build(put, *args):
    """Run a put function on an exactly sized buffer; return the APDU as bytes."""
    buf = bytearray(put(None, 0, *args))
    put(buf, 0, *args)
    return bytes(buf)


def _room(buf, pos, n):
    """True when buf (not None) has n octets free at pos; raise EncodeError when it has not."""
    if buf is None:
        return False
    if pos + n > len(buf):
        raise axdr.EncodeError("buffer full")
    return True


def _check_byte(v, name):
    if not isinstance(v, int) or v < 0 or v > 0xFF:
        raise axdr.EncodeError(name + " out of range")
    return v


def _head(buf, pos, tag, choice, iip):
    _check_byte(iip, "invoke-id-and-priority")
    if _room(buf, pos, 3):
        buf[pos] = tag
        buf[pos + 1] = choice
        buf[pos + 2] = iip
    return pos + 3


def _u8(buf, pos, v, name):
    _check_byte(v, name)
    if _room(buf, pos, 1):
        buf[pos] = v
    return pos + 1


def _u32(buf, pos, v):
    if not isinstance(v, int) or v < 0 or v > 0xFFFFFFFF:
        raise axdr.EncodeError("block number out of range")
    if _room(buf, pos, 4):
        struct.pack_into(">I", buf, pos, v)
    return pos + 4


def _raw(buf, pos, b):
    n = len(b)
    if _room(buf, pos, n):
        buf[pos:pos + n] = b
    return pos + n


def get_data_result(buf, pos, result):
    """Get-Data-Result: int -> 01 DAR; Data tuple -> 00 Data; bytes-like -> 00 + encoded Data."""
    if isinstance(result, int):
        return _u8(buf, _u8(buf, pos, 1, "choice"), result, "data-access-result")
    pos = _u8(buf, pos, 0, "choice")
    if isinstance(result, tuple):
        return axdr.encode_into(buf, pos, result)
    if isinstance(result, (bytes, bytearray, memoryview)):
        if len(result) == 0:
            raise axdr.EncodeError("empty encoded Data")
        return _raw(buf, pos, result)
    raise axdr.EncodeError("Get-Data-Result must be int, Data tuple or bytes")


def _results(buf, pos, results, put_one):
    pos = axdr.encode_length(buf, pos, len(results))
    for r in results:
        pos = put_one(buf, pos, r)
    return pos


def _dar(buf, pos, dar):
    return _u8(buf, pos, dar, "data-access-result")


def get_response_normal(buf, pos, iip, result):
    """Get-Response-Normal `C4 01 iip` + Get-Data-Result (Data or Data-Access-Result)."""
    return get_data_result(buf, _head(buf, pos, GET_RESPONSE, _NORMAL, iip), result)


def get_response_header(buf, pos, iip, with_list=False):
    """Start of a Get-Response-Normal carrying Data (`C4 01 iip 00`) or of a
    Get-Response-With-List (`C4 03 iip`, the result count follows); return the next position."""
    if with_list:
        return _head(buf, pos, GET_RESPONSE, _GET_RSP_LIST, iip)
    return _u8(buf, _head(buf, pos, GET_RESPONSE, _NORMAL, iip), 0, "choice")


def get_block_header(buf, pos, iip, last, block_number, n):
    """Header of a Get-Response-With-Datablock carrying n raw octets; return where they go."""
    pos = _head(buf, pos, GET_RESPONSE, _GET_RSP_BLOCK, iip)
    pos = _u8(buf, pos, 1 if last else 0, "last-block")
    pos = _u8(buf, _u32(buf, pos, block_number), 0, "choice")
    return axdr.encode_length(buf, pos, n)


def get_block_header_size(n):
    """Octets of get_block_header for n raw octets."""
    return 9 + axdr.length_size(n)


def get_response_block(buf, pos, iip, last, block_number, raw):
    """Get-Response-With-Datablock: raw octets (a slice of the encoded Data) or an int DAR."""
    if isinstance(raw, int):
        pos = _head(buf, pos, GET_RESPONSE, _GET_RSP_BLOCK, iip)
        pos = _u8(buf, pos, 1 if last else 0, "last-block")
        return _dar(buf, _u8(buf, _u32(buf, pos, block_number), 1, "choice"), raw)
    return _raw(buf, get_block_header(buf, pos, iip, last, block_number, len(raw)), raw)


def get_response_with_list(buf, pos, iip, results):
    """Get-Response-With-List: one Get-Data-Result per requested attribute."""
    return _results(buf, _head(buf, pos, GET_RESPONSE, _GET_RSP_LIST, iip), results,
                    get_data_result)


def set_response_normal(buf, pos, iip, dar):
    """Set-Response-Normal `C5 01 iip DAR`."""
    return _dar(buf, _head(buf, pos, SET_RESPONSE, _NORMAL, iip), dar)


def set_response_datablock(buf, pos, iip, block_number):
    """Set-Response-Datablock: acknowledges block_number."""
    return _u32(buf, _head(buf, pos, SET_RESPONSE, _SET_RSP_BLOCK, iip), block_number)


def set_response_last_datablock(buf, pos, iip, dar, block_number):
    """Set-Response-Last-Datablock: result of the whole long SET and the last block number."""
    return _u32(buf, _dar(buf, _head(buf, pos, SET_RESPONSE, _SET_RSP_LAST_BLOCK, iip), dar),
                block_number)


def set_response_last_datablock_with_list(buf, pos, iip, dars, block_number):
    """Set-Response-Last-Datablock-With-List: one DAR per attribute and the last block number."""
    pos = _head(buf, pos, SET_RESPONSE, _SET_RSP_LAST_BLOCK_LIST, iip)
    return _u32(buf, _results(buf, pos, dars, _dar), block_number)


def set_response_with_list(buf, pos, iip, dars):
    """Set-Response-With-List: one DAR per attribute."""
    return _results(buf, _head(buf, pos, SET_RESPONSE, _SET_RSP_LIST, iip), dars, _dar)


def action_response_normal(buf, pos, iip, result, returned=None):
    """Action-Response-Normal: Action-Result, then the presence octet of the return parameters
    (always written: 00 when returned is None) and a Get-Data-Result."""
    pos = _u8(buf, _head(buf, pos, ACTION_RESPONSE, _NORMAL, iip), result, "action-result")
    if returned is None:
        return _u8(buf, pos, 0, "presence")
    return get_data_result(buf, _u8(buf, pos, 1, "presence"), returned)


def exception_response(buf, pos, state_error, service_error, invocation_counter=None):
    """ExceptionResponse `D8 state service`; invocation-counter-error appends the u32 counter."""
    pos = _u8(buf, _u8(buf, pos, EXCEPTION_RESPONSE, "tag"), state_error, "state-error")
    pos = _u8(buf, pos, service_error, "service-error")
    if service_error == SERVICE_INVOCATION_COUNTER_ERROR:
        if invocation_counter is None:
            raise axdr.EncodeError("invocation counter missing")
        pos = _u32(buf, pos, invocation_counter)
    return pos


def data_notification(buf, pos, long_invoke_id, date_time, data):
    """Data-Notification `0F long-iip date-time data`; date_time None or 12 octets."""
    pos = _u8(buf, pos, DATA_NOTIFICATION, "tag")
    pos = _u32(buf, pos, long_invoke_id)
    if date_time is None:
        pos = _u8(buf, pos, 0, "date-time length")
    else:
        if len(date_time) != 12:
            raise axdr.EncodeError("date-time must be 12 octets")
        pos = _raw(buf, _u8(buf, pos, 12, "date-time length"), date_time)
    if isinstance(data, tuple):
        return axdr.encode_into(buf, pos, data)
    return _raw(buf, pos, data)


# ---------------------------------------------------------------- selective access parameters

def _typed(data, tag, what):
    if not isinstance(data, tuple) or len(data) != 2 or data[0] != tag:
        raise AccessError(what + " has the wrong type", TYPE_UNMATCHED)
    return data[1]


def _structure(data, n, what):
    v = _typed(data, axdr.STRUCTURE, what)
    if len(v) != n:
        raise AccessError(what + " has the wrong element count", TYPE_UNMATCHED)
    return v


def capture_object(data):
    """(class_id, logical_name, attribute_index, data_index) of a capture_object_definition."""
    v = _structure(data, 4, "capture object")
    ln = _typed(v[1], axdr.OCTET_STRING, "logical name")
    if len(ln) != 6:
        raise AccessError("logical name is not 6 octets", TYPE_UNMATCHED)
    return (_typed(v[0], axdr.LONG_UNSIGNED, "class id"), bytes(ln),
            _typed(v[2], axdr.INTEGER, "attribute index"),
            _typed(v[3], axdr.LONG_UNSIGNED, "data index"))


def _date_time(data, what):
    if isinstance(data, tuple) and len(data) == 2 and data[0] == axdr.DATE_TIME:
        b = data[1]
    else:
        b = _typed(data, axdr.OCTET_STRING, what)
        if len(b) != 12:
            raise AccessError(what + " is not a 12-octet date-time", TYPE_UNMATCHED)
    try:
        fields = axdr.unpack_datetime(b)
    except axdr.DecodeError:
        raise AccessError(what + " is not a valid date-time", OTHER_REASON)
    return bytes(b), fields


def _instant(fields):
    """(deviation, sortable local time) of unpacked date-time fields, or None if incomparable."""
    year, month, day, _, hour, minute, second, hundredths, deviation, _ = fields
    for f in (year, month, day, hour, minute):
        if f is None:
            return None
    if month > 12 or day > 31:
        return None
    return deviation, (year, month, day, hour, minute, second or 0, hundredths or 0)


def range_descriptor(parameters):
    """Interpret selector 1 parameters: (restricting_object, from_value, to_value, selected_values).

    restricting_object and each selected value are capture_object() tuples (selected_values empty
    = all columns); from_value and to_value are 12-octet date-times (octet-string or date-time
    tag). Raises AccessError: type-unmatched for a wrong shape, other-reason for invalid
    date-times or a range that ends before it begins (checked when both ends are fully specified
    with the same deviation).
    """
    v = _structure(parameters, 4, "range descriptor")
    restricting = capture_object(v[0])
    from_value, from_fields = _date_time(v[1], "from_value")
    to_value, to_fields = _date_time(v[2], "to_value")
    selected = [capture_object(c) for c in _typed(v[3], axdr.ARRAY, "selected_values")]
    a = _instant(from_fields)
    b = _instant(to_fields)
    if a is not None and b is not None and a[0] == b[0] and a[1] > b[1]:
        raise AccessError("range ends before it begins", OTHER_REASON)
    return restricting, from_value, to_value, selected


def entry_descriptor(parameters):
    """Interpret selector 2 parameters: (from_entry, to_entry, from_selected_value,
    to_selected_value); entries and values count from 1, a 0 upper bound means the last one.

    Raises AccessError: type-unmatched for a wrong shape, other-reason for a zero lower bound or
    an upper bound below the lower one.
    """
    v = _structure(parameters, 4, "entry descriptor")
    from_entry = _typed(v[0], axdr.DOUBLE_LONG_UNSIGNED, "from_entry")
    to_entry = _typed(v[1], axdr.DOUBLE_LONG_UNSIGNED, "to_entry")
    from_value = _typed(v[2], axdr.LONG_UNSIGNED, "from_selected_value")
    to_value = _typed(v[3], axdr.LONG_UNSIGNED, "to_selected_value")
    if from_entry == 0 or from_value == 0:
        raise AccessError("entries and values count from 1", OTHER_REASON)
    if (to_entry and to_entry < from_entry) or (to_value and to_value < from_value):
        raise AccessError("range ends before it begins", OTHER_REASON)
    return from_entry, to_entry, from_value, to_value
