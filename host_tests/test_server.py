"""Application server (dlms.server), sans-IO: association policy, xDLMS services and refusals,
block transfer, HLS-GMAC and ciphered APDUs, byte for byte against the spec vectors."""
import os
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from dlms_cosem.parsers import AssociationObjectListParser
from dlms_cosem.utils import parse_as_dlms_data

import cosem_client as cc
import mpy
from cosem import association
from cosem.association import Client
from cosem.objects import Model
from cosem.sources import DictSources
from dlms import axdr, initiate, server
from models import common, me382


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


SERVER_TITLE = h("4D4D4D0000BC614E")
STOC = b"P6wRJ21F"

# The spec vectors use a server max PDU of 500.
CLIENTS = (
    Client(16, "public", 1, association.LN_NO_CIPHERING, association.MECHANISM_NONE, max_pdu=500),
    Client(1, "management", 2, association.LN_CIPHERING, association.MECHANISM_HLS_GMAC,
           security_setup="0-0:43.0.0", max_pdu=500),
    Client(102, "preestablished", 3, association.LN_CIPHERING, association.MECHANISM_NONE,
           security_setup="0-0:43.0.0", pre_established=True),
)


# The same clients offering every service the server carries out (the meter's models).
CLIENTS_FULL = (
    Client(16, "public", 1, association.LN_NO_CIPHERING, association.MECHANISM_NONE, max_pdu=500,
           conformance=common.CONFORMANCE),
    Client(1, "management", 2, association.LN_CIPHERING, association.MECHANISM_HLS_GMAC,
           security_setup="0-0:43.0.0", max_pdu=500, conformance=common.CONFORMANCE),
    Client(102, "preestablished", 3, association.LN_CIPHERING, association.MECHANISM_NONE,
           security_setup="0-0:43.0.0", pre_established=True, conformance=common.CONFORMANCE),
)


def sources():
    values = dict(common.SETTINGS)
    values.update({
        "id.ldn": b"ISK1030000001234", "clock.time": axdr.pack_datetime(
            2024, 3, 15, 5, 12, 30, 45, 0, -60, 0),
        "energy.A+": 1234567000, "inst.u.1": 230040,
    })
    return DictSources(values=values, actions={"clock.shift_time": lambda seconds: None})


@pytest.fixture
def srv():
    model = Model(me382.rows(), CLIENTS, sources(), common.SERVER_SAP)
    s = server.Server(model, SERVER_TITLE, {1: (cc.EK, cc.AK), 102: (cc.EK, cc.AK)},
                      random=lambda n: STOC)
    s.suites[1].tx_ic = 0x01234566
    return s


@pytest.fixture
def full():
    model = Model(me382.rows(), CLIENTS_FULL, sources(), common.SERVER_SAP)
    s = server.Server(model, SERVER_TITLE, {1: (cc.EK, cc.AK), 102: (cc.EK, cc.AK)},
                      random=lambda n: STOC)
    s.suites[1].tx_ic = 0x01234566
    return s


A1 = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F"
       " 04 B0")
A1R = h("61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 10 04 0E"
        " 08 00 06 5F 1F 04 00 00 50 1F 01 F4 00 07")
A2V = h("61 1F A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 01 BE 06 04 04"
        " 0E 01 06 01")
A4 = h("60 55 A1 09 06 07 60 85 74 05 08 01 03 A6 0A 04 08 4D 4D 4D 00 00 00 00 01 8A 02 07 80"
       " 8B 07 60 85 74 05 08 02 05 AC 0A 80 08 4B 35 36 69 56 61 67 59 BE 23 04 21 21 1F 30 00"
       " 00 00 01 99 45 AB 0E 57 09 75 CC DF 51 E3 C7 9C 10 08 01 19 B6 7B 67 D1 8F BD EA B7 9E")
