"""HDLC frames and the server link state machine: spec frames F1..F15, dlms-cosem as an oracle,
segmentation, recovery rules, timeouts and fuzzing."""
import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dlms_cosem.crc import CRCCCITT
from dlms_cosem.hdlc import frames as dcf
from dlms_cosem.hdlc.address import HdlcAddress
from links import hdlc
from links.crc16 import crc16, _crc_py
import mpy


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


F1 = h("7E A0 08 02 23 21 93 BD 64 7E")
F2 = h("7E A0 15 02 23 21 93 89 AC 81 80 08 05 02 02 00 06 02 02 00 43 B0 7E")
F3 = h("7E A0 1F 21 02 23 73 E6 C7 81 80 12 05 01 80 06 01 80 07 04 00 00 00 01 08 04 00 00 00 01 53 3B 7E")
F3B = h("7E A0 1F 21 02 23 73 E6 C7 81 80 12 05 01 9A 06 01 9A 07 04 00 00 00 01 08 04 00 00 00 01 CC A2 7E")
F4 = h("7E A0 2C 02 23 21 10 AF 9F E6 E6 00 60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 1E 1D FF FF C5 E4 7E")
F5 = h("7E A0 38 21 02 23 30 34 E7 E6 E7 00 61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 10 04 0E 08 00 06 5F 1F 04 00 00 1E 1D 04 C8 00 07 B8 6A 7E")
F6 = h("7E A0 1A 02 23 21 32 F6 72 E6 E6 00 C0 01 C1 00 08 00 00 01 00 00 FF 02 00 60 1A 7E")
F7 = h("7E A0 1F 21 02 23 52 6D F7 E6 E7 00 C4 01 C1 00 09 0C 07 E8 03 0F 05 0C 1E 2D 00 FF 88 80 1B A0 7E")
F8 = h("7E A0 08 02 23 21 51 A3 81 7E")
F9 = h("7E A0 08 02 23 21 53 B1 A2 7E")
F10 = h("7E A0 08 21 02 23 73 7A 43 7E")
F11 = h("7E A0 08 21 02 23 1F 10 EA 7E")
F12 = h("7E A0 08 21 02 23 31 6C 22 7E")
F13 = h("7E A0 07 03 03 93 8C 11 7E")
F14 = h("7E A0 0A 00 02 48 69 03 93 F8 E7 7E")
# Real-meter UI push frame (Data-Notification), from the dlms-cosem documentation.
F15 = h(
    "7ea2434108831385ebe6e7000f4000000000011b020209060000010000ff090c07e30c1001073b28ff"
    "8000ff020309060100010700ff060000046202020f00161b020309060100020700ff06000000000202"
    "0f00161b020309060100030700ff06000005e302020f00161d020309060100040700ff060000000002"
    "020f00161d0203090601001f0700ff10000002020fff1621020309060100330700ff10004b02020fff"
    "1621020309060100470700ff10000002020fff1621020309060100200700ff12090302020fff162302"
    "0309060100340700ff1209c302020fff1623020309060100480700ff12090402020fff162302030906"
    "0100150700ff060000000002020f00161b020309060100160700ff060000000002020f00161b020309"
    "060100170700ff060000000002020f00161d020309060100180700ff060000000002020f00161d0203"
    "09060100290700ff060000046202020f00161b0203090601002a0700ff060000000002020f00161b02"
    "03090601002b0700ff06000005e202020f00161d0203090601002c0700ff060000000002020f00161d"
    "0203090601003d0700ff060000000002020f00161b0203090601003e0700ff060000000002020f0016"
    "1b0203090601003f0700ff060000000002020f00161d020309060100400700ff060000000002020f00"
    "161d020309060100010800ff060099598602020f00161e020309060100020800ff060000000802020f"
    "00161e020309060100030800ff060064ed4b02020f001620020309060100040800ff06000000050202"
    "0f001620be407e")

SERVER = hdlc.server_address(1, 17)
CLIENT = hdlc.client_address(16)
LLC_REQ = b"\xe6\xe6\x00"
LLC_RSP = b"\xe6\xe7\x00"


def i_ctrl(ns, nr):
    return 0x10 | (ns << 1) | (nr << 5)


def rr_ctrl(nr):
    return 0x11 | (nr << 5)


def client_frame(ctrl, info=b"", segmented=False, dest=SERVER, src=CLIENT):
    return hdlc.encode_frame(dest, src, ctrl, info, segmented)


def make_server(**kw):
    kw.setdefault("physical", 17)
    return hdlc.HdlcServer(**kw)


def connected_server(**kw):
    s = make_server(**kw)
    frames, apdus, reset = s.feed(F1)
    assert reset and s.connected and len(frames) == 1
    return s


