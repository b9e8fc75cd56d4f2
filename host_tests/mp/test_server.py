# MicroPython-only checks of dlms.server: the spec association vectors (plain and HLS-GMAC with
# a glo-ciphered InitiateRequest), pass 3/4 and ciphered GETs with security.Suite0 as the
# client, object_list block transfer (service-specific and general), and a heap that stays
# bounded over a long session.
import gc

from cosem.association import Client
from cosem.objects import Model
from cosem.sources import DictSources
from dlms import axdr, security, server
from models import common, me382


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def h(text):
    return bytes.fromhex(text.replace(" ", ""))


EK = h("000102030405060708090A0B0C0D0E0F")
AK = h("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
SERVER_TITLE = h("4D4D4D0000BC614E")
CLIENT_TITLE = h("4D4D4D0000000001")
A1 = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F"
       " 04 B0")
A1R = h("61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 10 04 0E"
        " 08 00 06 5F 1F 04 00 00 50 1F 01 F4 00 07")
A4 = h("60 55 A1 09 06 07 60 85 74 05 08 01 03 A6 0A 04 08 4D 4D 4D 00 00 00 00 01 8A 02 07 80"
       " 8B 07 60 85 74 05 08 02 05 AC 0A 80 08 4B 35 36 69 56 61 67 59 BE 23 04 21 21 1F 30 00"
       " 00 00 01 99 45 AB 0E 57 09 75 CC DF 51 E3 C7 9C 10 08 01 19 B6 7B 67 D1 8F BD EA B7 9E")
A4R = h("61 61 A1 09 06 07 60 85 74 05 08 01 03 A2 03 02 01 00 A3 05 A1 03 02 01 0E A4 0A 04 08"
        " 4D 4D 4D 00 00 BC 61 4E 88 02 07 80 89 07 60 85 74 05 08 02 05 AA 0A 80 08 50 36 77 52"
        " 4A 32 31 46 BE 23 04 21 28 1F 30 01 23 45 67 89 12 14 A0 84 5E 47 57 38 38 3A 91 BC 19"
        " 71 17 58 1D 85 AD B6 48 D9 79 E2 FB")
GET_ENERGY = h("C0 01 C1 00 03 01 00 01 08 00 FF 02 00")
GET_OBJECTS = h("C0 01 C1 00 0F 00 00 28 00 00 FF 02 00")


def make_server():
    clients = (Client(16, "public", 1, 1, 0, max_pdu=500),
               Client(1, "management", 2, 3, 5, security_setup="0-0:43.0.0", max_pdu=500),
               Client(102, "preestablished", 3, 3, 0, security_setup="0-0:43.0.0",
                      pre_established=True))
    values = dict(common.SETTINGS)
    values.update({"id.ldn": b"ISK1030000001234", "energy.A+": 1234567000})
    model = Model(me382.rows(), clients, DictSources(values=values), 1)
    s = server.Server(model, SERVER_TITLE, {1: (EK, AK)}, random=lambda n: b"P6wRJ21F")
    s.suites[1].tx_ic = 0x01234566
    return s


def test_public_vectors():
    conn = make_server().connection()
    check(conn.handle(16, GET_ENERGY) == h("D8 01 01"), "before the association")
    check(conn.handle(16, A1) == A1R, "AARE")
    check(conn.handle(16, GET_ENERGY) == h("C4 01 C1 01 04"), "invisible to the public client")
    check(conn.handle(16, h("62 03 80 01 00")) == h("63 03 80 01 00"), "RLRE")


def test_hls_gmac_and_ciphered_get():
    conn = make_server().connection()
    check(conn.handle(1, A4) == A4R, "AARE pending with glo-initiateResponse")
    client = security.Suite0(EK, AK, CLIENT_TITLE)
    client.set_peer_title(SERVER_TITLE)
    client.tx_ic = 1
    f_stoc = client.hls_answer(b"P6wRJ21F")
    act = h("C3 01 C1 00 0F 00 00 28 00 00 FF 01 01 09 11") + f_stoc
    tag, title, body = security.parse(conn.handle(1, bytes(client.protect(0x30, act, 0xCB))))
    rsp = bytes(client.unprotect(body, security.SC_AUTH_ENC))
    check(tag == 0xCF and rsp[:8] == h("C7 01 C1 00 01 00 09 11"), "pass 4")
    # f(CtoS) carries the counter before the one of the response that brought it.
    client.rx_ic = 0
    client.hls_check(b"K56iVagY", rsp[8:])
    tag, title, body = security.parse(conn.handle(1, bytes(client.protect(0x30, GET_ENERGY,
                                                                          0xC8))))
    check(bytes(client.unprotect(body, security.SC_AUTH_ENC)) == h("C4 01 C1 00 06 00 12 D6 87"),
          "glo-get-response")


def test_object_list_blocks_and_bounded_heap():
    s = make_server()
    conn = s.connection()
    check(conn.handle(16, A1[:-2] + h("00 40"))[:2] == h("61 29"), "AARE, client PDU 64")
    expected = b"".join(s.model.object_list(0).chunks())
    heap = None
    for round in range(4):
        rsp = conn.handle(16, GET_OBJECTS)
        data = b""
        for _ in range(100):
            check(rsp[:2] == h("C4 02"), "datablock")
            n, pos = axdr.decode_length(rsp, 9)
            data += rsp[pos:pos + n]
            if rsp[3]:
                break
            rsp = conn.handle(16, h("C0 02 C1") + rsp[4:8])
        check(data == expected, "object_list by blocks")
        gc.collect()
        if heap is None:
            heap = gc.mem_alloc()
        check(gc.mem_alloc() <= heap + 2048, "heap grows over sessions")


