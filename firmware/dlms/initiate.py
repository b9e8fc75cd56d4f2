"""xDLMS InitiateRequest / InitiateResponse (DLMS UA Green Book), server side, sans-IO.

These A-XDR APDUs travel in the user-information of the AARQ and AARE (see ``acse``)::

    InitiateRequest  01 | dedicated-key 00 / 01 L key | response-allowed 00 / 01 bool
                        | proposed-QoS 00 / 01 int8 | proposed-dlms-version u8
                        | conformance 5F 1F 04 00 b0 b1 b2 | client-max-receive-pdu-size u16
    InitiateResponse 08 | negotiated-QoS 00 / 01 int8 | dlms-version 06
                        | conformance 5F 1F 04 00 b0 b1 b2 | server-max-receive-pdu-size u16
                        | vaa-name u16
    ConfirmedServiceError 0E 01 06 <initiate-error>

The conformance block is an int of 24 bits; bit 0 of the standard is the MSB, so the value of
bit n is ``1 << (23 - n)``. ``negotiate`` applies the server rules (version, PDU size, common
services) and raises ``InitiateError`` carrying the initiate-error code for the AARE reject.
"""
from collections import namedtuple

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

INITIATE_REQUEST = const(0x01)
INITIATE_RESPONSE = const(0x08)
CONFIRMED_SERVICE_ERROR = const(0x0E)

DLMS_VERSION = const(6)
VAA_LN = const(0x0007)
VAA_SN = const(0xFA00)
# Smallest client max receive PDU size accepted (the gurux server uses the same floor).
MIN_PDU_SIZE = const(64)

# initiate-error (ServiceError CHOICE initiate [6])
OTHER = const(0)
DLMS_VERSION_TOO_LOW = const(1)
INCOMPATIBLE_CONFORMANCE = const(2)
PDU_SIZE_TOO_SHORT = const(3)
REFUSED_BY_VDE_HANDLER = const(4)

_CSE_INITIATE_ERROR = const(1)   # ConfirmedServiceError CHOICE initiateError
_SERVICE_INITIATE = const(6)     # ServiceError CHOICE initiate

# Conformance block values (value of bit n = 1 << (23 - n))
GENERAL_PROTECTION = const(0x400000)
GENERAL_BLOCK_TRANSFER = const(0x200000)
READ = const(0x100000)
WRITE = const(0x080000)
UNCONFIRMED_WRITE = const(0x040000)
DELTA_VALUE_ENCODING = const(0x020000)
ATTRIBUTE0_SUPPORTED_WITH_SET = const(0x008000)
PRIORITY_MGMT_SUPPORTED = const(0x004000)
ATTRIBUTE0_SUPPORTED_WITH_GET = const(0x002000)
BLOCK_TRANSFER_WITH_GET_OR_READ = const(0x001000)
BLOCK_TRANSFER_WITH_SET_OR_WRITE = const(0x000800)
BLOCK_TRANSFER_WITH_ACTION = const(0x000400)
MULTIPLE_REFERENCES = const(0x000200)
INFORMATION_REPORT = const(0x000100)
DATA_NOTIFICATION = const(0x000080)
ACCESS = const(0x000040)
PARAMETERIZED_ACCESS = const(0x000020)
GET = const(0x000010)
SET = const(0x000008)
SELECTIVE_ACCESS = const(0x000004)
EVENT_NOTIFICATION = const(0x000002)
ACTION = const(0x000001)
CONFORMANCE_MASK = const(0xFFFFFF)

# Names of conformance bits 0..23 in the standard's numbering.
CONFORMANCE_NAMES = (
    "reserved-zero", "general-protection", "general-block-transfer", "read", "write",
    "unconfirmed-write", "delta-value-encoding", "reserved-seven",
    "attribute0-supported-with-set", "priority-mgmt-supported", "attribute0-supported-with-get",
    "block-transfer-with-get-or-read", "block-transfer-with-set-or-write",
    "block-transfer-with-action", "multiple-references", "information-report",
    "data-notification", "access", "parameterized-access", "get", "set", "selective-access",
    "event-notification", "action",
)

_CONFORMANCE_HEAD = b"\x5f\x1f\x04\x00"   # [APPLICATION 31] IMPLICIT BIT STRING, 4 octets, 0 unused

InitiateRequest = namedtuple("InitiateRequest", (
    "dedicated_key",        # bytes or None
    "response_allowed",     # bool
    "quality_of_service",   # int -128..127 or None
    "dlms_version",         # int
    "conformance",          # int, 24 bits
    "max_pdu_size",         # client max receive PDU size, int
))

# What the server keeps of an accepted Initiate exchange.
Context = namedtuple("Context", (
    "conformance",          # negotiated block: proposed AND supported
    "client_max_pdu",       # largest APDU the server may send
    "server_max_pdu",       # largest APDU the server accepts (announced in the response)
))


