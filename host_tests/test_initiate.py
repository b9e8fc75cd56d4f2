"""xDLMS InitiateRequest / InitiateResponse: spec vectors, negotiation rules, dlms-cosem
cross-checks, fuzzing, and the same decoder under micropython."""
import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dlms import initiate as ini
from dlms_cosem import enumerations as en
from dlms_cosem.protocol import xdlms
import mpy


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


# Plain InitiateRequests of protocol.md 4.3 (A1..A4 carry the same one; A5 after deciphering).
REQ_A1 = h("01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0")
REQ_A5 = h("01 01 10 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF 00 00 06 5F 1F 04 00 00 7E 1F"
           " 04 B0")
RSP_A1R = h("08 00 06 5F 1F 04 00 00 50 1F 01 F4 00 07")
RSP_RLRE = h("08 01 00 06 5F 1F 04 00 00 1E 1D 04 C8 00 07")

# protocol.md 4.2 table: (bit, value, name)
SPEC_BITS = [
    (0, 0x800000, "reserved-zero"), (1, 0x400000, "general-protection"),
    (2, 0x200000, "general-block-transfer"), (3, 0x100000, "read"), (4, 0x080000, "write"),
    (5, 0x040000, "unconfirmed-write"), (6, 0x020000, "delta-value-encoding"),
    (7, 0x010000, "reserved-seven"), (8, 0x008000, "attribute0-supported-with-set"),
    (9, 0x004000, "priority-mgmt-supported"), (10, 0x002000, "attribute0-supported-with-get"),
    (11, 0x001000, "block-transfer-with-get-or-read"),
    (12, 0x000800, "block-transfer-with-set-or-write"),
    (13, 0x000400, "block-transfer-with-action"), (14, 0x000200, "multiple-references"),
    (15, 0x000100, "information-report"), (16, 0x000080, "data-notification"),
    (17, 0x000040, "access"), (18, 0x000020, "parameterized-access"), (19, 0x000010, "get"),
    (20, 0x000008, "set"), (21, 0x000004, "selective-access"),
    (22, 0x000002, "event-notification"), (23, 0x000001, "action"),
]

# dlms-cosem Conformance attribute -> our constant
COSEM_BITS = {
    "general_protection": ini.GENERAL_PROTECTION,
    "general_block_transfer": ini.GENERAL_BLOCK_TRANSFER,
    "delta_value_encoding": ini.DELTA_VALUE_ENCODING,
    "attribute_0_supported_with_set": ini.ATTRIBUTE0_SUPPORTED_WITH_SET,
    "priority_management_supported": ini.PRIORITY_MGMT_SUPPORTED,
    "attribute_0_supported_with_get": ini.ATTRIBUTE0_SUPPORTED_WITH_GET,
    "block_transfer_with_get_or_read": ini.BLOCK_TRANSFER_WITH_GET_OR_READ,
    "block_transfer_with_set_or_write": ini.BLOCK_TRANSFER_WITH_SET_OR_WRITE,
    "block_transfer_with_action": ini.BLOCK_TRANSFER_WITH_ACTION,
    "multiple_references": ini.MULTIPLE_REFERENCES,
    "data_notification": ini.DATA_NOTIFICATION,
    "access": ini.ACCESS,
    "get": ini.GET,
    "set": ini.SET,
    "selective_access": ini.SELECTIVE_ACCESS,
    "event_notification": ini.EVENT_NOTIFICATION,
    "action": ini.ACTION,
}
COSEM_MASK = sum(COSEM_BITS.values())


def build_request(key=None, allowed=None, qos=None, version=6, conformance=0x007E1F, pdu=1200):
    """Independent test-side encoder of an InitiateRequest (None = component absent)."""
    out = bytearray([0x01])
    out += b"\x00" if key is None else bytes([1, len(key)]) + key
    out += b"\x00" if allowed is None else bytes([1, int(allowed)])
    out += b"\x00" if qos is None else bytes([1, qos & 0xFF])
    out += bytes([version]) + b"\x5f\x1f\x04\x00" + conformance.to_bytes(3, "big")
    return bytes(out + pdu.to_bytes(2, "big"))


def cosem_conformance(block):
    return xdlms.Conformance.from_bytes(b"\x00" + block.to_bytes(3, "big"))


# ---------------------------------------------------------------- conformance block

def test_conformance_table_matches_spec():
    assert len(ini.CONFORMANCE_NAMES) == 24
    for bit, value, name in SPEC_BITS:
        assert ini.CONFORMANCE_NAMES[bit] == name
        assert ini.conformance_block([name]) == value
        assert ini.conformance_names(value) == [name]
    assert ini.conformance_names(ini.CONFORMANCE_MASK) == [b[2] for b in SPEC_BITS]


