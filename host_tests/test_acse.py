"""ACSE (AARQ, AARE, RLRQ, RLRE): spec vectors byte for byte, dlms-cosem and asn1crypto as
oracles, field-combination round trips, fuzzing of the decoders."""
import os
import subprocess
import tempfile

import pytest
from asn1crypto import parser as ber
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from dlms import acse, initiate
from dlms_cosem import enumerations as en
from dlms_cosem import security
from dlms_cosem.protocol import acse as cosem_acse
from dlms_cosem.protocol import xdlms
import mpy


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


INIT_REQ = "01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0"
INIT_RSP = "08 00 06 5F 1F 04 00 00 50 1F 01 F4 00 07"
CLIENT_ST = h("4D4D4D0000000001")
SERVER_ST = h("4D4D4D0000BC614E")
GLO_REQ_A4 = h("21 1F 30 00 00 00 01 99 45 AB 0E 57 09 75 CC DF 51 E3 C7 9C 10 08 01 19 B6 7B 67 D1"
               " 8F BD EA B7 9E")
GLO_RSP_A4R = h("28 1F 30 01 23 45 67 89 12 14 A0 84 5E 47 57 38 38 3A 91 BC 19 71 17 58 1D 85 AD"
                " B6 48 D9 79 E2 FB")
GLO_REQ_A5 = h("21 30 30 01 23 45 67 80 13 02 FF 8A 78 74 13 3D 41 4C ED 25 B4 25 34 D2 8D B0 04 77"
               " 20 60 6B 17 5B D5 22 11 BE 68 41 DB 20 4D 39 EE 6F DB 8E 35 68 55")

# protocol.md 4.3
A1 = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E " + INIT_REQ)
A2 = h("60 36 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07 60 85 74 05 08 02 01 AC 0A 80 08"
       " 31 32 33 34 35 36 37 38 BE 10 04 0E " + INIT_REQ)
A3 = h("60 42 A1 09 06 07 60 85 74 05 08 01 01 A6 0A 04 08 4D 4D 4D 00 00 00 00 01 8A 02 07 80 8B"
       " 07 60 85 74 05 08 02 05 AC 0A 80 08 4B 35 36 69 56 61 67 59 BE 10 04 0E " + INIT_REQ)
A4 = h("60 55 A1 09 06 07 60 85 74 05 08 01 03 A6 0A 04 08 4D 4D 4D 00 00 00 00 01 8A 02 07 80 8B"
       " 07 60 85 74 05 08 02 05 AC 0A 80 08 4B 35 36 69 56 61 67 59 BE 23 04 21") + GLO_REQ_A4
A5 = h("60 66 A1 09 06 07 60 85 74 05 08 01 03 A6 0A 04 08 4D 4D 4D 00 00 BC 61 4E 8A 02 07 80 8B"
       " 07 60 85 74 05 08 02 01 AC 0A 80 08 31 32 33 34 35 36 37 38 BE 34 04 32") + GLO_REQ_A5
A1R = h("61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 10 04 0E "
        + INIT_RSP)
A2X = h("61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 0D BE 10 04 0E "
        + INIT_RSP)
A2V = h("61 1F A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 01 BE 06 04 04 0E"
        " 01 06 01")
A3R = h("61 42 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 0E 88 02 07 80 89"
        " 07 60 85 74 05 08 02 05 AA 0A 80 08 50 36 77 52 4A 32 31 46 BE 10 04 0E " + INIT_RSP)
A3R_TITLE = h("61 4E A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 0E A4 0A 04"
              " 08 4D 4D 4D 00 00 BC 61 4E 88 02 07 80 89 07 60 85 74 05 08 02 05 AA 0A 80 08 50 36"
              " 77 52 4A 32 31 46 BE 10 04 0E " + INIT_RSP)
A4R = h("61 61 A1 09 06 07 60 85 74 05 08 01 03 A2 03 02 01 00 A3 05 A1 03 02 01 0E A4 0A 04 08 4D"
        " 4D 4D 00 00 BC 61 4E 88 02 07 80 89 07 60 85 74 05 08 02 05 AA 0A 80 08 50 36 77 52 4A 32"
        " 31 46 BE 23 04 21") + GLO_RSP_A4R