A4R = h("61 61 A1 09 06 07 60 85 74 05 08 01 03 A2 03 02 01 00 A3 05 A1 03 02 01 0E A4 0A 04 08"
        " 4D 4D 4D 00 00 BC 61 4E 88 02 07 80 89 07 60 85 74 05 08 02 05 AA 0A 80 08 50 36 77 52"
        " 4A 32 31 46 BE 23 04 21 28 1F 30 01 23 45 67 89 12 14 A0 84 5E 47 57 38 38 3A 91 BC 19"
        " 71 17 58 1D 85 AD B6 48 D9 79 E2 FB")
GET_ENERGY = h("C0 01 C1 00 03 01 00 01 08 00 FF 02 00")
ENERGY_VALUE = h("C4 01 C1 00 06 00 12 D6 87")
LDN = cc.obis("0-0:42.0.0")
CLOCK = cc.obis("0-0:1.0.0")
ASSOC = cc.obis("0-0:40.0.0")


def public(srv):
    conn = srv.connection()
    assert conn.handle(16, A1) == A1R
    return conn


def test_public_association_is_the_spec_vector(srv):
    conn = public(srv)
    assert conn.handle(16, cc.get(1, LDN, 2)) == h("C4 01 C1 00 09 10") + b"ISK1030000001234"
    assert conn.handle(16, cc.get(8, CLOCK, 2)) == h(
        "C4 01 C1 00 09 0C 07 E8 03 0F 05 0C 1E 2D 00 FF C4 00")
    assert conn.handle(16, cc.RLRQ) == h("63 03 80 01 00")
    assert conn.handle(16, cc.get(1, LDN, 2)) == h("D8 01 01")


def test_requests_outside_an_association(srv):
    conn = srv.connection()
    assert conn.handle(16, cc.get(1, LDN, 2)) == h("D8 01 01")
    assert conn.handle(16, cc.get(1, LDN, 2, iip=0x01)) is None   # unconfirmed: no answer
    assert conn.handle(16, h("C8 03 30 00 00")) == h("D8 01 01")   # ciphered, no keys in use
    assert conn.handle(16, cc.RLRQ) == h("63 03 80 01 00")
    # Associated with client 16: another SAP on the same connection is not associated.
    conn = public(srv)
    assert conn.handle(17, cc.get(1, LDN, 2)) == h("D8 01 01")


def test_public_refusals(srv):
    conn = public(srv)
    assert conn.handle(16, GET_ENERGY) == h("C4 01 C1 01 04")      # invisible: object-undefined
    assert conn.handle(16, cc.get(3, LDN, 2)) == h("C4 01 C1 01 09")  # class inconsistent
    assert conn.handle(16, cc.set_(8, CLOCK, 2, h("09 0C 07 E8 03 0F 05 0C 1E 2D 00 FF C4 00"))
                       ) == h("C5 01 C1 03")
    assert conn.handle(16, cc.action(8, CLOCK, 6, h("10 00 3C"))) == h("C7 01 C1 03 00")
    assert conn.handle(16, cc.get(1, LDN, 9)) == h("C4 01 C1 01 04")   # no attribute 9
    assert conn.handle(16, h("FF 01 02")) == h("D8 02 02")          # unknown APDU
    assert conn.handle(16, h("C0 01 C1 00 01")) == h("C4 01 C1 01 FA")  # truncated body


GET_LIST = h("C0 03 C1 02 00 01 00 00 2A 00 00 FF 02 00 00 03 01 00 01 08 00 FF 02 00")


def test_get_with_list(full):
    conn = full.connection()
    assert cc.aare_result(conn.handle(16, A1)) == (0, 0)
    rsp = conn.handle(16, GET_LIST)
    assert rsp == h("C4 03 C1 02 00 09 10") + b"ISK1030000001234" + h("01 04")


def associate_public(app, conformance):
    conn = app.connection()
    assert cc.aare_result(conn.handle(16, cc.aarq(user_info=cc.initiate_request(
        conformance=conformance)))) == (0, 0)
    return conn


