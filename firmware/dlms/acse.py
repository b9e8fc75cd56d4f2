"""ACSE APDUs of a DLMS/COSEM server (BER): AARQ and RLRQ in, AARE and RLRE out. Sans-IO.

``decode_aarq`` turns an AARQ into an ``Aarq`` namedtuple. Every field is checked; unknown
optional fields are skipped by their BER length. Errors:

* ``ApduTypeError``: the octets are not the expected APDU at all (first octet): no answer.
* ``BerError``: malformed BER (truncation, indefinite or oversized length, wrong inner tag,
  duplicate field, trailing octets); ``pos`` says where.
* ``AcseError`` (base of both): ``result``, ``source`` and ``diagnostic`` are what the AARE
  reject carries, e.g. application-context-name-not-supported for an unknown context OID.

The user-information is handed over as raw octets: a plain InitiateRequest (``initiate``) or,
flagged ``ciphered``, a glo-initiateRequest for the security layer to open. Policy (which
contexts, mechanisms, titles and challenge lengths a client may use) is the caller's: the
decoder only rejects what no server could accept. A mechanism-name is honoured even without
the authentication bit of sender-acse-requirements (some clients omit it); the bit without a
mechanism-name is authentication-mechanism-name-required.

``encode_aare`` and ``encode_rlre`` build answers with exact BER lengths (long form above 127).
Parsing is linear in the APDU size: no recursion, lengths bounded by the octets present.
"""
from collections import namedtuple

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

AARQ = const(0x60)
AARE = const(0x61)
RLRQ = const(0x62)
RLRE = const(0x63)

# application-context-name 2.16.756.5.8.1.x
CONTEXT_LN = const(1)
CONTEXT_SN = const(2)
CONTEXT_LN_CIPHERED = const(3)
CONTEXT_SN_CIPHERED = const(4)

# mechanism-name 2.16.756.5.8.2.m
MECHANISM_NONE = const(0)
MECHANISM_LLS = const(1)
MECHANISM_HLS = const(2)
MECHANISM_HLS_MD5 = const(3)
MECHANISM_HLS_SHA1 = const(4)
MECHANISM_HLS_GMAC = const(5)
MECHANISM_HLS_SHA256 = const(6)
MECHANISM_HLS_ECDSA = const(7)

# association-result
ACCEPTED = const(0)
REJECTED_PERMANENT = const(1)
REJECTED_TRANSIENT = const(2)

# result-source-diagnostic CHOICE
SOURCE_USER = const(1)
SOURCE_PROVIDER = const(2)

# acse-service-user diagnostics
NULL = const(0)
NO_REASON_GIVEN = const(1)
APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = const(2)
CALLING_AP_TITLE_NOT_RECOGNIZED = const(3)
CALLING_AP_INVOCATION_ID_NOT_RECOGNIZED = const(4)
CALLING_AE_QUALIFIER_NOT_RECOGNIZED = const(5)
CALLING_AE_INVOCATION_ID_NOT_RECOGNIZED = const(6)
CALLED_AP_TITLE_NOT_RECOGNIZED = const(7)
CALLED_AP_INVOCATION_ID_NOT_RECOGNIZED = const(8)
CALLED_AE_QUALIFIER_NOT_RECOGNIZED = const(9)
CALLED_AE_INVOCATION_ID_NOT_RECOGNIZED = const(10)
AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED = const(11)
AUTHENTICATION_MECHANISM_NAME_REQUIRED = const(12)
AUTHENTICATION_FAILURE = const(13)
AUTHENTICATION_REQUIRED = const(14)
# acse-service-provider diagnostics (NULL and NO_REASON_GIVEN as above)
NO_COMMON_ACSE_VERSION = const(2)

# release-request-reason and release-response-reason
RELEASE_NORMAL = const(0)
RELEASE_URGENT = const(1)               # request
RELEASE_NOT_FINISHED = const(1)         # response
RELEASE_USER_DEFINED = const(30)

GLO_INITIATE_REQUEST = const(0x21)

# Fields of the AARQ by context-specific tag number, with the only identifier octet accepted.
_F_PROTOCOL_VERSION = const(0)          # 80 BIT STRING
_F_CONTEXT = const(1)                   # A1 { 06 OID }
_F_CALLING_AP_TITLE = const(6)          # A6 { 04 octets }
_F_CALLING_AE_INVOCATION_ID = const(9)  # A9 { 02 INTEGER }
_F_ACSE_REQUIREMENTS = const(10)        # 8A BIT STRING
_F_MECHANISM = const(11)                # 8B OID contents
_F_AUTH_VALUE = const(12)               # AC { 80 GraphicString }
_F_USER_INFO = const(30)                # BE { 04 octets }
_F_REASON = const(0)                    # RLRQ 80 INTEGER