def test_conformance_spec_examples():
    assert ini.conformance_names(0x007E1F) == [
        "priority-mgmt-supported", "attribute0-supported-with-get",
        "block-transfer-with-get-or-read", "block-transfer-with-set-or-write",
        "block-transfer-with-action", "multiple-references", "get", "set", "selective-access",
        "event-notification", "action"]
    assert ini.conformance_block(["priority-mgmt-supported", "block-transfer-with-get-or-read",
                                  "get", "set", "selective-access", "event-notification",
                                  "action"]) == 0x00501F


def test_conformance_block_rejects_unknown_name():
    with pytest.raises(ValueError):
        ini.conformance_block(["get", "teleport"])


def test_conformance_constants_match_dlms_cosem():
    for attr, value in COSEM_BITS.items():
        assert xdlms.Conformance(**{attr: True}).to_bytes() == b"\x00" + value.to_bytes(3, "big")
        assert getattr(cosem_conformance(value), attr)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, ini.CONFORMANCE_MASK))
def test_conformance_names_round_trip(block):
    assert ini.conformance_block(ini.conformance_names(block)) == block
    known = block & COSEM_MASK
    assert cosem_conformance(block).to_bytes()[1:] == known.to_bytes(3, "big")


# ---------------------------------------------------------------- InitiateRequest decode

def test_decode_spec_request_a1():
    r = ini.decode_request(REQ_A1)
    assert r == ini.InitiateRequest(None, True, None, 6, 0x007E1F, 1200)


def test_decode_spec_request_a5_with_dedicated_key():
    r = ini.decode_request(REQ_A5)
    assert r.dedicated_key == h("00112233445566778899AABBCCDDEEFF")
    assert (r.response_allowed, r.quality_of_service, r.dlms_version) == (True, None, 6)
    assert (r.conformance, r.max_pdu_size) == (0x007E1F, 1200)


@pytest.mark.parametrize("wire, allowed, qos", [
    ("01 00 01 00 00 06 5F 1F 04 00 00 00 10 00 40", False, None),
    ("01 00 01 01 01 05 06 5F 1F 04 00 00 00 10 00 40", True, 5),
    ("01 00 00 01 FB 06 5F 1F 04 00 00 00 10 00 40", True, -5),
    ("01 00 01 7F 00 06 5F 1F 04 00 00 00 10 00 40", True, None),
])
def test_decode_optional_components(wire, allowed, qos):
    r = ini.decode_request(h(wire))
    assert (r.response_allowed, r.quality_of_service) == (allowed, qos)
    assert (r.conformance, r.max_pdu_size) == (ini.GET, 64)


def test_decode_accepts_memoryview():
    assert ini.decode_request(memoryview(bytearray(REQ_A5))) == ini.decode_request(REQ_A5)


@settings(max_examples=150, deadline=None)
@given(key=st.none() | st.binary(max_size=32), allowed=st.none() | st.booleans(),
       qos=st.none() | st.integers(-128, 127), version=st.integers(0, 255),
       conformance=st.integers(0, 0xFFFFFF), pdu=st.integers(0, 0xFFFF))
def test_decode_every_field_combination(key, allowed, qos, version, conformance, pdu):
    r = ini.decode_request(build_request(key, allowed, qos, version, conformance, pdu))
    assert r == ini.InitiateRequest(key, True if allowed is None else allowed, qos, version,
                                    conformance, pdu)


@settings(max_examples=100, deadline=None)
@given(key=st.none() | st.binary(min_size=16, max_size=16),
       conformance=st.integers(0, ini.CONFORMANCE_MASK).map(lambda c: c & COSEM_MASK),
       pdu=st.integers(0, 0xFFFF))
def test_decode_what_dlms_cosem_encodes(key, conformance, pdu):
    wire = xdlms.InitiateRequest(proposed_conformance=cosem_conformance(conformance),
                                 client_max_receive_pdu_size=pdu, dedicated_key=key).to_bytes()
    assert ini.decode_request(wire) == ini.InitiateRequest(key, True, None, 6, conformance, pdu)