NOT_SUPPORTED = h("D8 01 02")


def test_services_outside_the_negotiated_conformance_are_refused(srv, full):
    # Offered 00501F: no multiple-references, no block transfer with SET.
    conn = public(srv)
    assert conn.handle(16, GET_LIST) == NOT_SUPPORTED
    assert conn.handle(16, h("C1 02 C1 00 08 00 00 01 00 00 FF 02 00 01 00 00 00 01 02 11 05")) \
        == NOT_SUPPORTED
    assert conn.handle(16, h("C1 03 C1 01 00 00 00 02 02 11 05")) == NOT_SUPPORTED
    # The association still works.
    assert conn.handle(16, cc.get(1, LDN, 2)) == h("C4 01 C1 00 09 10") + b"ISK1030000001234"
    # A client that negotiated GET only.
    conn = associate_public(full, initiate.GET)
    ldn = h("C4 01 C1 00 09 10") + b"ISK1030000001234"
    assert conn.handle(16, cc.get(1, LDN, 2)) == ldn
    for apdu in (GET_LIST, cc.set_(1, LDN, 2, h("09 01 41")), cc.action(8, CLOCK, 6, h("10 00 3C")),
                 cc.get_next(1),
                 h("C0 01 C1 00 07 01 00 63 01 00 FF 02 01 02 02 04 06 00 00 00 01 06 00 00 00"
                   " 0A 12 00 01 12 00 00")):
        assert conn.handle(16, apdu) == NOT_SUPPORTED, apdu.hex()
    assert conn.handle(16, cc.get(1, LDN, 2)) == ldn
    # GET and selective access but no block transfer: Get-Request-Next is refused.
    conn = associate_public(full, initiate.GET | initiate.SELECTIVE_ACCESS)
    assert conn.handle(16, cc.get_next(1)) == NOT_SUPPORTED


def test_a_refused_service_changes_nothing(full):
    conn = full.connection()
    client = cc.Suite0Client(ic=1)
    assert cc.aare_result(conn.handle(1, cc.aarq(
        context=3, mechanism=5, title=cc.CLIENT_TITLE, auth_value=b"K56iVagY",
        user_info=client.protect(0x21, cc.initiate_request(
            conformance=initiate.GET | initiate.ACTION))))) == (0, 14)
    client.server_title = SERVER_TITLE
    assert client.unprotect(conn.handle(1, client.protect(0xCB, cc.action(
        15, ASSOC, 1, h("09 11") + client.hls_reply(STOC)))))[2][:4] == h("C7 01 C1 00")
    before = full.model.sources.values["clock.time"]
    assert conn.handle(1, client.protect(0xC9, cc.set_(8, CLOCK, 2, TIME))) == NOT_SUPPORTED
    assert full.model.sources.values["clock.time"] == before
    rsp = client.unprotect(conn.handle(1, client.protect(0xC8, cc.get(8, CLOCK, 2))))[2]
    assert rsp == h("C4 01 C1 00") + h("09 0C") + before


def test_aarq_rejections(srv):
    conn = srv.connection()
    old = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 05 5F 1F 04 00 00"
            " 7E 1F 04 B0")
    assert conn.handle(16, old) == A2V
    assert cc.aare_result(conn.handle(16, cc.aarq(context=3))) == (1, 2)
    assert cc.aare_result(conn.handle(16, cc.aarq(mechanism=1, auth_value=b"12345678"))) == (1, 11)
    assert cc.aare_result(conn.handle(1, cc.aarq(context=3))) == (1, 12)
    assert cc.aare_result(conn.handle(1, cc.aarq(context=3, mechanism=5,
                                                 auth_value=b"K56iVagY"))) == (1, 3)
    assert cc.aare_result(conn.handle(99, A1)) == (1, 1)              # unknown client SAP
    assert cc.aare_result(conn.handle(16, h("60 03 A1 01 06"))) == (1, 1)   # malformed BER
    assert conn.handle(16, cc.get(1, LDN, 2)) == h("D8 01 01")