# ---------------------------------------------------------------- CRC

def test_crc_check_values():
    assert crc16(b"123456789") == 0x906E
    assert crc16(b"\x03\x3f") == 0xEC5B          # sent as 5B EC
    assert crc16(b"xx123456789yy", 2, 11) == 0x906E
    with pytest.raises(ValueError):
        crc16(b"12", 1, 3)


def _crc_bitwise(data):
    c = 0xFFFF
    for byte in data:
        c ^= byte
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
    return c ^ 0xFFFF


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_crc_matches_dlms_cosem_and_bitwise_reference(data):
    value = crc16(data)
    assert value == _crc_bitwise(data) == _crc_py(data, 0, len(data))
    # dlms-cosem's default output is the wire order (low octet first) despite its flag's name
    assert CRCCCITT().calculate_for(data) == bytes((value & 0xFF, value >> 8))


# ---------------------------------------------------------------- addresses

def test_address_vectors():
    assert hdlc.server_address(1) == h("03")
    assert hdlc.server_address(1, 17) == h("02 23")
    assert hdlc.server_address(1, 0x1234) == h("00 02 48 69")
    assert hdlc.server_address(1, 0x1234, size=4) == h("00 02 48 69")
    assert hdlc.server_address(1, 17, size=4) == h("00 02 00 23")
    assert hdlc.client_address(16) == h("21")
    assert hdlc.client_address(1) == h("03")
    assert hdlc.decode_address(h("00 02 48 69")) == (1, 0x1234)
    assert hdlc.decode_address(h("02 23")) == (1, 17)
    assert hdlc.decode_address(h("03")) == (1, None)
    for bad in ((0x80,), (1, 0x80, 2), (0x4000, 1, 4), (1, None, 2)):
        with pytest.raises(ValueError):
            hdlc.server_address(*bad)
    with pytest.raises(ValueError):
        hdlc.client_address(128)
    with pytest.raises(ValueError):
        hdlc.decode_address(h("00 00 01"))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 0x3FFF), st.integers(1, 0x3FFF))
def test_server_address_matches_dlms_cosem(upper, lower):
    ours = hdlc.server_address(upper, lower)
    assert hdlc.decode_address(ours) == (upper, lower)
    # dlms-cosem drops zero octets; compare only where it cannot.
    if all(ours) and (len(ours) == 2 or (upper > 0x7F and lower > 0x7F)):
        assert HdlcAddress(upper, lower, "server").to_bytes() == ours


# ---------------------------------------------------------------- frame codec

@pytest.mark.parametrize("wire,dest,src,control,info", [
    (F1, "02 23", "21", 0x93, ""),
    (F2, "02 23", "21", 0x93, "81 80 08 05 02 02 00 06 02 02 00"),
    (F3, "21", "02 23", 0x73, "81 80 12 05 01 80 06 01 80 07 04 00 00 00 01 08 04 00 00 00 01"),
    (F4, "02 23", "21", 0x10, F4[9:-3].hex()),
    (F5, "21", "02 23", 0x30, F5[9:-3].hex()),
    (F6, "02 23", "21", 0x32, F6[9:-3].hex()),
    (F7, "21", "02 23", 0x52, F7[9:-3].hex()),
    (F8, "02 23", "21", 0x51, ""),
    (F9, "02 23", "21", 0x53, ""),
    (F10, "21", "02 23", 0x73, ""),
    (F11, "21", "02 23", 0x1F, ""),
    (F12, "21", "02 23", 0x31, ""),
    (F13, "03", "03", 0x93, ""),
    (F14, "00 02 48 69", "03", 0x93, ""),
    (F15, "41", "08 83", 0x13, F15[9:-3].hex()),
])
def test_spec_frames_decode_and_encode(wire, dest, src, control, info):
    f = hdlc.decode_frame(wire)
    assert (f.dest, f.src, f.control, f.info, f.segmented) == (h(dest), h(src), control, h(info), False)
    assert hdlc.encode_frame(f.dest, f.src, f.control, f.info) == wire


def test_real_meter_push_frame_is_rebuilt_by_ui_frames():
    f = hdlc.decode_frame(F15)
    assert f.info[:3] == LLC_RSP and f.info[3] == 0x0F          # Data-Notification
    assert hdlc.ui_frames(f.info[3:], f.dest, f.src, max_info=600) == [F15]


