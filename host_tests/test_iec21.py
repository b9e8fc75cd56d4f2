"""IEC 62056-21 mode E opening: spec bytes, chunking, parity bits, addresses, garbage."""
import pytest
from hypothesis import given, settings, strategies as st

from links import iec21


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


REQUEST = h("2F 3F 21 0D 0A")
REQUEST_ADDRESSED = h("2F 3F 31 32 33 34 35 36 37 38 21 0D 0A")
IDENT_MT = h("2F 49 53 6B 35 5C 32 4D 54 33 38 32 2D 31 30 30 30 0D 0A")
ACK_9600 = h("06 32 35 32 0D 0A")
SNRM = h("7E A0 08 02 23 21 93 BD 64 7E")


def opening(**kw):
    return iec21.ModeEOpening(b"MT382-1000", **kw)


def test_identification_messages():
    assert iec21.identification(b"MT382-1000") == IDENT_MT
    assert iec21.identification("ME382-1003") == b"/ISk5\\2ME382-1003\r\n"
    assert iec21.identification(b"X", manufacturer=b"ABC", max_baud=19200) == b"/ABC6\\2X\r\n"
    for bad in ((b"",), (b"A" * 17,), (b"A/B",), (b"A!",), (b"A B",), (b"X", b"AB")):
        with pytest.raises(ValueError):
            iec21.identification(*bad)
    with pytest.raises(ValueError):
        iec21.identification(b"X", max_baud=115200)


def test_spec_opening_sequence():
    o = opening()
    assert o.feed(REQUEST) == (IDENT_MT, None)
    assert o.feed(ACK_9600) == (b"", (9600, b""))


def test_snrm_in_the_same_read_as_the_ack_is_handed_over():
    o = opening()
    o.feed(REQUEST)
    assert o.feed(ACK_9600 + SNRM) == (b"", (9600, SNRM))


def test_byte_by_byte_reads():
    o = opening()
    replies = [o.feed(bytes((c,))) for c in REQUEST]
    assert replies[:-1] == [(b"", None)] * 4 and replies[-1] == (IDENT_MT, None)
    replies = [o.feed(bytes((c,))) for c in ACK_9600]
    assert replies[-1] == (b"", (9600, b""))


def test_lower_baud_rates_are_accepted_higher_refused():
    for z, baud in ((b"0", 300), (b"4", 4800), (b"5", 9600)):
        o = opening()
        o.feed(REQUEST)
        assert o.feed(b"\x062" + z + b"2\r\n") == (b"", (baud, b""))
    o = opening()
    o.feed(REQUEST)
    assert o.feed(b"\x0626" + b"2\r\n") == (b"", None)
    fast = opening(max_baud=19200)
    fast.feed(REQUEST)
    assert fast.feed(b"\x06262\r\n") == (b"", (19200, b""))


@pytest.mark.parametrize("ack", [
    "06 30 35 30 0D 0A",      # mode C data readout
    "06 30 35 31 0D 0A",      # programming mode
    "06 32 35 30 0D 0A",      # V=2 but Y=0
    "06 32 35 32 0D",         # no LF yet
    "06 32 35 32 32 0D 0A",   # too long
])
def test_other_options_are_not_mode_e(ack):
    o = opening()
    o.feed(REQUEST)
    assert o.feed(h(ack)) == (b"", None)
    assert o.feed(REQUEST) == (IDENT_MT, None)      # and the opening starts over cleanly


def test_seven_bit_characters_with_parity_bit():
    def even(data):
        return bytes(c | 0x80 if bin(c).count("1") % 2 else c for c in data)
    o = opening()
    assert o.feed(even(REQUEST)) == (IDENT_MT, None)
    assert o.feed(even(ACK_9600)) == (b"", (9600, b""))


def test_addressed_requests():
    o = opening(address=b"12345678")
    assert o.feed(REQUEST_ADDRESSED) == (IDENT_MT, None)
    o.reset()
    assert o.feed(b"/?0012345678!\r\n") == (IDENT_MT, None)
    o.reset()
    assert o.feed(b"/?87654321!\r\n") == (b"", None)
    assert o.feed(REQUEST) == (IDENT_MT, None)
    anonymous = opening()
    assert anonymous.feed(REQUEST_ADDRESSED) == (b"", None)


def test_direct_snrm_without_opening():
    o = opening()
    assert o.feed(b"\x00" + SNRM) == (b"", (None, SNRM))
    o = opening()
    o.feed(REQUEST)
    # no acknowledgement: the client went straight to HDLC at the current speed
    assert o.feed(SNRM) == (b"", (None, SNRM))


def test_repeated_and_interrupted_requests():
    o = opening()
    assert o.feed(b"/?12" + REQUEST) == (IDENT_MT, None)
    assert o.feed(REQUEST) == (IDENT_MT, None)
    assert o.feed(b"\x06" + b"25" + REQUEST) == (IDENT_MT, None)
    assert o.feed(ACK_9600) == (b"", (9600, b""))


@pytest.mark.parametrize("junk", [b"?!\r\n", b"/!\r\n", b"/?!\n", b"/?" + b"1" * 40 + b"!\r\n",
                                  b"\x01B0\x03q", b"\x06252\r\n"])
def test_malformed_input_is_ignored(junk):
    o = opening()
    assert o.feed(junk) == (b"", None)
    assert o.feed(REQUEST) == (IDENT_MT, None)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80).filter(lambda b: 0x7E not in b), st.lists(st.integers(0, 80), max_size=4))
def test_garbage_then_request_always_identifies(junk, cuts):
    o = opening(address=b"42")
    for a, b in zip([0] + sorted(cuts), sorted(cuts) + [len(junk)]):
        reply, switch = o.feed(junk[a:b])
        assert reply in (b"", IDENT_MT)
        assert switch is None or switch[0] in iec21.BAUD_RATES[:6]
    assert o.feed(REQUEST) == (IDENT_MT, None)
    assert o.feed(ACK_9600 + b"\x7e") == (b"", (9600, b"\x7e"))