def test_object_list_by_block_transfer(srv):
    conn = srv.connection()
    aare = conn.handle(16, cc.aarq(user_info=cc.initiate_request(pdu=128)))
    assert cc.aare_result(aare) == (0, 0)
    first = conn.handle(16, cc.get(15, ASSOC, 2))
    assert first[:2] == h("C4 02")
    raw = cc.read_long(lambda apdu: conn.handle(16, apdu), first)
    assert raw == b"".join(srv.model.object_list(0).chunks())
    objects = AssociationObjectListParser.parse_entries(parse_as_dlms_data(raw))
    lns = [bytes(o.logical_name.to_bytes()) for o in objects]
    assert LDN in lns and CLOCK in lns and len(lns) == srv.model.counts[0]
    # A wrong block number ends the transfer.
    first = conn.handle(16, cc.get(15, ASSOC, 2))
    assert conn.handle(16, cc.get_next(5)) == h("C4 02 C1 01 00 00 00 01 01 13")
    assert conn.handle(16, cc.get_next(1)) == h("C4 02 C1 01 00 00 00 01 01 10")


def test_data_longer_than_the_pdu_goes_in_blocks(srv):
    # A Data answer of exactly the negotiated PDU is one Get-Response-Normal; one octet more
    # goes in datablocks (the value stands in for a long attribute of the object model).
    conn = srv.connection()
    aare = conn.handle(16, cc.aarq(user_info=cc.initiate_request(pdu=64)))
    assert cc.aare_result(aare) == (0, 0)
    for size in (58, 59):
        value = (axdr.OCTET_STRING, bytes(range(size)))
        conn._value = lambda a: value
        first = conn.handle(16, cc.get(1, LDN, 2))
        encoded = axdr.encode(value)
        if 4 + len(encoded) <= 64:
            assert first == h("C4 01 C1 00") + encoded and len(first) == 64
        else:
            assert first[:2] == h("C4 02") and len(first) <= 64
            assert cc.read_long(lambda apdu: conn.handle(16, apdu), first) == encoded


def test_hls_gmac_management_association_is_the_spec_vector(srv):
    conn = srv.connection()
    assert conn.handle(1, A4) == A4R
    client = cc.Suite0Client(ic=1)
    client.server_title = SERVER_TITLE
    # Pending: nothing but the HLS reply is served.
    assert client.unprotect(conn.handle(1, client.protect(0xC8, GET_ENERGY)))[2] == h(
        "C4 01 C1 01 03")
    f_stoc = client.hls_reply(STOC)
    rsp = conn.handle(1, cc.action(15, ASSOC, 1, h("09 11") + f_stoc))
    assert rsp[:8] == h("C7 01 C1 00 01 00 09 11")
    ic = int.from_bytes(rsp[9:13], "big")
    assert ic == 0x01234569 and rsp[8:] == client.gmac(SERVER_TITLE, ic, b"K56iVagY")
    # Associated: every request ciphered, answered in its own protection form.
    tag, sc, plain = client.unprotect(conn.handle(1, client.protect(0xC8, GET_ENERGY)))
    assert (tag, sc, plain) == (0xCC, 0x30, ENERGY_VALUE)
    tag, sc, plain = client.unprotect(conn.handle(1, client.protect(0, GET_ENERGY,
                                                                    general=True)))
    assert (tag, sc, plain) == (0xDB, 0x30, ENERGY_VALUE)
    assert conn.handle(1, GET_ENERGY) == h("D8 01 01")              # plain: refused
    client.ic -= 1
    assert conn.handle(1, client.protect(0xC8, GET_ENERGY)) == h("D8 01 06") + (
        client.ic + 1).to_bytes(4, "big")                             # replayed counter
    bad = bytearray(client.protect(0xC8, GET_ENERGY))
    bad[-1] ^= 1
    assert conn.handle(1, bytes(bad)) == h("D8 01 05")
    assert conn.handle(1, client.protect(0xC8, GET_ENERGY, sc=0x10)) == h("D8 01 05")