RLRQ = h("62 03 80 01 00")
RLRE = h("63 03 80 01 00")
RLRE_UI = h("63 16 80 01 00 BE 11 04 0F 08 01 00 06 5F 1F 04 00 00 1E 1D 04 C8 00 07")
AARQS = [A1, A2, A3, A4, A5]


# ---------------------------------------------------------------- AARQ vectors

@pytest.mark.parametrize("wire, expected", [
    (A1, acse.Aarq(acse.CONTEXT_LN, None, None, False, acse.MECHANISM_NONE, None, h(INIT_REQ),
                   False)),
    (A2, acse.Aarq(acse.CONTEXT_LN, None, None, True, acse.MECHANISM_LLS, b"12345678",
                   h(INIT_REQ), False)),
    (A3, acse.Aarq(acse.CONTEXT_LN, CLIENT_ST, None, True, acse.MECHANISM_HLS_GMAC, b"K56iVagY",
                   h(INIT_REQ), False)),
    (A4, acse.Aarq(acse.CONTEXT_LN_CIPHERED, CLIENT_ST, None, True, acse.MECHANISM_HLS_GMAC,
                   b"K56iVagY", GLO_REQ_A4, True)),
    (A5, acse.Aarq(acse.CONTEXT_LN_CIPHERED, SERVER_ST, None, True, acse.MECHANISM_LLS,
                   b"12345678", GLO_REQ_A5, True)),
])
def test_decode_spec_aarqs(wire, expected):
    assert acse.decode_aarq(wire) == expected
    assert acse.decode_aarq(memoryview(bytearray(wire))) == expected


def test_plain_user_information_is_an_initiate_request():
    req = initiate.decode_request(acse.decode_aarq(A1).user_info)
    assert (req.conformance, req.max_pdu_size, req.dlms_version) == (0x007E1F, 1200, 6)


# ---------------------------------------------------------------- AARE / RLRE vectors

def test_encode_spec_aares():
    ok = initiate.encode_response(0x00501F, 500)
    assert acse.encode_aare(acse.CONTEXT_LN, acse.ACCEPTED, acse.NULL, user_info=ok) == A1R
    assert acse.encode_aare(acse.CONTEXT_LN, acse.REJECTED_PERMANENT, acse.AUTHENTICATION_FAILURE,
                            user_info=ok) == A2X
    assert acse.encode_aare(acse.CONTEXT_LN, acse.REJECTED_PERMANENT, acse.NO_REASON_GIVEN,
                            user_info=initiate.confirmed_service_error(
                                initiate.DLMS_VERSION_TOO_LOW)) == A2V
    assert acse.encode_aare(acse.CONTEXT_LN, acse.ACCEPTED, acse.AUTHENTICATION_REQUIRED,
                            mechanism=acse.MECHANISM_HLS_GMAC, auth_value=b"P6wRJ21F",
                            user_info=ok) == A3R
    assert acse.encode_aare(acse.CONTEXT_LN, acse.ACCEPTED, acse.AUTHENTICATION_REQUIRED,
                            ap_title=SERVER_ST, mechanism=acse.MECHANISM_HLS_GMAC,
                            auth_value=b"P6wRJ21F", user_info=ok) == A3R_TITLE
    assert acse.encode_aare(acse.CONTEXT_LN_CIPHERED, acse.ACCEPTED, acse.AUTHENTICATION_REQUIRED,
                            ap_title=SERVER_ST, mechanism=acse.MECHANISM_HLS_GMAC,
                            auth_value=b"P6wRJ21F", user_info=GLO_RSP_A4R) == A4R


def test_release_vectors():
    assert acse.decode_rlrq(RLRQ) == acse.Rlrq(acse.RELEASE_NORMAL, None, False)
    assert acse.decode_rlrq(h("62 00")) == acse.Rlrq(None, None, False)
    assert acse.encode_rlre() == RLRE
    ui = initiate.encode_response(0x001E1D, 1224, quality_of_service=0)
    assert acse.encode_rlre(acse.RELEASE_NORMAL, ui) == RLRE_UI
    assert acse.encode_rlre(None) == h("63 00")
    assert acse.encode_rlre(acse.RELEASE_USER_DEFINED) == h("63 03 80 01 1E")