_AARQ_FORMS = {
    _F_PROTOCOL_VERSION: 0x80, _F_CONTEXT: 0xA1, _F_CALLING_AP_TITLE: 0xA6,
    _F_CALLING_AE_INVOCATION_ID: 0xA9, _F_ACSE_REQUIREMENTS: 0x8A, _F_MECHANISM: 0x8B,
    _F_AUTH_VALUE: 0xAC, _F_USER_INFO: 0xBE,
}
_RLRQ_FORMS = {_F_REASON: 0x80, _F_USER_INFO: 0xBE}

# Identifier octets of the AARE and RLRE fields
_T_CONTEXT = const(0xA1)
_T_RESULT = const(0xA2)
_T_DIAGNOSTIC = const(0xA3)             # contains A1 (service user) or A2 (service provider)
_T_RESPONDING_AP_TITLE = const(0xA4)
_T_RESPONDER_REQUIREMENTS = const(0x88)
_T_MECHANISM = const(0x89)
_T_RESPONDING_AUTH_VALUE = const(0xAA)
_T_USER_INFO = const(0xBE)
_T_RELEASE_REASON = const(0x80)

_CHOICE = const(0xA0)                   # constructed context-specific, or'ed with the number
_CONTEXT_CLASS = const(0x80)
_CLASS_MASK = const(0xC0)
_HIGH_TAG = const(0x1F)
_OCTET_STRING = const(0x04)
_INTEGER = const(0x02)
_OID = const(0x06)
_CHARSTRING = const(0x80)               # Authentication-value CHOICE charstring [0]
_MAX_TAG_OCTETS = const(3)              # of a high tag number; ACSE uses none
_MAX_INT_OCTETS = const(4)

_CONTEXT_PREFIX = b"\x60\x85\x74\x05\x08\x01"     # 2.16.756.5.8.1
_MECHANISM_PREFIX = b"\x60\x85\x74\x05\x08\x02"   # 2.16.756.5.8.2
_AUTH_REQUIREMENTS = b"\x07\x80"                 # BIT STRING: authentication (bit 0) only

Aarq = namedtuple("Aarq", (
    "context",                  # CONTEXT_LN .. CONTEXT_SN_CIPHERED
    "calling_ap_title",         # client system title (bytes) or None
    "calling_ae_invocation_id", # user id (int) or None
    "authentication",           # sender-acse-requirements: authentication bit
    "mechanism",                # MECHANISM_*; MECHANISM_NONE when mechanism-name is absent
    "auth_value",               # calling-authentication-value (password, CtoS) or None
    "user_info",                # the xDLMS APDU octets of the user-information
    "ciphered",                 # user_info is a glo-initiateRequest
))

Rlrq = namedtuple("Rlrq", ("reason", "user_info", "ciphered"))


class AcseError(ValueError):
    """An ACSE APDU the server rejects; the AARE answer carries result, source, diagnostic."""

    result = REJECTED_PERMANENT

    def __init__(self, message, diagnostic=NO_REASON_GIVEN, source=SOURCE_USER):
        super().__init__(message)
        self.diagnostic = diagnostic
        self.source = source


class ApduTypeError(AcseError):
    """The octets do not start with the expected APDU tag: the server does not answer."""


class BerError(AcseError):
    """Malformed BER at octet ``pos``: answered with no-reason-given."""

    def __init__(self, message, pos):
        super().__init__(message)
        self.pos = pos


# ---------------------------------------------------------------- BER reading

def _tlv(buf, pos, end):
    """Read one identifier and definite length at buf[pos]; return (tag, start, stop).

    tag is the identifier octet, or for a high tag number the first octet plus the number
    shifted left by 8 (a value no ACSE field uses, so such fields are only skipped).
    """
    if pos >= end:
        raise BerError("truncated tag", pos)
    tag = buf[pos]
    p = pos + 1
    if tag & _HIGH_TAG == _HIGH_TAG:
        number = 0
        while True:
            if p >= end:
                raise BerError("truncated tag", p)
            b = buf[p]
            p += 1
            number = number << 7 | b & 0x7F
            if not b & 0x80:
                break
            if p - pos > _MAX_TAG_OCTETS:
                raise BerError("tag number too long", pos)
        tag |= number << 8
    if p >= end:
        raise BerError("truncated length", p)
    n = buf[p]
    p += 1
    if n == 0x80:
        raise BerError("indefinite length", p - 1)
    if n > 0x80:
        size = n & 0x7F
        if size > 2:
            raise BerError("length too large", p - 1)
        if end - p < size:
            raise BerError("truncated length", p)
        n = buf[p]
        if size == 2:
            n = n << 8 | buf[p + 1]
        p += size
    if n > end - p:
        raise BerError("length beyond the data", p)
    return tag, p, p + n


