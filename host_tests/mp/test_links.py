# MicroPython-only checks of the link and data-encoding layer: the viper CRC against its
# reference, allocation-free CRC, and the spec vectors of A-XDR, HDLC, mode E and the wrapper.
import binascii
import micropython

from dlms import axdr
from links import crc16 as crcmod
from links import hdlc, iec21, wrapper


def h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_crc_is_the_viper_kernel():
    check(crcmod._crc is not crcmod._crc_py, "viper kernel not selected")


def test_viper_crc_matches_reference():
    data = bytearray(300)
    x = 1
    for i in range(len(data)):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        data[i] = x >> 16 & 0xFF
    mv = memoryview(data)
    for start, end in ((0, 0), (0, 1), (3, 77), (0, 300), (299, 300)):
        ref = crcmod._crc_py(data, start, end)
        check(crcmod.crc16(data, start, end) == ref, "bytearray %d..%d" % (start, end))
        check(crcmod.crc16(bytes(data), start, end) == ref, "bytes")
        check(crcmod.crc16(mv[start:end]) == ref, "memoryview slice")
    check(crcmod.crc16(b"123456789") == 0x906E, "check value")


def test_crc_does_not_allocate():
    buf = bytearray(b"123456789" * 20)
    crcmod.crc16(buf, 0, 180)
    micropython.heap_lock()
    try:
        value = crcmod.crc16(buf, 0, 180)
    finally:
        micropython.heap_unlock()
    check(value == crcmod._crc_py(buf, 0, 180), "value under heap_lock")


def test_axdr_vectors():
    for wire in ("01 02 02 02 06 00 00 00 01 12 00 02 02 02 06 00 00 00 03 12 00 04",
                 "04 05 A0", "05 FF FF FF FE", "0C 02 C5 BD", "14 80 00 00 00 00 00 00 00",
                 "15 FF FF FF FF FF FF FF FF", "17 3F C0 00 00", "18 3F F8 00 00 00 00 00 00",
                 "19 07 E8 03 0F 05 0C 1E 2D 00 FF 88 80", "13 12 04 00 01 AB CD"):
        b = h(wire)
        check(axdr.encode(axdr.decode_all(b)) == b, wire)
    check(axdr.decode_all(h("14 80 00 00 00 00 00 00 00")) == (axdr.LONG64, -(1 << 63)), "long64")
    check(axdr.decode_all(h("15 FF FF FF FF FF FF FF FF"))[1] == (1 << 64) - 1, "long64-unsigned")
    check(axdr.decode_all(h("06 FF FF FF FF"))[1] == 0xFFFFFFFF, "double-long-unsigned")


def test_axdr_errors_are_precise():
    for wire, message in (("01 05 00", "count exceeds data"), ("09 84 FF FF FF FF", "truncated"),
                          ("1C", "unknown tag"), ("01 01" * 17 + "00", "nesting too deep")):
        try:
            axdr.decode_all(h(wire))
            raise AssertionError("no error for " + wire)
        except axdr.DecodeError as e:
            check(e.args[0] == message, wire)


def test_datetime_helpers():
    dt = axdr.pack_datetime(2024, 3, 15, 5, 12, 30, 45, 0, -120, axdr.STATUS_DST)
    check(dt == h("07 E8 03 0F 05 0C 1E 2D 00 FF 88 80"), "pack")
    check(axdr.unpack_datetime(dt) == (2024, 3, 15, 5, 12, 30, 45, 0, -120, 0x80), "unpack")
    check(axdr.unpack_datetime(h("FF FF FF FF FF FF FF FF FF 80 00 FF")) == (None,) * 10, "unset")


F1 = "7E A0 08 02 23 21 93 BD 64 7E"
F3 = "7E A0 1F 21 02 23 73 E6 C7 81 80 12 05 01 80 06 01 80 07 04 00 00 00 01 08 04 00 00 00 01 53 3B 7E"
F4 = ("7E A0 2C 02 23 21 10 AF 9F E6 E6 00 60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00"
      " 00 00 06 5F 1F 04 00 00 1E 1D FF FF C5 E4 7E")
F5 = ("7E A0 38 21 02 23 30 34 E7 E6 E7 00 61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3"
      " 05 A1 03 02 01 00 BE 10 04 0E 08 00 06 5F 1F 04 00 00 1E 1D 04 C8 00 07 B8 6A 7E")
F9 = "7E A0 08 02 23 21 53 B1 A2 7E"
F11 = "7E A0 08 21 02 23 1F 10 EA 7E"


def test_hdlc_spec_conversation():
    s = hdlc.HdlcServer(physical=17)
    check(s.feed(h(F1)) == ([h(F3)], [], True), "SNRM -> UA")
    frames, apdus, reset = s.feed(h(F4))
    check(frames == [] and apdus == [h(F4)[12:-3]], "AARQ delivered")
    check(s.send(h(F5)[12:-3]) == [h(F5)], "AARE frame")
    check(s.feed(h(F9)) == ([h(F3)], [], True), "DISC -> UA with the link parameters")
    check(s.feed(h(F9)) == ([h(F11)], [], False), "DISC -> DM")


def test_hdlc_segmentation_round_trip():
    s = hdlc.HdlcServer(physical=17)
    s.feed(h(F1))
    s.feed(h(F4))
    apdu = bytes(range(256)) * 2
    frames = s.send(apdu)
    got = b""
    ns = 0
    while True:
        f = hdlc.decode_frame(frames[0])
        got += f.info
        ns = (ns + 1) & 7
        if not f.segmented:
            break
        rr = hdlc.encode_frame(h("02 23"), h("21"), 0x11 | ns << 5)
        frames = s.feed(rr)[0]
    check(got == hdlc.LLC_RESPONSE + apdu, "reassembled answer")


def test_mode_e_opening():
    o = iec21.ModeEOpening(b"ME382-1003")
    check(o.feed(b"/?!\r\n") == (b"/ISk5\\2ME382-1003\r\n", None), "identification")
    check(o.feed(h("06 32 35 32 0D 0A") + h(F1)) == (b"", (9600, h(F1))), "switch")


def test_wrapper_stream():
    aarq = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0")
    wire = wrapper.encode(16, 1, aarq)
    check(wire[:8] == h("00 01 00 10 00 01 00 1F"), "header")
    r = wrapper.Reassembler()
    out = []
    for i in range(0, len(wire) * 2, 5):
        out += r.feed((wire + wire)[i:i + 5])
    check(out == [(16, 1, aarq), (16, 1, aarq)], "reassembly")
    try:
        r.feed(h("00 02 00 10 00 01 00 01"))
        raise AssertionError("version accepted")
    except wrapper.VersionError:
        pass