def test_rlrq_with_ciphered_user_information():
    wire = h("62 28 80 01 00 BE 23 04 21") + GLO_REQ_A4
    assert acse.decode_rlrq(wire) == acse.Rlrq(0, GLO_REQ_A4, True)
    plain = h("62 13 80 01 01 BE 0E 04 0C 01 00 00 00 06 5F 1F 04 00 00 10 00")
    assert acse.decode_rlrq(plain) == acse.Rlrq(acse.RELEASE_URGENT, plain[9:], False)


# ---------------------------------------------------------------- dlms-cosem as oracle

@pytest.mark.parametrize("wire", [A1R, A2X, A2V, A3R, A3R_TITLE, A4R])
def test_dlms_cosem_parses_our_aares(wire):
    aare = cosem_acse.ApplicationAssociationResponse.from_bytes(wire)
    assert aare.to_bytes() == wire


def test_dlms_cosem_reads_our_hls_aare():
    aare = cosem_acse.ApplicationAssociationResponse.from_bytes(A4R)
    assert aare.ciphered
    assert aare.result == en.AssociationResult.ACCEPTED
    assert aare.result_source_diagnostics == en.AcseServiceUserDiagnostics.AUTHENTICATION_REQUIRED
    assert aare.system_title == SERVER_ST
    assert aare.authentication == en.AuthenticationMechanism.HLS_GMAC
    assert aare.authentication_value == b"P6wRJ21F"
    content = aare.user_information.content
    assert isinstance(content, xdlms.GlobalCipherInitiateResponse)
    assert content.invocation_counter == 0x01234567


@pytest.mark.parametrize("wire", AARQS)
def test_dlms_cosem_reencodes_the_spec_aarqs(wire):
    # Both parsers agree on the vectors; dlms-cosem encodes back the same octets.
    aarq = cosem_acse.ApplicationAssociationRequest.from_bytes(wire)
    ours = acse.decode_aarq(wire)
    assert aarq.to_bytes() == wire
    assert aarq.system_title == ours.calling_ap_title
    assert aarq.authentication_value == ours.auth_value
    assert aarq.ciphered == (ours.context == acse.CONTEXT_LN_CIPHERED)


# conformance bits dlms-cosem knows (it drops the others)
COSEM_CONFORMANCE = sum(1 << p for p in xdlms.Conformance.conformance_bit_position.values())
titles = st.none() | st.binary(min_size=8, max_size=8)
mechanisms = st.sampled_from(list(en.AuthenticationMechanism))


@settings(max_examples=150, deadline=None)
@given(title=titles, mechanism=st.none() | mechanisms, ciphered=st.booleans(),
       value=st.none() | st.binary(min_size=1, max_size=32),
       user_id=st.none() | st.integers(0, 127),
       conformance=st.integers(0, 0xFFFF), pdu=st.integers(0, 0xFFFF),
       ic=st.integers(0, 0xFFFFFFFF), ct=st.binary(max_size=24))
def test_decode_what_dlms_cosem_encodes(title, mechanism, ciphered, value, user_id, conformance,
                                        pdu, ic, ct):
    if ciphered:
        content = xdlms.GlobalCipherInitiateRequest(
            security.SecurityControlField(0, True, True), ic, ct)
    else:
        content = xdlms.InitiateRequest(
            proposed_conformance=xdlms.Conformance.from_bytes(
                b"\x00" + conformance.to_bytes(3, "big")),
            client_max_receive_pdu_size=pdu)
    aarq = cosem_acse.ApplicationAssociationRequest(
        user_information=cosem_acse.UserInformation(content), system_title=title,
        authentication=mechanism, ciphered=ciphered, authentication_value=value,
        calling_ae_invocation_identifier=None if user_id is None else bytes([2, 1, user_id]))
    wire = aarq.to_bytes()
    assume(len(wire) < 0x80)   # dlms-cosem writes one-octet BER lengths only
    auth = mechanism not in (None, en.AuthenticationMechanism.NONE)
    assert acse.decode_aarq(wire) == acse.Aarq(
        acse.CONTEXT_LN_CIPHERED if ciphered else acse.CONTEXT_LN, title, user_id, auth,
        mechanism if auth else acse.MECHANISM_NONE, value, content.to_bytes(), ciphered)