class InitiateError(ValueError):
    """An InitiateRequest the server cannot accept; ``error`` is the initiate-error code."""

    def __init__(self, message, error=OTHER):
        super().__init__(message)
        self.error = error

    def response(self):
        """The ConfirmedServiceError APDU for the AARE user-information."""
        return confirmed_service_error(self.error)


def conformance_names(block):
    """Names of the bits set in a conformance block, in bit order."""
    return [name for n, name in enumerate(CONFORMANCE_NAMES) if block & (1 << (23 - n))]


def conformance_block(names):
    """The conformance block with the named bits set; ValueError for an unknown name."""
    block = 0
    for name in names:
        if name not in CONFORMANCE_NAMES:
            raise ValueError("unknown conformance bit")
        block |= 1 << (23 - CONFORMANCE_NAMES.index(name))
    return block


def decode_request(buf):
    """Decode a plain InitiateRequest (bytes-like); raise InitiateError(OTHER) if malformed."""
    end = len(buf)
    if end == 0 or buf[0] != INITIATE_REQUEST:
        raise InitiateError("not an InitiateRequest")
    pos = 1
    key = None
    if _flag(buf, pos, end):
        n = _octet(buf, pos + 1, end)
        if n >= 0x80:
            raise InitiateError("dedicated key too long")
        pos += 2
        if end - pos < n:
            raise InitiateError("truncated dedicated key")
        key = bytes(buf[pos:pos + n])
        pos += n
    else:
        pos += 1
    allowed = True
    if _flag(buf, pos, end):
        allowed = _octet(buf, pos + 1, end) != 0
        pos += 1
    pos += 1
    qos = None
    if _flag(buf, pos, end):
        qos = _octet(buf, pos + 1, end)
        qos = qos - 256 if qos & 0x80 else qos
        pos += 1
    pos += 1
    version = _octet(buf, pos, end)
    pos += 1
    if end - pos != 9:
        raise InitiateError("wrong InitiateRequest size")
    if bytes(buf[pos:pos + 4]) != _CONFORMANCE_HEAD:
        raise InitiateError("bad conformance encoding")
    conformance = buf[pos + 4] << 16 | buf[pos + 5] << 8 | buf[pos + 6]
    pdu = buf[pos + 7] << 8 | buf[pos + 8]
    return InitiateRequest(key, allowed, qos, version, conformance, pdu)


def _octet(buf, pos, end):
    if pos >= end:
        raise InitiateError("truncated InitiateRequest")
    return buf[pos]


def _flag(buf, pos, end):
    # Presence octet of an OPTIONAL or DEFAULT component: 00 absent, 01 present.
    v = _octet(buf, pos, end)
    if v > 1:
        raise InitiateError("bad presence flag")
    return v == 1


def negotiate(request, server_conformance, server_max_pdu, min_pdu=MIN_PDU_SIZE):
    """Apply the server rules to a decoded InitiateRequest; return a Context.

    The DLMS version must be at least 6 (the answer is always 6), the client must accept
    APDUs of min_pdu octets, and client and server must share at least one service.
    Raises InitiateError with dlms-version-too-low, pdu-size-too-short or
    incompatible-conformance.
    """
    if request.dlms_version < DLMS_VERSION:
        raise InitiateError("dlms version too low", DLMS_VERSION_TOO_LOW)
    if request.max_pdu_size < min_pdu:
        raise InitiateError("client pdu size too short", PDU_SIZE_TOO_SHORT)
    common = request.conformance & server_conformance & CONFORMANCE_MASK
    if not common:
        raise InitiateError("no common service", INCOMPATIBLE_CONFORMANCE)
    return Context(common, request.max_pdu_size, server_max_pdu)


def encode_response(conformance, server_max_pdu, vaa_name=VAA_LN, quality_of_service=None):
    """A plain InitiateResponse (always DLMS version 6) as bytes."""
    if not 0 <= conformance <= CONFORMANCE_MASK:
        raise ValueError("conformance out of range")
    if not 0 <= server_max_pdu <= 0xFFFF or not 0 <= vaa_name <= 0xFFFF:
        raise ValueError("pdu size or vaa name out of range")
    out = bytearray((INITIATE_RESPONSE,))
    if quality_of_service is None:
        out.append(0)
    else:
        if not -128 <= quality_of_service <= 127:
            raise ValueError("quality of service out of range")
        out.append(1)
        out.append(quality_of_service & 0xFF)
    out.append(DLMS_VERSION)
    out.extend(_CONFORMANCE_HEAD)
    out.extend(bytes((conformance >> 16, conformance >> 8 & 0xFF, conformance & 0xFF,
                      server_max_pdu >> 8, server_max_pdu & 0xFF,
                      vaa_name >> 8, vaa_name & 0xFF)))
    return bytes(out)


def confirmed_service_error(error):
    """ConfirmedServiceError initiateError(initiate: error) as bytes (0E 01 06 error)."""
    if not 0 <= error <= 0xFF:
        raise ValueError("initiate error out of range")
    return bytes((CONFIRMED_SERVICE_ERROR, _CSE_INITIATE_ERROR, _SERVICE_INITIATE, error))