def _outer(buf, tag):
    """Check the APDU tag and the outer length; return (start, stop) of the contents."""
    if len(buf) == 0 or buf[0] != tag:
        raise ApduTypeError("not the expected APDU")
    t, start, stop = _tlv(buf, 0, len(buf))
    if stop != len(buf):
        raise BerError("octets after the APDU", stop)
    return start, stop


def _inner(buf, start, stop, tag):
    """Contents of the single element `tag` that exactly fills buf[start:stop]."""
    t, a, b = _tlv(buf, start, stop)
    if t != tag:
        raise BerError("wrong inner tag", start)
    if b != stop:
        raise BerError("octets after the inner element", b)
    return a, b


def _fields(buf, start, stop, forms):
    """Yield (field number, start, stop) of the contents of each known field.

    Unknown tags are skipped; a known field number in the wrong form or seen twice is an error.
    """
    seen = bytearray(32)
    pos = start
    while pos < stop:
        tag, a, b = _tlv(buf, pos, stop)
        if tag & _CLASS_MASK == _CONTEXT_CLASS:
            number = tag & 0x1F     # 31 for a high tag number: never a known field
            form = forms.get(number)
            if form is not None:
                if tag != form:
                    raise BerError("wrong form of field", pos)
                if seen[number]:
                    raise BerError("duplicate field", pos)
                seen[number] = 1
                yield number, a, b
        pos = b


def _integer(buf, start, stop):
    n = stop - start
    if n == 0 or n > _MAX_INT_OCTETS:
        raise BerError("bad integer size", start)
    v = 0
    for k in range(start, stop):
        v = v << 8 | buf[k]
    if buf[start] & 0x80:
        v -= 1 << (8 * n)
    return v


def _bit0(buf, start, stop):
    """Bit 0 of a BER BIT STRING (the first octet counts the unused bits)."""
    if stop == start or buf[start] > 7 or (stop - start == 1 and buf[start]):
        raise BerError("bad bit string", start)
    return stop - start > 1 and buf[start + 1] & 0x80 != 0


def _dlms_oid(buf, start, stop, prefix):
    """Last arc of a 2.16.756.5.8.x.y identifier, or -1 if the OID is something else."""
    n = len(prefix)
    if stop - start != n + 1 or bytes(buf[start:start + n]) != prefix:
        return -1
    return buf[stop - 1]


# ---------------------------------------------------------------- AARQ and RLRQ