@settings(max_examples=150, deadline=None)
@given(ciphered=st.booleans(), result=st.sampled_from(list(en.AssociationResult)),
       diag=st.sampled_from(list(en.AcseServiceUserDiagnostics)
                            + list(en.AcseServiceProviderDiagnostics)),
       title=titles, mechanism=st.none() | mechanisms.filter(lambda m: m),
       value=st.binary(min_size=8, max_size=32),
       conformance=st.integers(0, 0xFFFFFF).map(lambda c: c & COSEM_CONFORMANCE),
       pdu=st.integers(0, 0xFFFF))
def test_dlms_cosem_parses_what_we_encode(ciphered, result, diag, title, mechanism, value,
                                          conformance, pdu):
    source = (acse.SOURCE_USER if isinstance(diag, en.AcseServiceUserDiagnostics)
              else acse.SOURCE_PROVIDER)
    ui = initiate.encode_response(conformance, pdu)
    wire = acse.encode_aare(acse.CONTEXT_LN_CIPHERED if ciphered else acse.CONTEXT_LN,
                            result, diag, source, title, mechanism,
                            None if mechanism is None else value, ui)
    assume(len(wire) < 0x80)
    aare = cosem_acse.ApplicationAssociationResponse.from_bytes(wire)
    assert (aare.ciphered, aare.result, aare.result_source_diagnostics) == (ciphered, result, diag)
    assert type(aare.result_source_diagnostics) is type(diag)
    assert aare.system_title == title
    assert aare.authentication == mechanism
    assert aare.authentication_value == (None if mechanism is None else value)
    rsp = aare.user_information.content
    assert rsp.server_max_receive_pdu_size == pdu
    assert aare.to_bytes() == wire


# ---------------------------------------------------------------- own BER builder, all sizes

def tlv(cls, constructed, number, contents):
    return ber.emit(cls, int(constructed), number, contents)


def ctx(number, contents, constructed=True):
    return tlv(2, constructed, number, contents)


UNKNOWN_FIELDS = st.lists(st.tuples(
    st.sampled_from([(2, True, 2), (2, True, 3), (2, True, 4), (2, True, 5), (2, True, 7),
                     (2, True, 8), (2, False, 29), (2, False, 13), (2, True, 31),
                     (2, False, 4000), (1, False, 5), (0, False, 16)]),
    st.binary(max_size=140)), max_size=3)


@st.composite
def aarq_fields(draw):
    """(fields of an AARQ, its BER octets) with any field combination and any sizes."""
    context = draw(st.integers(1, 4))
    title = draw(st.none() | st.binary(max_size=20))
    user_id = draw(st.none() | st.integers(-(1 << 31), (1 << 31) - 1))
    authentication = draw(st.booleans())
    mechanism = draw(st.integers(0, 7) if authentication else st.none() | st.integers(0, 7))
    value = draw(st.none() | st.binary(max_size=200))
    user_info = draw(st.binary(max_size=300))
    parts = []
    if draw(st.booleans()):
        parts.append(ctx(0, b"\x07\x80", False))
    parts.append(ctx(1, tlv(0, False, 6, h("60 85 74 05 08 01") + bytes([context]))))
    if title is not None:
        parts.append(ctx(6, tlv(0, False, 4, title)))
    if user_id is not None:
        n = next(k for k in range(1, 5) if -(1 << (8 * k - 1)) <= user_id < 1 << (8 * k - 1))
        parts.append(ctx(9, tlv(0, False, 2, user_id.to_bytes(n, "big", signed=True))))
    parts.append(ctx(10, b"\x07\x80" if authentication else b"\x07\x00", False))
    if mechanism is not None:
        parts.append(ctx(11, h("60 85 74 05 08 02") + bytes([mechanism]), False))
    if value is not None:
        parts.append(ctx(12, tlv(2, False, 0, value)))
    parts.append(ctx(30, tlv(0, False, 4, user_info)))
    for (cls, constructed, number), contents in draw(UNKNOWN_FIELDS):
        parts.insert(draw(st.integers(0, len(parts))), tlv(cls, constructed, number, contents))
    expected = acse.Aarq(context, title, user_id, authentication,
                         acse.MECHANISM_NONE if mechanism is None else mechanism, value,
                         user_info, user_info[:1] == b"\x21")
    return expected, tlv(1, True, 0, b"".join(parts))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aarq_fields())
def test_decode_every_field_combination(case):
    expected, wire = case
    assert acse.decode_aarq(wire) == expected