@pytest.mark.parametrize("wire, message", [
    ("", "not an InitiateRequest"),
    ("08 00 06 5F 1F 04 00 00 50 1F 01 F4 00 07", "not an InitiateRequest"),
    ("21 1F 30 00 00 00 01", "not an InitiateRequest"),
    ("01 02 00 00 06 5F 1F 04 00 00 7E 1F 04 B0", "bad presence flag"),
    ("01 00 00 02 06 5F 1F 04 00 00 7E 1F 04 B0", "bad presence flag"),
    ("01 01 80" + " 00" * 140, "dedicated key too long"),
    ("01 01 10 00 11 22", "truncated dedicated key"),
    ("01 00 00 00 06 5F 1F 03 00 7E 1F 04 B0", "wrong InitiateRequest size"),
    ("01 00 00 00 06 5F 1F 04 01 00 7E 1F 04 B0", "bad conformance encoding"),
    ("01 00 00 00 06 5F 1E 04 00 00 7E 1F 04 B0", "bad conformance encoding"),
    ("01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0 00", "wrong InitiateRequest size"),
    ("01 00 00", "truncated InitiateRequest"),
])
def test_malformed_requests(wire, message):
    with pytest.raises(ini.InitiateError) as e:
        ini.decode_request(h(wire))
    assert e.value.args[0] == message
    assert e.value.error == ini.OTHER
    assert e.value.response() == h("0E 01 06 00")


@pytest.mark.parametrize("wire", [REQ_A1, REQ_A5, build_request(b"k" * 16, False, -1)])
def test_every_truncation_is_an_initiate_error(wire):
    for n in range(len(wire)):
        with pytest.raises(ini.InitiateError):
            ini.decode_request(wire[:n])


def outcome(wire):
    try:
        return ini.decode_request(wire)
    except ini.InitiateError as e:
        assert e.error == ini.OTHER
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=48) | st.binary(max_size=40).map(lambda b: b"\x01" + b))
def test_random_octets_decode_or_raise(blob):
    r = outcome(blob)
    if r is not None:
        again = build_request(r.dedicated_key, r.response_allowed, r.quality_of_service,
                              r.dlms_version, r.conformance, r.max_pdu_size)
        assert again[-9:] == blob[-9:]
        assert ini.decode_request(again) == r


# ---------------------------------------------------------------- negotiation

SERVER_CONF = 0x00501F


def test_negotiate_spec_example():
    ctx = ini.negotiate(ini.decode_request(REQ_A1), SERVER_CONF, 500)
    assert ctx == ini.Context(0x00501F, 1200, 500)
    assert ini.encode_response(ctx.conformance, ctx.server_max_pdu) == RSP_A1R


@pytest.mark.parametrize("version, pdu, conformance, error", [
    (5, 1200, 0x007E1F, ini.DLMS_VERSION_TOO_LOW),
    (0, 1200, 0x007E1F, ini.DLMS_VERSION_TOO_LOW),
    (6, 63, 0x007E1F, ini.PDU_SIZE_TOO_SHORT),
    (6, 0, 0x007E1F, ini.PDU_SIZE_TOO_SHORT),
    (6, 1200, 0x002000, ini.INCOMPATIBLE_CONFORMANCE),
    (6, 1200, 0, ini.INCOMPATIBLE_CONFORMANCE),
])
def test_negotiate_rejects(version, pdu, conformance, error):
    req = ini.decode_request(build_request(version=version, pdu=pdu, conformance=conformance))
    with pytest.raises(ini.InitiateError) as e:
        ini.negotiate(req, SERVER_CONF, 500)
    assert e.value.error == error
    assert e.value.response() == bytes([0x0E, 0x01, 0x06, error])


def test_negotiate_limits():
    req = ini.decode_request(build_request(version=7, pdu=64))
    assert ini.negotiate(req, SERVER_CONF, 500) == ini.Context(0x00501F, 64, 500)
    with pytest.raises(ini.InitiateError):
        ini.negotiate(req, SERVER_CONF, 500, min_pdu=128)
    assert ini.negotiate(req, SERVER_CONF, 500, min_pdu=12).client_max_pdu == 64


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFFFF))
def test_negotiated_conformance_is_the_intersection(proposed, supported):
    req = ini.decode_request(build_request(conformance=proposed))
    if proposed & supported:
        ctx = ini.negotiate(req, supported, 500)
        assert ctx.conformance == proposed & supported
        assert ini.conformance_names(ctx.conformance) == [
            n for n in ini.conformance_names(proposed) if n in ini.conformance_names(supported)]
    else:
        with pytest.raises(ini.InitiateError) as e:
            ini.negotiate(req, supported, 500)
        assert e.value.error == ini.INCOMPATIBLE_CONFORMANCE


# ---------------------------------------------------------------- InitiateResponse, errors