def management(conn):
    """Run the HLS-GMAC association of client 1; return send(plain request) -> plain answer."""
    assert cc.aare_result(conn.handle(1, A4)) == (0, 14)
    client = cc.Suite0Client(ic=1)
    client.server_title = SERVER_TITLE
    f_stoc = client.hls_reply(STOC)
    assert client.unprotect(conn.handle(1, client.protect(0xCB, cc.action(
        15, ASSOC, 1, h("09 11") + f_stoc))))[2][:4] == h("C7 01 C1 00")

    def send(apdu):
        return client.unprotect(conn.handle(1, client.protect(0xC9, apdu)))[2]
    return send


TIME = h("09 0C 07 E8 03 0F 05 0C 1E 2D 00 FF C4 00")


def test_management_set_action_and_long_set(full):
    srv = full
    send = management(srv.connection())
    assert send(cc.set_(8, CLOCK, 2, TIME)) == h("C5 01 C1 00")
    assert srv.model.sources.values["clock.time"] == TIME[2:]
    assert send(cc.set_(8, CLOCK, 2, h("09 02 00 00"))) == h("C5 01 C1 FA")   # out of range
    assert send(cc.set_(8, CLOCK, 2, h("11 05"))) == h("C5 01 C1 0C")         # type unmatched
    # Set-Request-With-List: the serial is read-only, the clock is written.
    rsp = send(h("C1 04 C1 02 00 01 00 00 60 01 00 FF 02 00 00 08 00 00 01 00 00 FF 02 00 02"
                 " 09 08 31 32 33 34 35 36 37 38") + TIME)
    assert rsp == h("C5 05 C1 02 03 00")
    # The spec's one-block datablock SET, then the same value in two blocks.
    assert send(h("C1 02 C1 00 08 00 00 01 00 00 FF 02 00 01 00 00 00 01 0E") + TIME) == h(
        "C5 03 C1 00 00 00 00 01")
    assert send(h("C1 02 C1 00 08 00 00 01 00 00 FF 02 00 00 00 00 00 01 05") + TIME[:5]) == h(
        "C5 02 C1 00 00 00 01")
    assert send(h("C1 03 C1 01 00 00 00 02 09") + TIME[5:]) == h("C5 03 C1 00 00 00 00 02")
    assert send(h("C1 03 C1 01 00 00 00 03 01 00")) == h("C5 03 C1 12 00 00 00 03")
    # ACTION: success without data, unknown method, shift_time with the wrong parameter type.
    assert send(cc.action(8, CLOCK, 6, h("10 00 3C"))) == h("C7 01 C1 00 00")
    assert send(cc.action(8, CLOCK, 9)) == h("C7 01 C1 04 00")
    assert send(cc.action(8, CLOCK, 6, h("0F 01"))) == h("C7 01 C1 0C 00")
    assert send(cc.action(8, cc.obis("0-0:99.0.0"), 1)) == h("C7 01 C1 04 00")


def test_hls_failure_leaves_the_association_closed(srv):
    conn = srv.connection()
    assert cc.aare_result(conn.handle(1, A4)) == (0, 14)
    client = cc.Suite0Client(ic=1, ak=bytes(16))
    rsp = conn.handle(1, cc.action(15, ASSOC, 1, h("09 11") + client.hls_reply(STOC)))
    assert rsp == h("C7 01 C1 03 00")
    client = cc.Suite0Client(ic=5)
    client.server_title = SERVER_TITLE
    assert client.unprotect(conn.handle(1, client.protect(0xC8, GET_ENERGY)))[2] == h(
        "C4 01 C1 01 03")