def test_ui_frames_segment_long_push():
    apdu = bytes(range(256)) * 2
    out = hdlc.ui_frames(apdu, CLIENT, SERVER, max_info=128)
    decoded = [hdlc.decode_frame(x) for x in out]
    assert [d.segmented for d in decoded] == [True] * 4 + [False]
    assert all(d.control == 0x13 and len(d.info) <= 128 for d in decoded)
    assert b"".join(d.info for d in decoded) == LLC_RSP + apdu
    ui = dcf.UnnumberedInformationFrame.from_bytes(out[0])
    assert ui.segmented and ui.payload == decoded[0].info


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 7), st.integers(0, 7), st.binary(min_size=1, max_size=200), st.booleans(),
       st.integers(1, 0x7F), st.integers(1, 0x7F), st.integers(1, 0x7F))
def test_frames_match_dlms_cosem(ns, nr, payload, segmented, upper, lower, client):
    srv = HdlcAddress(upper, lower, "server")
    cli = HdlcAddress(client, None, "client")
    d, c = srv.to_bytes(), cli.to_bytes()
    assert hdlc.encode_frame(d, c, i_ctrl(ns, nr), payload, segmented) == \
        dcf.InformationFrame(srv, cli, payload, segmented=segmented, send_sequence_number=ns,
                             receive_sequence_number=nr).to_bytes()
    assert hdlc.encode_frame(d, c, rr_ctrl(nr)) == dcf.ReceiveReadyFrame(
        srv, cli, receive_sequence_number=nr).to_bytes()
    assert hdlc.encode_frame(d, c, 0x93) == dcf.SetNormalResponseModeFrame(srv, cli).to_bytes()
    assert hdlc.encode_frame(d, c, 0x53) == dcf.DisconnectFrame(srv, cli).to_bytes()
    assert hdlc.encode_frame(c, d, 0x73, payload) == \
        dcf.UnNumberedAcknowledgmentFrame(cli, srv, payload).to_bytes()
    parsed = dcf.InformationFrame.from_bytes(hdlc.encode_frame(c, d, i_ctrl(ns, nr), payload,
                                                               segmented))
    assert (parsed.payload, parsed.segmented, parsed.send_sequence_number,
            parsed.receive_sequence_number) == (payload, segmented, ns, nr)


def _with_checks(header, info):
    """Flags, HCS and FCS around header + info, whatever the layout."""
    body = bytearray(header)
    c = crc16(body)
    body += bytes((c & 0xFF, c >> 8)) + info
    c = crc16(body)
    return b"\x7e" + bytes(body) + bytes((c & 0xFF, c >> 8)) + b"\x7e"


@pytest.mark.parametrize("wire", [
    F1[:-1], F1[1:], b"\x7e" + F1[1:-1] + b"\x00", h("7E A0 09 02 23 21 93 BD 64 7E"),
    h("7E B0 08 02 23 21 93 BD 64 7E"), F1[:6] + b"\x92" + F1[7:],
    F4[:8] + bytes((F4[8] ^ 1,)) + F4[9:],                       # bad HCS
    F4[:-3] + bytes((F4[-3] ^ 0x80,)) + F4[-2:],                 # bad FCS
    hdlc.encode_frame(h("02 22 23"), CLIENT, 0x93),              # 3-octet address
    hdlc.encode_frame(h("02 22 22 22"), CLIENT, 0x93),           # no address terminator
    _with_checks(h("A0 0B 02 23 21 10"), b""),                 # HCS present, no information
])
def test_decode_frame_rejects_invalid_frames(wire):
    with pytest.raises(hdlc.FrameError):
        hdlc.decode_frame(wire)


# ---------------------------------------------------------------- server: spec conversation

def test_spec_conversation_f1_to_f11():
    s = make_server()
    assert s.feed(F1) == ([F3], [], True)
    assert (s.client, s.logical_device, s.physical_address) == (16, 1, 17)
    frames, apdus, reset = s.feed(F4)
    assert (frames, apdus, reset) == ([], [F4[12:-3]], False)
    assert s.send(F5[12:-3]) == [F5]
    frames, apdus, reset = s.feed(F6)
    assert (frames, apdus) == ([], [F6[12:-3]])
    assert s.send(F7[12:-3]) == [F7]
    # F8 acknowledges F7; nothing is pending, so the server answers RR with its V(R) = 2.
    assert s.feed(F8)[0] == [client_frame(rr_ctrl(2), dest=CLIENT, src=SERVER)]
    assert s.feed(F9) == ([F3], [], True)             # UA with the link parameters
    assert not s.connected
    assert s.feed(F9) == ([F11], [], False)