def children(data):
    """Top-level BER elements of data as (class, constructed, tag, contents), via asn1crypto.

    Also checks that every length is in its shortest (DER) form.
    """
    out = []
    while data:
        cls, method, tag, header, contents, trailer = ber.parse(data)
        assert ber.emit(cls, method, tag, contents) == header + contents
        out.append((cls, method, tag, contents))
        data = data[len(header) + len(contents) + len(trailer):]
    return out


@settings(max_examples=150, deadline=None)
@given(context=st.integers(1, 4), result=st.integers(0, 2), source=st.integers(1, 2),
       diag=st.integers(0, 127), title=st.none() | st.binary(max_size=200),
       mechanism=st.none() | st.integers(0, 127), value=st.none() | st.binary(max_size=200),
       ui=st.none() | st.binary(max_size=400))
def test_aare_structure_for_all_sizes(context, result, source, diag, title, mechanism, value, ui):
    if mechanism is None:
        value = None
    wire = acse.encode_aare(context, result, diag, source, title, mechanism, value, ui)
    (top,) = children(wire)
    assert top[:3] == (1, 1, 1)
    fields = {tag: (cls, method, contents) for cls, method, tag, contents in children(top[3])}
    assert list(fields) == sorted(fields)
    assert fields.pop(1) == (2, 1, tlv(0, False, 6, h("60 85 74 05 08 01") + bytes([context])))
    assert fields.pop(2) == (2, 1, tlv(0, False, 2, bytes([result])))
    assert fields.pop(3) == (2, 1, ctx(source, tlv(0, False, 2, bytes([diag]))))
    if title is not None:
        assert fields.pop(4) == (2, 1, tlv(0, False, 4, title))
    if mechanism is not None:
        assert fields.pop(8) == (2, 0, b"\x07\x80")
        assert fields.pop(9) == (2, 0, h("60 85 74 05 08 02") + bytes([mechanism]))
    if value is not None:
        assert fields.pop(10) == (2, 1, tlv(2, False, 0, value))
    if ui is not None:
        assert fields.pop(30) == (2, 1, tlv(0, False, 4, ui))
    assert fields == {}


@pytest.mark.parametrize("n", [0, 1, 125, 126, 127, 128, 200, 252, 253, 255, 256, 1000, 60000])
def test_length_forms_at_the_boundaries(n):
    ui = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
    for wire in (acse.encode_rlre(None, ui),
                 acse.encode_aare(acse.CONTEXT_LN, acse.ACCEPTED, acse.NULL, user_info=ui)):
        (top,) = children(wire)
        assert children(top[3])[-1] == (2, 1, 30, tlv(0, False, 4, ui))
    assert acse.decode_rlrq(b"\x62" + acse.encode_rlre(None, ui)[1:]).user_info == ui


@settings(max_examples=50, deadline=None)
@given(reason=st.none() | st.integers(0, 127), ui=st.none() | st.binary(max_size=300))
def test_rlre_round_trips_through_the_rlrq_decoder(reason, ui):
    wire = acse.encode_rlre(reason, ui)
    assert ber.parse(wire, strict=True)[:3] == (1, 1, 3)
    rlrq = acse.decode_rlrq(b"\x62" + wire[1:])
    assert rlrq == acse.Rlrq(reason, ui, ui is not None and ui[:1] == b"\x21")


# ---------------------------------------------------------------- errors

FIELDS = "A1 09 06 07 60 85 74 05 08 01 01 "
UI = "BE 10 04 0E " + INIT_REQ


def aarq(body):
    b = h(body)
    return bytes([0x60, len(b)]) + b