def test_pre_established_client_needs_no_aarq(srv):
    conn = srv.connection()
    client = cc.Suite0Client(ic=0)
    assert conn.handle(102, GET_ENERGY) == h("D8 01 01")
    tag, sc, plain = client.unprotect(conn.handle(102, client.protect(0, GET_ENERGY,
                                                                      general=True)))
    assert (tag, plain) == (0xDB, ENERGY_VALUE)


@pytest.mark.parametrize("module", ["dlms/server.py", "links/tcp_wrapper.py", "links/optical.py",
                                    "runtime/cosem_service.py"])
def test_mpy_cross_compiles(module, tmp_path):
    out = tmp_path / "out.mpy"
    proc = subprocess.run([os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross"),
                           "-march=armv7emsp", "-o", str(out), os.path.join(mpy.FIRMWARE, module)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


SERVER = None


def shared_server():
    global SERVER
    if SERVER is None:
        SERVER = server.Server(Model(me382.rows(), CLIENTS, sources(), common.SERVER_SAP),
                               SERVER_TITLE, {1: (cc.EK, cc.AK)}, random=lambda n: STOC)
    return SERVER


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([0xC0, 0xC1, 0xC3, 0xC8, 0xDB, 0x60, 0x62, 0xFF]), st.binary(max_size=48),
       st.sampled_from([None, 16, 1]))
def test_any_octets_get_an_answer_never_an_exception(tag, body, associated):
    conn = shared_server().connection()
    sap = 16
    if associated == 16:
        conn.handle(16, A1)
    elif associated == 1:
        sap = 1
        conn.handle(1, cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                               auth_value=b"K56iVagY"))
    rsp = conn.handle(sap, bytes((tag,)) + body)
    assert rsp is None or rsp[0] in (0x61, 0x63, 0xC4, 0xC5, 0xC7, 0xD8)
    conn.close()


def test_clients_with_the_same_keys_share_one_counter(srv):
    assert srv.suites[1] is srv.suites[102]
    conn = srv.connection()
    client = cc.Suite0Client()
    conn.handle(102, client.protect(0, GET_ENERGY, general=True))
    assert srv.suites[1].tx_ic == 0x01234567


# ---------------------------------------------------------------- dedicated key

DK = bytes.fromhex("00112233445566778899AABBCCDDEEFF")


def initiate_with_key(key, conformance=0x007E1F, pdu=1200):
    return (b"\x01\x01" + bytes((len(key),)) + key + b"\x00\x00\x06\x5f\x1f\x04\x00" +
            conformance.to_bytes(3, "big") + pdu.to_bytes(2, "big"))


def dedicated_association(app, key=DK):
    """Management association whose glo-initiateRequest carries a dedicated key: (connection,
    global client suite, dedicated client suite) sharing one counter."""
    conn = app.connection()
    glo = cc.Suite0Client(ic=1)
    aare = conn.handle(1, cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                  auth_value=b"K56iVagY",
                                  user_info=glo.protect(0x21, initiate_with_key(key))))
    assert cc.aare_result(aare) == (0, 14), aare.hex()
    glo.server_title = SERVER_TITLE
    assert glo.unprotect(conn.handle(1, glo.protect(0xCB, cc.action(
        15, ASSOC, 1, h("09 11") + glo.hls_reply(STOC)))))[2][:4] == h("C7 01 C1 00")
    ded = cc.Suite0Client(ek=key, ic=glo.ic)
    ded.server_title = SERVER_TITLE
    return conn, glo, ded


