"""General block transfer (dlms.gbt and its use in dlms.server), with raw APDUs: the framing
against the spec vectors and a hypothesis round trip, the window-1 exchange, requests carried in
GBT (plain and ciphered) answered in GBT blocks that reassemble to the normal answer, refusals
that change nothing, and the codec under micropython."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cosem_client as cc
import mpy
from dlms import gbt, initiate
from test_server import ASSOC, ENERGY_VALUE, GET_ENERGY, LDN, full, h   # noqa: F401 (fixture)

GBT_CONFORMANCE = 0x007E1F | initiate.GENERAL_BLOCK_TRANSFER
# Spec vectors (protocol.md): the GET-Request and its GET-Response, each in one GBT block.
GBT_GET = h("E0 81 00 01 00 00 0D C0 01 C1 00 03 01 00 01 08 00 FF 02 00")
GBT_RSP = h("E0 81 00 01 00 01 09 C4 01 C1 00 06 00 12 D6 87")


# ------------------------------------------------------------------ framing

def test_spec_vectors():
    assert gbt.decode(GBT_GET) == (0x81, 1, 0, GET_ENERGY)
    assert gbt.encode(0x81, 1, 1, ENERGY_VALUE) == GBT_RSP


@settings(max_examples=300, deadline=None)
@given(control=st.integers(0, 255), bn=st.integers(0, 0xFFFF), ack=st.integers(0, 0xFFFF),
       data=st.binary(max_size=600))
def test_framing_round_trip(control, bn, ack, data):
    apdu = gbt.encode(control, bn, ack, data)
    assert gbt.decode(apdu) == (control, bn, ack, data)
    for bad in (apdu[:-1], apdu + b"\x00"):
        with pytest.raises(gbt.GbtError):
            gbt.decode(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_decode_takes_any_octets(raw):
    try:
        control, bn, ack, data = gbt.decode(raw)
    except gbt.GbtError:
        return
    assert gbt.encode(control, bn, ack, data) == raw or raw[6] & 0x80   # long length forms


# ------------------------------------------------------------------ exchange

def blocks_of(apdu, size, first=1, last_flag=True):
    """The client's GBT blocks carrying `apdu`, block numbers from `first`."""
    parts = [apdu[i:i + size] for i in range(0, len(apdu), size)]
    return [gbt.encode((gbt.LAST if last_flag and k == len(parts) - 1 else 0) | 1, first + k,
                       0, p) for k, p in enumerate(parts)]


def test_request_in_blocks_then_response_in_blocks():
    t = gbt.Transfer(100, 4)
    req = bytes(range(10))
    got = [t.receive(b) for b in blocks_of(req, 4, first=7)]
    assert got[0] == (None, gbt.encode(1, 1, 7, b""))
    assert got[1] == (None, gbt.encode(1, 2, 8, b""))
    assert got[2] == (req, None)
    rsp = bytes(range(100, 110))
    assert t.send(rsp) == gbt.encode(1, 3, 9, rsp[:4])
    assert t.receive(gbt.encode(1, 10, 3, b"")) == (None, gbt.encode(1, 4, 10, rsp[4:8]))
    # The client did not get block 4: acknowledging 3 again gets it again.
    assert t.receive(gbt.encode(1, 11, 3, b"")) == (None, gbt.encode(1, 4, 11, rsp[4:8]))
    assert t.receive(gbt.encode(1, 12, 4, b"")) == (None, gbt.encode(0x81, 5, 12, rsp[8:]))
    # The exchange is over: a bare acknowledgement is refused, a new request starts anew.
    with pytest.raises(gbt.GbtError):
        t.receive(gbt.encode(1, 13, 5, b""))
    assert t.receive(gbt.encode(0x81, 1, 0, b"x")) == (b"x", None)
    assert t.send(b"y") == gbt.encode(0x81, 1, 1, b"y")