def test_ua_parameters_negotiation():
    s = make_server(max_info_tx=154, max_info_rx=154)
    assert s.feed(F1)[0] == [F3]                   # client defaults 128 < 154
    assert s.feed(F2)[0] == [F3B]                  # client offers 512: server limit 154
    assert (s.tx_max, s.rx_max) == (154, 154)
    big = make_server(max_info_tx=1024, max_info_rx=2030)
    ua = hdlc.decode_frame(big.feed(F2)[0][0])
    assert ua.info == h("81 80 14 05 02 02 00 06 02 02 00 07 04 00 00 00 01 08 04 00 00 00 01")
    assert (big.tx_max, big.rx_max) == (512, 512)
    dc = dcf.UnNumberedAcknowledgmentFrame.from_bytes(big.feed(F2)[0][0])
    assert dc.payload == ua.info


def test_asymmetric_negotiation_follows_each_view():
    # Client: tx 300 (server rx), rx 64 (server tx), windows 1.
    snrm = client_frame(0x93, h("81 80 0D 05 02 01 2C 06 01 40 07 01 01 08 01 01"))
    s = make_server(max_info_tx=1000, max_info_rx=1000)
    ua = hdlc.decode_frame(s.feed(snrm)[0][0])
    assert (s.tx_max, s.rx_max) == (64, 300)
    assert ua.info[3:10] == h("05 01 40 06 02 01 2C")


@pytest.mark.parametrize("info", [
    "81 80 03 05 01",                  # truncated parameter
    "81 81 03 05 01 80",               # wrong group id
    "80 80 03 05 01 80",               # wrong format id
    "81 80 05 05 01 80",               # group length beyond the field
    "81 80 03 05 05 01 02 03 04 05",   # 5-octet value
    "81 80 03 06 01 10",               # receive 16 < 32
    "81 80 06 07 04 00 00 00 00",      # window 0
    "81",
])
def test_unacceptable_snrm_parameters_get_dm(info):
    s = make_server()
    frames, apdus, reset = s.feed(client_frame(0x93, h(info)))
    assert frames == [F11] and not reset and not s.connected


def test_address_sizes_1_and_4_octets():
    s = hdlc.HdlcServer(logical_devices=(1,), physical=0x1234)
    ua = hdlc.decode_frame(s.feed(F14)[0][0])
    assert (ua.dest, ua.src, ua.control) == (h("03"), h("00 02 48 69"), 0x73)
    assert (s.client, s.logical_device, s.physical_address) == (1, 1, 0x1234)
    s = hdlc.HdlcServer(logical_devices=(1,), physical=0x1234)
    ua = hdlc.decode_frame(s.feed(F13)[0][0])
    assert (ua.dest, ua.src) == (h("03"), h("03"))
    assert s.physical_address is None


def test_frames_for_other_addresses_are_dropped():
    s = make_server()
    for dest in (hdlc.server_address(2, 17), hdlc.server_address(1, 18),
                 hdlc.server_address(0x7F, 17), hdlc.server_address(1, 0x7F)):
        assert s.feed(client_frame(0x93, dest=dest)) == ([], [], False)
    for src in (hdlc.client_address(0), hdlc.client_address(0x7F), h("20 21")):
        assert s.feed(client_frame(0x93, src=src)) == ([], [], False)
    assert not s.connected
    any_physical = hdlc.HdlcServer()
    assert len(any_physical.feed(client_frame(0x93, dest=hdlc.server_address(1, 99)))[0]) == 1


def test_bad_check_sequences_are_dropped():
    s = connected_server()
    bad_hcs = F4[:8] + bytes((F4[8] ^ 1,)) + F4[9:]
    bad_fcs = F4[:-2] + bytes((F4[-2] ^ 1,)) + F4[-1:]
    assert s.feed(bad_hcs) == ([], [], False)
    assert s.feed(bad_fcs) == ([], [], False)
    assert s.feed(F4)[1] == [F4[12:-3]]


def test_frames_in_disconnected_state_get_dm():
    s = make_server()
    for ctrl, info in ((i_ctrl(0, 0), LLC_REQ + b"\xc0"), (rr_ctrl(0), b""), (0x53, b""),
                       (0x13, LLC_REQ)):
        assert s.feed(client_frame(ctrl, info)) == ([F11], [], False)


# ---------------------------------------------------------------- server: segmentation

def test_long_answer_is_segmented_and_polled_with_rr():
    s = connected_server()
    s.feed(F4)
    apdu = bytes((i * 7) & 0xFF for i in range(400))
    frames = s.send(apdu)
    got, ns = [], 0
    while True:
        assert len(frames) == 1
        f = hdlc.decode_frame(frames[0])
        dc = dcf.InformationFrame.from_bytes(frames[0])
        assert (dc.send_sequence_number, dc.receive_sequence_number) == (ns, 1)
        assert f.segmented == dc.segmented and len(f.info) <= 128
        got.append(f.info)
        ns = (ns + 1) % 8
        if not f.segmented:
            break
        frames = s.feed(client_frame(rr_ctrl(ns)))[0]
    assert b"".join(got) == LLC_RSP + apdu
    assert len(got) == 4
    # the next request acknowledges the last segment
    assert s.feed(client_frame(i_ctrl(1, ns), LLC_REQ + b"\xc0\x01"))[1] == [b"\xc0\x01"]