BER_ERRORS = [
    (h("60"), "truncated length", 1),
    (h("60 80") + A1[2:] + h("00 00"), "indefinite length", 1),
    (h("60 83 00 00 1D") + A1[2:], "length too large", 1),
    (h("60 1E") + A1[2:], "length beyond the data", 2),
    (A1 + h("00"), "octets after the APDU", 31),
    (h("60 82 FF FF") + A1[2:], "length beyond the data", 4),
    (aarq(FIELDS + "A2"), "truncated length", 14),
    (aarq(FIELDS + "BF"), "truncated tag", 14),
    (aarq(FIELDS + "BF 81 82 83 04 00 " + UI), "tag number too long", 13),
    (aarq("A1 0A 06 07 60 85 74 05 08 01 01 00 " + UI), "octets after the inner element", 13),
    (aarq("A1 09 04 07 60 85 74 05 08 01 01 " + UI), "wrong inner tag", 4),
    (aarq("81 07 60 85 74 05 08 01 01 " + UI), "wrong form of field", 2),
    (aarq(FIELDS + FIELDS + UI), "duplicate field", 13),
    (aarq(FIELDS + "A6 0A 30 08 4D 4D 4D 00 00 00 00 01 " + UI), "wrong inner tag", 15),
    (aarq(FIELDS + "A9 02 02 00 " + UI), "bad integer size", 17),
    (aarq(FIELDS + "A9 07 02 05 01 02 03 04 05 " + UI), "bad integer size", 17),
    (aarq(FIELDS + "8A 01 07 " + UI), "bad bit string", 15),
    (aarq(FIELDS + "8A 00 " + UI), "bad bit string", 15),
    (aarq(FIELDS + "8A 02 08 80 " + UI), "bad bit string", 15),
    (aarq(FIELDS + "AC 0B 80 08 31 32 33 34 35 36 37 38 00 " + UI),
     "octets after the inner element", 25),
    (aarq(FIELDS + "BE 0F 04 0E " + INIT_REQ[:-3]), "length beyond the data", 17),
    (aarq(FIELDS + "BE 10 30 0E " + INIT_REQ), "wrong inner tag", 15),
]


@pytest.mark.parametrize("wire, message, pos", BER_ERRORS)
def test_malformed_ber(wire, message, pos):
    with pytest.raises(acse.BerError) as e:
        acse.decode_aarq(wire)
    assert (e.value.args[0], e.value.pos) == (message, pos)
    assert (e.value.result, e.value.source, e.value.diagnostic) == (
        acse.REJECTED_PERMANENT, acse.SOURCE_USER, acse.NO_REASON_GIVEN)


REJECTS = [
    (aarq(UI), "application context name missing", acse.NO_REASON_GIVEN),
    (aarq(FIELDS), "user information missing", acse.NO_REASON_GIVEN),
    (aarq("A1 09 06 07 60 85 74 05 08 01 05 " + UI), "unknown application context",
     acse.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED),
    (aarq("A1 09 06 07 60 85 74 05 08 01 00 " + UI), "unknown application context",
     acse.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED),
    (aarq("A1 08 06 06 2B 06 01 04 01 00 " + UI), "unknown application context",
     acse.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED),
    (aarq("A1 0A 06 08 60 85 74 05 08 01 81 01 " + UI), "unknown application context",
     acse.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED),
    (aarq(FIELDS + "8A 02 07 80 8B 07 60 85 74 05 08 02 08 " + UI),
     "unknown authentication mechanism", acse.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED),
    (aarq(FIELDS + "8A 02 07 80 8B 07 60 85 74 05 08 03 05 " + UI),
     "unknown authentication mechanism", acse.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED),
    (aarq(FIELDS + "8A 02 07 80 " + UI), "mechanism name missing",
     acse.AUTHENTICATION_MECHANISM_NAME_REQUIRED),
    (aarq(FIELDS + "8A 02 07 80 8B 07 60 85 74 05 08 02 01 AC 05 81 03 00 31 32 " + UI),
     "authentication value is not a charstring", acse.AUTHENTICATION_FAILURE),
]


@pytest.mark.parametrize("wire, message, diagnostic", REJECTS)
def test_rejected_aarqs(wire, message, diagnostic):
    with pytest.raises(acse.AcseError) as e:
        acse.decode_aarq(wire)
    assert type(e.value) is acse.AcseError
    assert (e.value.args[0], e.value.diagnostic, e.value.source, e.value.result) == (
        message, diagnostic, acse.SOURCE_USER, acse.REJECTED_PERMANENT)


def test_protocol_version_without_version1_is_a_provider_reject():
    with pytest.raises(acse.AcseError) as e:
        acse.decode_aarq(aarq("80 02 07 00 " + FIELDS + UI))
    assert (e.value.source, e.value.diagnostic) == (acse.SOURCE_PROVIDER,
                                                    acse.NO_COMMON_ACSE_VERSION)
    assert acse.decode_aarq(aarq("80 02 07 80 " + FIELDS + UI)) == acse.decode_aarq(A1)
    assert acse.decode_aarq(aarq("80 02 06 C0 " + FIELDS + UI)) == acse.decode_aarq(A1)