def test_encode_response_vectors():
    assert ini.encode_response(0x00501F, 500) == RSP_A1R
    assert ini.encode_response(0x001E1D, 1224, quality_of_service=0) == RSP_RLRE
    assert ini.encode_response(0x1C0320, 0x01F4, vaa_name=ini.VAA_SN) == h(
        "08 00 06 5F 1F 04 00 1C 03 20 01 F4 FA 00")
    assert ini.encode_response(1, 0, quality_of_service=-2)[:3] == h("08 01 FE")


@settings(max_examples=100, deadline=None)
@given(st.integers(0, ini.CONFORMANCE_MASK), st.integers(0, 0xFFFF),
       st.none() | st.integers(0, 127))
def test_dlms_cosem_parses_our_response(conformance, pdu, qos):
    r = xdlms.InitiateResponse.from_bytes(ini.encode_response(conformance, pdu,
                                                              quality_of_service=qos))
    assert r.negotiated_conformance.to_bytes()[1:] == (conformance & COSEM_MASK).to_bytes(3, "big")
    assert r.server_max_receive_pdu_size == pdu
    assert r.negotiated_dlms_version_number == 6
    assert r.negotiated_quality_of_service == (qos or 0)


def test_encode_response_rejects_out_of_range():
    for args, kw in (((1 << 24, 500), {}), ((-1, 500), {}), ((1, 0x10000), {}),
                     ((1, 500), {"vaa_name": -1}), ((1, 500), {"quality_of_service": 128})):
        with pytest.raises(ValueError):
            ini.encode_response(*args, **kw)


def test_confirmed_service_error_matches_spec_and_dlms_cosem():
    assert ini.confirmed_service_error(ini.DLMS_VERSION_TOO_LOW) == h("0E 01 06 01")
    for code in range(5):
        e = xdlms.ConfirmedServiceError.from_bytes(ini.confirmed_service_error(code))
        assert e.error == en.InitiateError(code)
    with pytest.raises(ValueError):
        ini.confirmed_service_error(256)


# ---------------------------------------------------------------- under micropython

# Same normalisation source run by CPython and by micropython.
NORM = '''
import binascii
from dlms import initiate


def req_outcome(x):
    try:
        r = initiate.decode_request(binascii.unhexlify(x))
    except initiate.InitiateError as e:
        return ["InitiateError", e.args[0], e.error]
    key = None if r.dedicated_key is None else binascii.hexlify(r.dedicated_key).decode()
    return [key, r.response_allowed, r.quality_of_service, r.dlms_version, r.conformance,
            r.max_pdu_size]


def negotiate_outcome(x, conf, pdu):
    try:
        c = initiate.negotiate(initiate.decode_request(binascii.unhexlify(x)), conf, pdu)
    except initiate.InitiateError as e:
        return ["InitiateError", e.error, binascii.hexlify(e.response()).decode()]
    return [c.conformance, c.client_max_pdu, c.server_max_pdu,
            binascii.hexlify(initiate.encode_response(c.conformance, pdu)).decode()]
'''
_cpy = {}
exec(NORM, _cpy)

requests = st.builds(build_request, st.none() | st.binary(max_size=20),
                     st.none() | st.booleans(), st.none() | st.integers(-128, 127),
                     st.integers(0, 255), st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFF))


@st.composite
def mutated(draw):
    wire = bytearray(draw(requests))
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(wire) - 1))
        wire[i] = draw(st.integers(0, 255))
    return bytes(wire[:draw(st.integers(0, len(wire)))])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests | mutated())
def test_micropython_decodes_like_cpython(mp_worker, wire):
    mp_worker.exec(NORM)
    assert mp_worker.eval("req_outcome(%r)" % wire.hex()) == _cpy["req_outcome"](wire.hex())


@settings(max_examples=60, deadline=None)
@given(requests, st.integers(0, 0xFFFFFF), st.integers(0, 0xFFFF))
def test_micropython_negotiates_like_cpython(mp_worker, wire, conf, pdu):
    mp_worker.exec(NORM)
    expr = "negotiate_outcome(%r, %d, %d)" % (wire.hex(), conf, pdu)
    assert mp_worker.eval(expr) == _cpy["negotiate_outcome"](wire.hex(), conf, pdu)


def test_mpy_cross_compiles_initiate():
    src = os.path.join(mpy.FIRMWARE, "dlms", "initiate.py")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "initiate.mpy")
        proc = subprocess.run([os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross"),
                               "-march=armv7emsp", "-o", out, src], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert os.path.getsize(out) > 0