def decode_aarq(buf):
    """Decode an AARQ APDU (bytes-like) into an Aarq; raise AcseError (see the module doc)."""
    start, stop = _outer(buf, AARQ)
    context = None
    title = invocation = auth_value = user_info = None
    authentication = False
    mechanism = None
    for field, a, b in _fields(buf, start, stop, _AARQ_FORMS):
        if field == _F_PROTOCOL_VERSION:
            if not _bit0(buf, a, b):
                raise AcseError("protocol version 1 not offered", NO_COMMON_ACSE_VERSION,
                                SOURCE_PROVIDER)
        elif field == _F_CONTEXT:
            a, b = _inner(buf, a, b, _OID)
            context = _dlms_oid(buf, a, b, _CONTEXT_PREFIX)
            if not CONTEXT_LN <= context <= CONTEXT_SN_CIPHERED:
                raise AcseError("unknown application context",
                                APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
        elif field == _F_CALLING_AP_TITLE:
            a, b = _inner(buf, a, b, _OCTET_STRING)
            title = bytes(buf[a:b])
        elif field == _F_CALLING_AE_INVOCATION_ID:
            a, b = _inner(buf, a, b, _INTEGER)
            invocation = _integer(buf, a, b)
        elif field == _F_ACSE_REQUIREMENTS:
            authentication = _bit0(buf, a, b)
        elif field == _F_MECHANISM:
            mechanism = _dlms_oid(buf, a, b, _MECHANISM_PREFIX)
            if not MECHANISM_NONE <= mechanism <= MECHANISM_HLS_ECDSA:
                raise AcseError("unknown authentication mechanism",
                                AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
        elif field == _F_AUTH_VALUE:
            t, a2, b2 = _tlv(buf, a, b)
            if b2 != b:
                raise BerError("octets after the inner element", b2)
            if t != _CHARSTRING:
                raise AcseError("authentication value is not a charstring",
                                AUTHENTICATION_FAILURE)
            auth_value = bytes(buf[a2:b2])
        else:   # _F_USER_INFO
            a, b = _inner(buf, a, b, _OCTET_STRING)
            user_info = bytes(buf[a:b])
    if context is None:
        raise AcseError("application context name missing")
    if user_info is None:
        raise AcseError("user information missing")
    if mechanism is None:
        if authentication:
            raise AcseError("mechanism name missing", AUTHENTICATION_MECHANISM_NAME_REQUIRED)
        mechanism = MECHANISM_NONE
    return Aarq(context, title, invocation, authentication, mechanism, auth_value, user_info,
                _ciphered(user_info))


def _ciphered(user_info):
    return len(user_info) > 0 and user_info[0] == GLO_INITIATE_REQUEST


def decode_rlrq(buf):
    """Decode an RLRQ APDU into an Rlrq(reason or None, user_info or None, ciphered)."""
    start, stop = _outer(buf, RLRQ)
    reason = user_info = None
    for field, a, b in _fields(buf, start, stop, _RLRQ_FORMS):
        if field == _F_REASON:
            reason = _integer(buf, a, b)
        else:   # _F_USER_INFO
            a, b = _inner(buf, a, b, _OCTET_STRING)
            user_info = bytes(buf[a:b])
    return Rlrq(reason, user_info, user_info is not None and _ciphered(user_info))


# ---------------------------------------------------------------- AARE and RLRE

def _put(out, tag, content):
    """Append tag, definite length and content to the bytearray out."""
    n = len(content)
    if n > 0xFFFF:
        raise ValueError("BER element too long")
    out.append(tag)
    if n < 0x80:
        out.append(n)
    elif n < 0x100:
        out.append(0x81)
        out.append(n)
    else:
        out.append(0x82)
        out.append(n >> 8)
        out.append(n & 0xFF)
    out.extend(content)


def _wrapped(outer, inner, content):
    # An EXPLICIT field: the outer tag around one inner element.
    element = bytearray()
    _put(element, inner, content)
    out = bytearray()
    _put(out, outer, element)
    return out


def _octet(value, low, high, what):
    # One-octet contents of a small non-negative INTEGER.
    if not low <= value <= high:
        raise ValueError(what + " out of range")
    return bytes((value,))


def encode_aare(context, result, diagnostic, source=SOURCE_USER, ap_title=None,
                mechanism=None, auth_value=None, user_info=None):
    """Build an AARE as bytes.

    context: CONTEXT_*; result: ACCEPTED or REJECTED_*; diagnostic: value of the
    result-source-diagnostic, in the acse-service-user (source SOURCE_USER) or
    acse-service-provider (SOURCE_PROVIDER) list. ap_title: the server system title.
    mechanism: the MECHANISM_* to echo with responder-acse-requirements (HLS); auth_value: the
    server challenge StoC (needs mechanism). user_info: the xDLMS APDU octets
    (InitiateResponse, ConfirmedServiceError or an already ciphered glo-initiateResponse).
    """
    if not CONTEXT_LN <= context <= CONTEXT_SN_CIPHERED:
        raise ValueError("application context out of range")
    if source not in (SOURCE_USER, SOURCE_PROVIDER):
        raise ValueError("diagnostic source out of range")
    if auth_value is not None and mechanism is None:
        raise ValueError("authentication value needs a mechanism")
    out = bytearray()
    out.extend(_wrapped(_T_CONTEXT, _OID, _CONTEXT_PREFIX + bytes((context,))))
    out.extend(_wrapped(_T_RESULT, _INTEGER,
                        _octet(result, ACCEPTED, REJECTED_TRANSIENT, "result")))
    # result-source-diagnostic: CHOICE [1] service user or [2] service provider, EXPLICIT
    _put(out, _T_DIAGNOSTIC, _wrapped(_CHOICE | source, _INTEGER,
                                      _octet(diagnostic, 0, 0x7F, "diagnostic")))
    if ap_title is not None:
        out.extend(_wrapped(_T_RESPONDING_AP_TITLE, _OCTET_STRING, ap_title))
    if mechanism is not None:
        _put(out, _T_RESPONDER_REQUIREMENTS, _AUTH_REQUIREMENTS)
        _put(out, _T_MECHANISM, _MECHANISM_PREFIX + _octet(mechanism, 0, 0x7F, "mechanism"))
    if auth_value is not None:
        out.extend(_wrapped(_T_RESPONDING_AUTH_VALUE, _CHARSTRING, auth_value))
    if user_info is not None:
        out.extend(_wrapped(_T_USER_INFO, _OCTET_STRING, user_info))
    apdu = bytearray()
    _put(apdu, AARE, out)
    return bytes(apdu)


def encode_rlre(reason=RELEASE_NORMAL, user_info=None):
    """Build an RLRE as bytes; reason None leaves it out, user_info is an xDLMS APDU."""
    out = bytearray()
    if reason is not None:
        _put(out, _T_RELEASE_REASON, _octet(reason, 0, 0x7F, "release reason"))
    if user_info is not None:
        out.extend(_wrapped(_T_USER_INFO, _OCTET_STRING, user_info))
    apdu = bytearray()
    _put(apdu, RLRE, out)
    return bytes(apdu)