def test_lenient_forms():
    # mechanism-name without the authentication functional unit still names the mechanism;
    # non-minimal long-form lengths and fields out of order are accepted.
    r = acse.decode_aarq(aarq(FIELDS + "8B 07 60 85 74 05 08 02 01 " + UI))
    assert (r.authentication, r.mechanism) == (False, acse.MECHANISM_LLS)
    assert acse.decode_aarq(h("60 81 1D") + A1[2:]) == acse.decode_aarq(A1)
    assert acse.decode_aarq(h("60 82 00 1E A1 81 09") + A1[4:]) == acse.decode_aarq(A1)
    assert acse.decode_aarq(aarq(UI + FIELDS)) == acse.decode_aarq(A1)
    user_id = lambda body: acse.decode_aarq(aarq(FIELDS + body + UI)).calling_ae_invocation_id
    assert user_id("A9 03 02 01 FF ") == -1
    assert user_id("A9 04 02 02 00 FF ") == 255


@pytest.mark.parametrize("wire", [b"", A1R, RLRQ, h("00 00"), h("E6 E6 00 60 1D")])
def test_not_an_aarq(wire):
    with pytest.raises(acse.ApduTypeError):
        acse.decode_aarq(wire)


@pytest.mark.parametrize("wire, cls, message", [
    (b"", acse.ApduTypeError, "not the expected APDU"),
    (A1, acse.ApduTypeError, "not the expected APDU"),
    (h("62 03 80 02 00"), acse.BerError, "length beyond the data"),
    (h("62 03 80 00 00"), acse.BerError, "bad integer size"),
    (h("62 06 80 01 00 80 01 01"), acse.BerError, "duplicate field"),
    (h("62 05 BE 03 30 01 00"), acse.BerError, "wrong inner tag"),
    (h("62 03 A0 01 00"), acse.BerError, "wrong form of field"),
])
def test_malformed_rlrq(wire, cls, message):
    with pytest.raises(cls) as e:
        acse.decode_rlrq(wire)
    assert e.value.args[0] == message


def test_rlrq_skips_unknown_fields():
    assert acse.decode_rlrq(h("62 09 81 01 07 80 01 01 9F 21 00")) == acse.Rlrq(1, None, False)


@pytest.mark.parametrize("wire", AARQS)
def test_every_truncation_raises_ber_error(wire):
    for n in range(1, len(wire)):
        with pytest.raises(acse.BerError):
            acse.decode_aarq(wire[:n])
        # the same cut with a consistent outer length: still never a valid AARQ
        with pytest.raises(acse.AcseError):
            acse.decode_aarq(bytes([wire[0], max(n - 2, 0)]) + wire[2:n])


def test_encoder_rejects_bad_arguments():
    for kw in ({"context": 0}, {"context": 5}, {"result": 3}, {"diagnostic": 128},
               {"source": 3}, {"auth_value": b"x"}, {"mechanism": 128, "auth_value": b"x"},
               {"user_info": bytes(0x10000)}):
        args = dict(context=1, result=0, diagnostic=0)
        args.update(kw)
        with pytest.raises(ValueError):
            acse.encode_aare(**args)
    with pytest.raises(ValueError):
        acse.encode_rlre(-1)


# ---------------------------------------------------------------- fuzzing

def decode_or_acse_error(decoder, wire):
    try:
        return decoder(wire)
    except acse.AcseError as e:
        assert isinstance(e.diagnostic, int) and e.source in (acse.SOURCE_USER,
                                                              acse.SOURCE_PROVIDER)
        return e


@st.composite
def mutated_aarqs(draw):
    wire = bytearray(draw(st.sampled_from(AARQS) | aarq_fields().map(lambda c: c[1])))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.integers(0, 3))
        i = draw(st.integers(0, len(wire) - 1))
        if op == 0:
            wire[i] = draw(st.integers(0, 255))
        elif op == 1:
            wire[i] ^= 1 << draw(st.integers(0, 7))
        elif op == 2:
            wire.insert(i, draw(st.integers(0, 255)))
        elif len(wire) > 1:
            del wire[i]
    return bytes(wire)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_aarqs() | st.binary(max_size=64) | st.binary(max_size=64).map(lambda b: b"\x60" + b))