def test_segmented_request_is_reassembled_f12():
    s = connected_server()
    apdu = bytes(range(200))
    part1 = LLC_REQ + apdu[:125]
    assert s.feed(client_frame(i_ctrl(0, 0), part1, segmented=True)) == ([F12], [], False)
    frames, apdus, _ = s.feed(client_frame(i_ctrl(1, 0), apdu[125:]))
    assert frames == [] and apdus == [apdu]
    rsp = hdlc.decode_frame(s.send(b"\xc4")[0])
    assert rsp.control == i_ctrl(0, 2) and rsp.info == LLC_RSP + b"\xc4"


def test_request_longer_than_max_apdu_is_rejected():
    s = connected_server(max_apdu=200)
    s.feed(client_frame(i_ctrl(0, 0), LLC_REQ + bytes(125), segmented=True))
    frames, apdus, _ = s.feed(client_frame(i_ctrl(1, 0), bytes(100)))
    assert apdus == []
    f = hdlc.decode_frame(frames[0])
    assert f.control == 0x97 and f.info == bytes((i_ctrl(1, 0), 1 << 5, hdlc.FRMR_Y))


def test_answer_waits_for_poll_when_client_polled_early():
    s = connected_server()
    s.feed(F4)
    # the client polls before the answer exists: the server returns the poll with RR
    assert s.feed(client_frame(rr_ctrl(0)))[0] == [client_frame(rr_ctrl(1), dest=CLIENT, src=SERVER)]
    assert s.send(b"\x61\x00") == []
    f = hdlc.decode_frame(s.feed(client_frame(rr_ctrl(0)))[0][0])
    assert f.control == i_ctrl(0, 1) and f.info == LLC_RSP + b"\x61\x00"


def test_rnr_holds_segments_back():
    s = connected_server()
    s.feed(F4)
    apdu = bytes(range(256)) + bytes(44)
    first = hdlc.decode_frame(s.send(apdu)[0])
    assert hdlc.decode_frame(s.feed(client_frame(0x15 | (1 << 5)))[0][0]).control == rr_ctrl(1)
    nxt = hdlc.decode_frame(s.feed(client_frame(rr_ctrl(1)))[0][0])
    assert nxt.control == i_ctrl(1, 1) and nxt.segmented
    assert first.info + nxt.info == LLC_RSP + apdu[:253]


# ---------------------------------------------------------------- server: recovery

def test_lost_answer_is_repeated_on_duplicate_request():
    s = connected_server()
    s.feed(F4)
    answer = s.send(F5[12:-3])
    assert s.feed(F4) == (answer, [], False)       # same N(S): the answer was lost


def test_lost_segment_is_repeated_on_rr():
    s = connected_server()
    s.feed(F4)
    first = s.send(bytes(300))
    assert s.feed(client_frame(rr_ctrl(0)))[0] == first
    assert hdlc.decode_frame(s.feed(client_frame(rr_ctrl(1)))[0][0]).control == i_ctrl(1, 1)


def test_lost_rr_is_repeated_on_duplicate_segment():
    s = connected_server()
    seg = client_frame(i_ctrl(0, 0), LLC_REQ + bytes(10), segmented=True)
    assert s.feed(seg)[0] == [F12]
    assert s.feed(seg)[0] == [F12]
    assert s.feed(client_frame(i_ctrl(1, 0), b"\x01"))[1] == [bytes(10) + b"\x01"]


def test_information_without_llc_header_is_discarded():
    s = connected_server()
    frames, apdus, _ = s.feed(client_frame(i_ctrl(0, 0), b"\xc0\x01\xc1\x00"))
    assert apdus == [] and frames == [F12]           # taken by the link, answered with RR
    assert s.feed(client_frame(i_ctrl(1, 0), LLC_REQ + b"\xc0"))[1] == [b"\xc0"]


def test_out_of_sequence_frame_gets_rr_with_expected_number():
    s = connected_server()
    frames, apdus, _ = s.feed(client_frame(i_ctrl(3, 0), LLC_REQ + b"\xc0"))
    assert apdus == [] and frames == [client_frame(rr_ctrl(0), dest=CLIENT, src=SERVER)]


def test_new_request_after_lost_answer_reuses_the_sequence_number():
    s = connected_server()
    s.feed(F4)
    s.send(b"\x61")                                  # I(0,1), never received
    assert s.feed(client_frame(i_ctrl(1, 0), LLC_REQ + b"\xc0"))[1] == [b"\xc0"]
    assert hdlc.decode_frame(s.send(b"\xc4")[0]).control == i_ctrl(0, 2)