def test_dedicated_key_ciphers_the_association(full):
    conn, glo, ded = dedicated_association(full)
    want = h("C4 01 C1 00 06 00 12 D6 87")             # energy.A+ 1234567000 mWh -> Wh
    rsp = conn.handle(1, ded.protect(0xD0, cc.get(3, cc.obis("1-0:1.8.0"), 2)))
    assert rsp[0] == 0xD4 and ded.unprotect(rsp)[2] == want
    # The global key stays accepted (one counter for both, as clients keep it).
    glo.ic = ded.ic
    rsp = conn.handle(1, glo.protect(0xC8, cc.get(3, cc.obis("1-0:1.8.0"), 2)))
    assert rsp[0] == 0xCC and glo.unprotect(rsp)[2] == want
    # General-ded-ciphering: answered general-ded with our system title.
    ded.ic = glo.ic
    req = ded.protect(0, cc.get(3, cc.obis("1-0:1.8.0"), 2), general=True)
    rsp = conn.handle(1, b"\xdc" + req[1:])
    assert rsp[0] == 0xDC and rsp[2:10] == SERVER_TITLE
    assert ded.unprotect(b"\xdb" + rsp[1:])[2] == want
    # A ded- request under the global key does not decipher; a replayed one is refused.
    glo.ic = ded.ic
    assert conn.handle(1, glo.protect(0xD0, cc.get(3, cc.obis("1-0:1.8.0"), 2))) == \
        h("D8 01 05")
    ded.ic -= 1
    assert conn.handle(1, ded.protect(0xD0, cc.get(3, cc.obis("1-0:1.8.0"), 2)))[:3] == \
        h("D8 01 06")


def test_dedicated_key_refusals(full):
    # Without a dedicated key, ded- requests do not decipher.
    conn = full.connection()
    client = cc.Suite0Client(ic=1)
    assert cc.aare_result(conn.handle(1, cc.aarq(
        context=3, mechanism=5, title=cc.CLIENT_TITLE, auth_value=b"K56iVagY",
        user_info=client.protect(0x21, cc.initiate_request())))) == (0, 14)
    client.server_title = SERVER_TITLE
    client.unprotect(conn.handle(1, client.protect(0xCB, cc.action(
        15, ASSOC, 1, h("09 11") + client.hls_reply(STOC)))))
    assert conn.handle(1, client.protect(0xD0, cc.get(1, LDN, 2))) == h("D8 01 05")
    # A dedicated key in a plain InitiateRequest, or one of the wrong size: AARE rejected.
    conn = full.connection()
    aare = conn.handle(16, cc.aarq(user_info=initiate_with_key(DK)))
    assert cc.aare_result(aare) == (1, 1) and cc.aare_user_info(aare) == h("0E 01 06 00")
    client = cc.Suite0Client(ic=10)
    aare = conn.handle(1, cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE,
                                  auth_value=b"K56iVagY",
                                  user_info=client.protect(0x21, initiate_with_key(DK[:8]))))
    assert cc.aare_result(aare) == (1, 1)
    assert conn.handle(1, client.protect(0xD0, cc.get(1, LDN, 2))) == h("D8 01 01")


def test_dedicated_key_matches_the_green_book_aarq_vector():
    # Spec vector A5: the Green Book's ciphered AARQ with dedicated key 00112233..FF.
    a5 = h("60 66 A1 09 06 07 60 85 74 05 08 01 03 A6 0A 04 08 4D 4D 4D 00 00 BC 61 4E 8A 02 07"
           " 80 8B 07 60 85 74 05 08 02 01 AC 0A 80 08 31 32 33 34 35 36 37 38 BE 34 04 32 21 30"
           " 30 01 23 45 67 80 13 02 FF 8A 78 74 13 3D 41 4C ED 25 B4 25 34 D2 8D B0 04 77 20 60"
           " 6B 17 5B D5 22 11 BE 68 41 DB 20 4D 39 EE 6F DB 8E 35 68 55")
    from dlms import acse, security
    req = acse.decode_aarq(a5)
    _, _, body = security.parse(req.user_info)
    s = security.Suite0(cc.EK, cc.AK, h("4D4D4D0000BC614E"))
    plain = bytes(s.unprotect(body, security.SC_AUTH_ENC, h("4D4D4D0000BC614E")))
    assert initiate.decode_request(plain).dedicated_key == DK