def test_fuzz_aarq_decoder(wire):
    r = decode_or_acse_error(acse.decode_aarq, wire)
    if isinstance(r, acse.Aarq):
        assert acse.CONTEXT_LN <= r.context <= acse.CONTEXT_SN_CIPHERED
        assert acse.MECHANISM_NONE <= r.mechanism <= acse.MECHANISM_HLS_ECDSA
        assert len(r.user_info) < len(wire)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=40).map(lambda b: b"\x62" + b) | st.binary(max_size=40))
def test_fuzz_rlrq_decoder(wire):
    decode_or_acse_error(acse.decode_rlrq, wire)


def test_absurd_lengths_are_bounded():
    # A short APDU announcing 64 KiB, and a 64 KiB APDU of nested unknown fields.
    with pytest.raises(acse.BerError):
        acse.decode_aarq(h("60 82 FF FF A1 82 FF FB"))
    big = b"".join(ctx(2, b"\x00" * 200) for _ in range(300))
    with pytest.raises(acse.AcseError) as e:
        acse.decode_aarq(tlv(1, True, 0, big))
    assert e.value.args[0] == "application context name missing"


# ---------------------------------------------------------------- under micropython

# Same normalisation source run by CPython and by micropython.
NORM = '''
import binascii
from dlms import acse


def _hx(b):
    return None if b is None else binascii.hexlify(b).decode()


def _err(e):
    return [type(e).__name__, e.args[0], e.diagnostic, e.source, getattr(e, "pos", None)]


def aarq_outcome(x):
    try:
        r = acse.decode_aarq(binascii.unhexlify(x))
    except acse.AcseError as e:
        return _err(e)
    return [r.context, _hx(r.calling_ap_title), r.calling_ae_invocation_id, r.authentication,
            r.mechanism, _hx(r.auth_value), _hx(r.user_info), r.ciphered]


def rlrq_outcome(x):
    try:
        r = acse.decode_rlrq(binascii.unhexlify(x))
    except acse.AcseError as e:
        return _err(e)
    return [r.reason, _hx(r.user_info), r.ciphered]


def aare_hex(context, result, diag, source, title, mechanism, value, ui):
    u = lambda x: None if x is None else binascii.unhexlify(x)
    return _hx(acse.encode_aare(context, result, diag, source, u(title), mechanism, u(value),
                                u(ui)))
'''
_cpy = {}
exec(NORM, _cpy)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(aarq_fields().map(lambda c: c[1]) | mutated_aarqs())
def test_micropython_decodes_aarq_like_cpython(mp_worker, wire):
    mp_worker.exec(NORM)
    assert mp_worker.eval("aarq_outcome(%r)" % wire.hex()) == _cpy["aarq_outcome"](wire.hex())


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=30).map(lambda b: b"\x62" + b)
       | st.builds(lambda r, u: b"\x62" + acse.encode_rlre(r, u)[1:],
                   st.none() | st.integers(0, 127), st.none() | st.binary(max_size=200)))
def test_micropython_decodes_rlrq_like_cpython(mp_worker, wire):
    mp_worker.exec(NORM)
    assert mp_worker.eval("rlrq_outcome(%r)" % wire.hex()) == _cpy["rlrq_outcome"](wire.hex())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2), st.integers(0, 127), st.integers(1, 2),
       st.none() | st.binary(max_size=150), st.none() | st.integers(0, 7),
       st.binary(max_size=80), st.none() | st.binary(max_size=300))
def test_micropython_encodes_aare_like_cpython(mp_worker, context, result, diag, source, title,
                                               mechanism, value, ui):
    hx = lambda b: None if b is None else b.hex()
    args = (context, result, diag, source, hx(title), mechanism,
            None if mechanism is None else value.hex(), hx(ui))
    mp_worker.exec(NORM)
    assert mp_worker.eval("aare_hex(%r, %r, %r, %r, %r, %r, %r, %r)" % args) == \
        _cpy["aare_hex"](*args)


def test_mpy_cross_compiles_acse():
    src = os.path.join(mpy.FIRMWARE, "dlms", "acse.py")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "acse.mpy")
        proc = subprocess.run([os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross"),
                               "-march=armv7emsp", "-o", out, src], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert os.path.getsize(out) > 0