@pytest.mark.parametrize("ctrl,info,reason", [
    (0x19, "", hdlc.FRMR_W),                         # REJ is not implemented
    (0x13, "E6 E6 00 C0", hdlc.FRMR_W),              # UI from the client
    (0x73, "", hdlc.FRMR_W),                         # UA is a response
    (0xFF, "", hdlc.FRMR_W),
    (0x31, "00", hdlc.FRMR_W | hdlc.FRMR_X),         # RR with information
    (0x10, "", hdlc.FRMR_W),                         # I-frame without information
    (0x10, "E6 E6 00" + " 00" * 126, hdlc.FRMR_Y),   # 129 > negotiated 128
    (0x30, "E6 E6 00 C0", hdlc.FRMR_Z),              # N(R)=1 acknowledges nothing sent
    (0x71, "", hdlc.FRMR_Z),
])
def test_frame_reject(ctrl, info, reason):
    s = connected_server()
    frames, apdus, reset = s.feed(client_frame(ctrl, h(info)))
    assert apdus == [] and not reset
    f = hdlc.decode_frame(frames[0])
    assert f.control == 0x97 and f.info == bytes((ctrl, 0, reason))
    # frame-reject condition: everything but SNRM/DISC gets the same FRMR again
    assert s.feed(F4)[0] == frames
    assert s.feed(F9) == ([F3], [], True)


def test_snrm_resets_a_rejecting_link():
    s = connected_server()
    s.feed(client_frame(0x19))
    assert s.feed(F1) == ([F3], [], True)
    assert s.feed(F4)[1] == [F4[12:-3]]


def test_snrm_from_another_client_takes_the_link_over():
    s = connected_server()
    s.feed(F4)
    other = hdlc.client_address(1)
    assert s.feed(client_frame(i_ctrl(1, 0), LLC_REQ + b"\xc0", src=other)) == ([], [], False)
    frames, apdus, reset = s.feed(client_frame(0x93, src=other))
    assert reset and s.client == 1 and hdlc.decode_frame(frames[0]).dest == other
    with pytest.raises(hdlc.HdlcStateError):
        s.send(b"\x61")


def test_send_without_request_raises():
    s = make_server()
    with pytest.raises(hdlc.HdlcStateError):
        s.send(b"\x61")
    s.feed(F1)
    with pytest.raises(hdlc.HdlcStateError):
        s.send(b"\x61")
    s.feed(F4)
    s.send(b"\x61")
    with pytest.raises(hdlc.HdlcStateError):
        s.send(b"\x61")


def test_reset_drops_apdus_of_the_dead_link():
    s = connected_server()
    frames, apdus, reset = s.feed(F4 + F9)
    assert apdus == [] and reset and frames == [F3]
    frames, apdus, reset = s.feed(F9 + F1 + F4)
    assert frames == [F11, F3] and apdus == [F4[12:-3]] and reset


# ---------------------------------------------------------------- framing

def test_shared_and_repeated_flags():
    s = make_server()
    assert s.feed(F1[:-1] + F9 + b"\x7e\x7e" + F9) == ([F3, F3, F11], [], True)


def _payload_with_flag_in_fcs():
    for k in range(2000):
        payload = LLC_REQ + b"\x7e" + k.to_bytes(2, "big")
        frame = client_frame(i_ctrl(0, 0), payload)
        if 0x7E in frame[-3:-1]:
            return payload, frame
    raise AssertionError("no FCS with 0x7E found")


def test_flag_octets_inside_information_and_fcs():
    payload, frame = _payload_with_flag_in_fcs()
    s = connected_server()
    assert s.feed(frame)[1] == [payload[3:]]
    answer = bytes([0x7E]) * 40
    out = s.send(answer)
    assert hdlc.decode_frame(out[0]).info == LLC_RSP + answer


def test_garbage_between_frames_is_skipped():
    s = make_server()
    assert s.feed(b"\x00\x11\x7e\x7e\x13" + F1 + b"\xff\x7e\x13")[0] == [F3]


def test_frame_longer_than_buffer_is_skipped():
    s = make_server()
    assert s.feed(h("7E A7 FF") + F1) == ([F3], [], True)


def test_stale_partial_frame_is_resynchronised_on_tick():
    s = make_server(inter_octet_ms=25)
    s.tick(0)
    # a corrupted opening announces 0x50 octets and swallows the real SNRM that follows
    assert s.feed(h("7E A0 50 01 02") + F1) == ([], [], False)
    assert s.tick(10) == ([], [], False)
    assert s.tick(20) == ([], [], False)           # 20 ms since the last octet at t=10
    assert s.tick(40) == ([F3], [], True)
    assert s.connected