@pytest.mark.parametrize("blocks", [
    [gbt.encode(0x41, 1, 0, b"ab")],                                  # streaming
    [gbt.encode(0x01, 1, 0, b"ab"), gbt.encode(0x81, 3, 0, b"cd")],   # a gap
    [gbt.encode(0x01, 1, 0, b"ab"), gbt.encode(0x81, 1, 0, b"cd")],   # a repeat
    [gbt.encode(0x81, 1, 0, b"")],                                    # nothing to send
    [gbt.encode(0x01, 1, 0, b"a" * 8), gbt.encode(0x81, 2, 0, b"a" * 8)],   # too long
    [h("E0 81 00 01 00 00 05 C0")],                                   # truncated
])
def test_bad_exchanges_are_dropped(blocks):
    t = gbt.Transfer(12, 4)
    with pytest.raises(gbt.GbtError):
        for b in blocks:
            t.receive(b)
    assert t.receive(gbt.encode(0x81, 9, 0, b"ok")) == (b"ok", None)


def test_unknown_acknowledgement_while_sending():
    t = gbt.Transfer(12, 2)
    t.receive(gbt.encode(0x81, 1, 0, b"q"))
    assert t.send(b"abcdef") == gbt.encode(1, 1, 1, b"ab")
    with pytest.raises(gbt.GbtError):
        t.receive(gbt.encode(1, 2, 5, b""))
    with pytest.raises(gbt.GbtError):      # the response was dropped with the error
        t.receive(gbt.encode(1, 3, 1, b""))


# ------------------------------------------------------------------ server

def associate(app, conformance=GBT_CONFORMANCE, pdu=1200):
    conn = app.connection()
    aare = conn.handle(16, cc.aarq(user_info=cc.initiate_request(conformance=conformance,
                                                                 pdu=pdu)))
    assert cc.aare_result(aare) == (0, 0)
    return conn


def exchange(request, apdu, size, pdu, first=1):
    """Send `apdu` in GBT blocks of `size` octets, fetch the whole GBT answer; the answer APDU
    and the next free client block number. Every block we get fits in `pdu` octets."""
    bn = first
    for b in blocks_of(apdu, size, first):
        rsp = request(b)
        bn += 1
    out = b""
    for _ in range(1000):
        assert len(rsp) <= pdu
        control, sbn, ack, data = gbt.decode(rsp)
        assert ack == bn - 1 and control & gbt.WINDOW == 1
        out += data
        if control & gbt.LAST:
            return out, bn
        rsp = request(gbt.encode(1, bn, sbn, b""))
        bn += 1
    raise AssertionError("too many blocks")


GET_LDN = h("C0 01 C1 00 01 00 00 2A 00 00 FF 02 00")
LDN_VALUE = h("C4 01 C1 00 09 10") + b"ISK1030000001234"
GBT_LDN = gbt.encode(0x81, 1, 0, GET_LDN)
GBT_LDN_VALUE = gbt.encode(0x81, 1, 1, LDN_VALUE)


def test_get_in_one_block(full):
    conn = associate(full)
    assert conn.handle(16, GET_LDN) == LDN_VALUE
    assert conn.handle(16, GBT_LDN) == GBT_LDN_VALUE


def test_gbt_needs_the_conformance_bit(full):
    conn = associate(full, conformance=0x007E1F)
    assert conn.handle(16, GBT_LDN) == h("D8 01 02")
    assert conn.handle(16, GET_LDN) == LDN_VALUE
    assert full.connection().handle(16, GBT_LDN) == h("D8 01 01")   # not associated


def get_list(n, desc=b"\x00\x01" + LDN + b"\x02"):
    """Get-Request-With-List of `n` times the same attribute."""
    return b"\xc0\x03\xc1" + bytes((n,)) + (desc + b"\x00") * n


OBJECT_LISTS = get_list(3, b"\x00\x0f" + ASSOC + b"\x02")


def test_long_get_in_gbt_blocks_equals_the_normal_answer(full):
    # A GET-with-list answer far longer than the client's PDU of 64: plain it comes in GET
    # datablocks, in GBT as the Get-Response-With-List of a client with a large PDU.
    normal = associate(full).handle(16, get_list(20))
    assert normal[:2] == h("C4 03") and len(normal) > 300
    conn = associate(full, pdu=64)
    assert conn.handle(16, get_list(20))[:2] == h("C4 02")        # datablocks without GBT
    got, bn = exchange(lambda a: conn.handle(16, a), get_list(20), 16, 64)
    assert got == normal
    # A second exchange on the same association, then plain requests go on as before.
    assert exchange(lambda a: conn.handle(16, a), GET_LDN, 5, 64, bn)[0] == LDN_VALUE
    assert conn.handle(16, GET_LDN) == LDN_VALUE