def test_conformance_is_enforced_per_request():
    conn = make_server().connection()
    check(conn.handle(16, A1) == A1R, "AARE, conformance 00501F")
    get_list = h("C0 03 C1 02 00 01 00 00 2A 00 00 FF 02 00 00 03 01 00 01 08 00 FF 02 00")
    check(conn.handle(16, get_list) == h("D8 01 02"), "with-list not negotiated")
    set_block = h("C1 02 C1 00 08 00 00 01 00 00 FF 02 00 01 00 00 00 01 02 11 05")
    check(conn.handle(16, set_block) == h("D8 01 02"), "block transfer with SET not negotiated")
    get_ldn = h("C0 01 C1 00 01 00 00 2A 00 00 FF 02 00")
    check(conn.handle(16, get_ldn)[:4] == h("C4 01 C1 00"), "GET still served")
    # A client proposing GET only (conformance 000010).
    aarq = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00"
             " 00 10 04 B0")
    check(conn.handle(16, aarq)[:4] == h("61 29 A1 09"), "AARE")
    for apdu in (h("C3 01 C1 00 08 00 00 01 00 00 FF 06 01 10 00 3C"),
                 h("C1 01 C1 00 01 00 00 2A 00 00 FF 02 00 09 01 41"), h("C0 02 C1 00 00 00 01")):
        check(conn.handle(16, apdu) == h("D8 01 02"), "not negotiated: " + apdu.hex())
    check(conn.handle(16, get_ldn)[:4] == h("C4 01 C1 00"), "GET served")


def _ber(tag, content):
    return bytes((tag, len(content))) + content


def test_dedicated_key():
    app = make_server()
    conn = app.connection()
    dk = h("00112233445566778899AABBCCDDEEFF")
    glo = security.Suite0(EK, AK, CLIENT_TITLE)
    glo.set_peer_title(SERVER_TITLE)
    init = b"\x01\x01\x10" + dk + h("00 00 06 5F 1F 04 00 00 7E 1F 04 B0")
    aarq = _ber(0x60, _ber(0xA1, _ber(0x06, h("60 85 74 05 08 01 03"))) +
                _ber(0xA6, _ber(0x04, CLIENT_TITLE)) + h("8A 02 07 80") +
                _ber(0x8B, h("60 85 74 05 08 02 05")) + _ber(0xAC, _ber(0x80, b"K56iVagY")) +
                _ber(0xBE, _ber(0x04, bytes(glo.protect(0x30, init, 0x21)))))
    aare = conn.handle(1, aarq)
    check(h("A2 03 02 01 00") in aare and h("A1 03 02 01 0E") in aare, "AARE pending HLS")
    act = h("C3 01 C1 00 0F 00 00 28 00 00 FF 01 01 09 11") + glo.hls_answer(b"P6wRJ21F")
    tag, _, body = security.parse(conn.handle(1, bytes(glo.protect(0x30, act, 0xCB))))
    check(bytes(glo.unprotect(body, 0x30))[:4] == h("C7 01 C1 00"), "pass 3")
    ded = security.Suite0(dk, AK, CLIENT_TITLE)
    ded.set_peer_title(SERVER_TITLE)
    ded.tx_ic = glo.tx_ic
    rsp = conn.handle(1, bytes(ded.protect(0x30, GET_ENERGY, 0xD0)))
    tag, _, body = security.parse(rsp)
    check(tag == 0xD4, "ded-get-response")
    check(bytes(ded.unprotect(body, 0x30)) == h("C4 01 C1 00 06 00 12 D6 87"), "value")
    glo.tx_ic = ded.tx_ic
    tag, _, body = security.parse(conn.handle(1, bytes(glo.protect(0x30, GET_ENERGY, 0xC8))))
    check(tag == 0xCC, "glo- still accepted")


def test_general_block_transfer():
    # A public client offered every service of the meter proposes GBT with a PDU of 64: the
    # object list requested in three GBT blocks comes back in GBT blocks of at most 64 octets
    # that reassemble to the plain answer (about 500 octets: one APDU in GBT).
    from dlms import gbt
    clients = (Client(16, "public", 1, 1, 0, conformance=common.CONFORMANCE),
               Client(1, "management", 2, 3, 5, security_setup="0-0:43.0.0"),
               Client(102, "preestablished", 3, 3, 0, security_setup="0-0:43.0.0",
                      pre_established=True))
    values = dict(common.SETTINGS)
    values.update({"id.ldn": b"ISK1030000001234"})
    model = Model(me382.rows(), clients, DictSources(values=values), 1)
    app = server.Server(model, SERVER_TITLE, {1: (EK, AK)})
    conn = app.connection()
    aarq = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 20"
             " 7E 1F 00 40")
    check(conn.handle(16, aarq)[:4] == h("61 29 A1 09"), "AARE")
    rsp = None
    for bn, part in ((1, GET_OBJECTS[:5]), (2, GET_OBJECTS[5:10]), (3, GET_OBJECTS[10:])):
        rsp = conn.handle(16, gbt.encode(gbt.LAST | 1 if bn == 3 else 1, bn, 0, part))
        check(rsp[0] == 0xE0, "GBT answer")
    got = b""
    bn = 4
    while True:
        check(len(rsp) <= 64, "block fits the client's PDU")
        control, sbn, ack, data = gbt.decode(rsp)
        got += data
        if control & gbt.LAST:
            break
        rsp = conn.handle(16, gbt.encode(1, bn, sbn, b""))
        bn += 1
    check(got[:4] == h("C4 01 C1 00") and len(got) > 400, "Get-Response-Normal")
    plain = app.connection()
    check(plain.handle(16, aarq.replace(h("00 40"), h("04 00"))) is not None, "AARE 1024")
    check(plain.handle(16, GET_OBJECTS) == got, "same as the plain answer")