def test_inactivity_timeout_disconnects():
    s = make_server(inactivity_ms=120000)
    s.tick(0)
    s.feed(F1)
    s.tick(1000)
    assert s.tick(100000) == ([], [], False)
    s.feed(F4)
    s.send(b"\x61")
    assert s.tick(200000) == ([], [], False)       # activity restarted the timer
    assert s.tick(319999) == ([], [], False)
    assert s.tick(320000) == ([], [], True)
    assert not s.connected
    assert s.feed(F9)[0] == [F11]
    never = make_server(inactivity_ms=0)
    never.tick(0)
    never.feed(F1)
    never.tick(1)
    assert never.tick(10 ** 9)[2] is False and never.connected


# ---------------------------------------------------------------- fuzzing

RESPONSE_CONTROLS = {0x73, 0x1F, 0x97}


def _check_outputs(s, frames, most):
    """At most `most` frames, each a valid response to the test client with the F bit set."""
    assert len(frames) <= most
    for fr in frames:
        f = hdlc.decode_frame(fr)
        assert (f.dest, f.src) == (CLIENT, SERVER)
        c = f.control
        assert (c & 0x11 == 0x10) or (c & 0x1F == 0x11) or c in RESPONSE_CONTROLS, hex(c)
        if c & 1 == 0:
            assert len(f.info) <= s.tx_max


client_ctrls = st.one_of(
    st.sampled_from([0x93, 0x53, 0x13, 0x19, 0x73]),
    st.tuples(st.integers(0, 7), st.integers(0, 7)).map(lambda t: i_ctrl(*t)),
    st.integers(0, 7).map(rr_ctrl),
    st.integers(0, 7).map(lambda n: 0x15 | n << 5),
    st.integers(0, 255))
client_frames = st.builds(
    lambda ctrl, info, seg, llc: client_frame(ctrl, (LLC_REQ if llc else b"") + info, seg),
    client_ctrls, st.binary(max_size=150), st.booleans(), st.booleans())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(client_frames, st.booleans()), max_size=12))
def test_random_frame_sequences_follow_the_rules(steps):
    s = connected_server()
    last_ns = None
    for frame, answer in steps:
        frames, apdus, _ = s.feed(frame)
        assert len(apdus) <= 1
        if apdus and answer:
            frames = frames + s.send(bytes(len(apdus[0]) % 300))
        _check_outputs(s, frames, 1)
        for fr in frames:
            c = hdlc.decode_frame(fr).control
            if c == 0x73:
                last_ns = None                      # UA: sequence numbers start again
                assert hdlc.decode_frame(fr).info[:2] == b"\x81\x80"
            elif c == 0x1F:
                assert not s.connected
            elif c & 1 == 0:
                ns = (c >> 1) & 7
                # window 1: a repeat of the last I-frame or the next one, never a jump
                assert last_ns is None and ns == 0 or ns in (last_ns, (last_ns + 1) % 8)
                last_ns = ns


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(blob):
    s = make_server()
    frames, apdus, _ = s.feed(blob)
    _check_outputs(s, frames, blob.count(b"\x7e"))
    s.tick(0)
    s.tick(1000)


CONVERSATION = F1 + F4 + F6 + F8 + client_frame(i_ctrl(2, 2), LLC_REQ + bytes(120), True) + F9


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(CONVERSATION) - 1), st.integers(0, 255),
                          st.sampled_from(["replace", "insert", "delete"])), max_size=6))
def test_mutated_conversation_never_crashes(mutations):
    stream = bytearray(CONVERSATION)
    for pos, value, kind in mutations:
        pos = min(pos, len(stream) - 1)
        if kind == "replace":
            stream[pos] = value
        elif kind == "insert":
            stream.insert(pos, value)
        else:
            del stream[pos]
    s = make_server()
    frames, apdus, _ = s.feed(bytes(stream))
    _check_outputs(s, frames, bytes(stream).count(b"\x7e"))
    for apdu in apdus:
        assert len(apdu) <= len(stream)
    s.tick(0)
    s.tick(100)