def test_longer_answers_go_on_in_datablocks_carried_in_gbt(full):
    conn = associate(full, pdu=64)
    request = lambda a: conn.handle(16, a)          # noqa: E731
    # The object list (about 500 octets) three times: more than the 1024 octets of one answer.
    first, bn = exchange(request, OBJECT_LISTS, 64, 64)
    assert first[:2] == h("C4 02")

    def next_block(apdu):
        nonlocal bn
        rsp, bn = exchange(request, apdu, 64, 64, bn)
        return rsp
    raw = cc.read_long(next_block, first)
    plain = associate(full)
    assert raw == cc.read_long(lambda a: plain.handle(16, a), plain.handle(16, OBJECT_LISTS))
    assert len(raw) > 1024


def test_ciphered_request_in_gbt(full):
    conn = full.connection()
    client = cc.Suite0Client(ic=0)
    client.server_title = h("4D4D4D0000BC614E")
    glo = client.protect(0, GET_ENERGY, general=True)
    assert conn.handle(102, glo)[0] == 0xDB          # pre-established by a ciphered request
    answer, _ = exchange(lambda a: conn.handle(102, a),
                         client.protect(0, GET_ENERGY, general=True), 20, 1024)
    tag, sc, plain = client.unprotect(answer)
    assert (tag, plain) == (0xDB, ENERGY_VALUE)
    # A plain request carried in GBT is still refused in the ciphered context (the refusal
    # answers the carried request, so it comes in GBT).
    assert conn.handle(102, GBT_LDN) == gbt.encode(0x81, 1, 1, h("D8 01 01"))


@pytest.mark.parametrize("apdu", [
    GBT_GET,                                                    # GBT inside GBT
    cc.aarq(user_info=cc.initiate_request(conformance=GBT_CONFORMANCE)),
    cc.RLRQ,
    b"\xc0",                                                    # not a request
])
def test_refused_contents_change_nothing(full, apdu):
    conn = associate(full)
    rsp = conn.handle(16, gbt.encode(0x81, 1, 0, apdu))
    if rsp[0] == 0xE0:
        rsp = gbt.decode(rsp)[3]
    assert rsp[0] == 0xD8
    assert conn.handle(16, GBT_LDN) == GBT_LDN_VALUE           # still associated, GBT works


def test_bad_blocks_get_an_exception_and_change_nothing(full):
    conn = associate(full)
    assert conn.handle(16, gbt.encode(0x01, 1, 0, GET_LDN[:5]))[0] == 0xE0
    assert conn.handle(16, gbt.encode(0x81, 3, 0, GET_LDN[5:])) == h("D8 01 03")
    assert conn.handle(16, gbt.encode(0xC1, 1, 0, GET_LDN)) == h("D8 01 03")
    assert conn.handle(16, h("E0 81 00")) == h("D8 01 03")
    assert conn.handle(16, GBT_LDN) == GBT_LDN_VALUE


# ------------------------------------------------------------------ micropython

def test_gbt_under_micropython():
    out = mpy.run_code(
        "import sys; sys.path[:0] = ['firmware']\n"
        "from dlms import gbt\n"
        "t = gbt.Transfer(100, 3)\n"
        "print(t.receive(gbt.encode(1, 1, 0, b'abc'))[1].hex())\n"
        "print(t.receive(gbt.encode(0x81, 2, 0, b'de'))[0])\n"
        "print(t.send(b'12345').hex())\n"
        "print(t.receive(gbt.encode(1, 3, 2, b''))[1].hex())\n"
        "try:\n"
        "    gbt.decode(b'\\xe0\\x81')\n"
        "except gbt.GbtError:\n"
        "    print('refused')\n")
    assert out.split() == [gbt.encode(1, 1, 1, b"").hex(), "b'abcde'",
                           gbt.encode(1, 2, 2, b"123").hex(), gbt.encode(0x81, 3, 3, b"45").hex(),
                           "refused"]