def test_any_single_bit_error_gets_no_answer():
    for frame in (F1, F4, F6, F8, F9, client_frame(i_ctrl(0, 0), LLC_REQ + bytes(100))):
        for bit in range(len(frame) * 8):
            s = connected_server()
            bad = bytearray(frame)
            bad[bit // 8] ^= 1 << (bit % 8)
            assert s.feed(bytes(bad)) == ([], [], False), (frame.hex(), bit)
            s.tick(0)
            s.tick(100)
            # once the stale octets are dropped the link works as before
            assert s.feed(F9)[0] == [F3]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_chunking_does_not_change_the_result(data):
    stream = (b"\x00" + F1 + F9 + F9 + F1
              + client_frame(i_ctrl(0, 0), LLC_REQ + bytes(range(120)), True) + b"\x7e\x7e"
              + client_frame(i_ctrl(1, 0), b"\x7e" * 50) + client_frame(rr_ctrl(0)) + F14)
    whole = make_server().feed(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    s = make_server()
    frames, apdus, reset = [], [], False
    for a, b in zip([0] + cuts, cuts + [len(stream)]):
        f, ap, r = s.feed(stream[a:b])
        frames += f
        apdus += ap
        reset = reset or r
    assert (frames, apdus, reset) == whole
    assert apdus == [bytes(range(120)) + b"\x7e" * 50] and reset
    assert [hdlc.decode_frame(f).control for f in frames] == [0x73, 0x73, 0x1F, 0x73, 0x31, 0x51]


# ---------------------------------------------------------------- MicroPython

_MP_DRIVER = """
from links import hdlc
import binascii
def run(steps):
    s = hdlc.HdlcServer(physical=17)
    log = []
    for frame_hex, answer in steps:
        frames, apdus, reset = s.feed(binascii.unhexlify(frame_hex))
        if apdus and answer:
            frames = frames + s.send(bytes(len(apdus[0]) % 300))
        log.append([[binascii.hexlify(f).decode() for f in frames],
                    [binascii.hexlify(a).decode() for a in apdus], reset])
    return log
"""


def _cpython_run(steps):
    s = hdlc.HdlcServer(physical=17)
    log = []
    for frame_hex, answer in steps:
        frames, apdus, reset = s.feed(bytes.fromhex(frame_hex))
        if apdus and answer:
            frames = frames + s.send(bytes(len(apdus[0]) % 300))
        log.append([[f.hex() for f in frames], [a.hex() for a in apdus], reset])
    return log


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(client_frames.map(bytes.hex), st.booleans()), max_size=8))
def test_micropython_link_behaves_like_cpython(mp_worker, steps):
    steps = [[F1.hex(), False]] + [list(x) for x in steps]
    mp_worker.exec(_MP_DRIVER)
    assert mp_worker.eval("run(%r)" % (steps,)) == _cpython_run(steps)


@pytest.mark.parametrize("module", ["crc16", "hdlc", "iec21", "wrapper"])
def test_mpy_cross_compiles_links(module):
    src = os.path.join(mpy.FIRMWARE, "links", module + ".py")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, module + ".mpy")
        proc = subprocess.run([os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross"),
                               "-march=armv7emsp", "-o", out, src], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert os.path.getsize(out) > 0


# ---------------------------------------------------------------- a third-party client end to end

class _LoopbackPort:
    """Serial-port stand-in between dlms-cosem's HDLC client and our server; the meter side
    answers every request APDU with `answer(apdu)`."""

    def __init__(self, server, answer):
        self.server = server
        self.answer = answer
        self.pending = bytearray()
        self.requests = []

    def write(self, data):
        frames, apdus, _ = self.server.feed(bytes(data))
        for f in frames:
            self.pending += f
        for apdu in apdus:
            self.requests.append(apdu)
            for f in self.server.send(self.answer(apdu)):
                self.pending += f
        return len(data)

    def read_until(self, expected):
        if not self.pending:
            raise AssertionError("client waits for a frame the server did not send")
        k = self.pending.find(expected) + 1
        out = bytes(self.pending[:k])
        del self.pending[:k]
        return out


def _dlms_cosem_client(port, **kw):
    from dlms_cosem.clients.hdlc_transport import SerialHdlcTransport
    return SerialHdlcTransport(client_logical_address=16, server_logical_address=1,
                               serial_port="loop", server_physical_address=17, serial=port, **kw)


def _no_flag(n, seed):
    """n octets without 0x7E (dlms-cosem's client splits frames at every 0x7E)."""
    return bytes((seed + 3 * i) % 0x7D for i in range(n))


@pytest.mark.parametrize("request_size,answer_size", [(20, 40), (300, 20), (20, 700), (500, 500)])
def test_dlms_cosem_client_talks_to_the_server(request_size, answer_size):
    server = make_server(max_apdu=1024)
    port = _LoopbackPort(server, lambda apdu: _no_flag(answer_size, len(apdu)))
    client = _dlms_cosem_client(port)
    client.connect()
    assert server.connected and server.client == 16
    for k in range(3):                                   # sequence numbers advance across requests
        request = _no_flag(request_size, k)
        assert client.send(request) == _no_flag(answer_size, request_size)
        assert port.requests[-1] == request
    client.disconnect()
    assert not server.connected and not port.pending
