"""COSEM wrapper: spec vectors, dlms-cosem header oracle, stream reassembly and errors."""
import pytest
from hypothesis import given, settings, strategies as st

from dlms_cosem.wrappers import WrapperHeader
from links import wrapper


def h(s):
    return bytes.fromhex(s.replace(" ", ""))


AARQ = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E 01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0")
AARE = h("61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 10 04 0E 08"
         " 00 06 5F 1F 04 00 00 50 1F 01 F4 00 07")


def test_spec_vectors():
    assert wrapper.encode(16, 1, AARQ) == h("00 01 00 10 00 01 00 1F") + AARQ
    assert wrapper.encode(1, 16, AARE) == h("00 01 00 01 00 10 00 2B") + AARE
    r = wrapper.Reassembler()
    assert r.feed(wrapper.encode(16, 1, AARQ)) == [(16, 1, AARQ)]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.binary(min_size=1, max_size=300))
def test_header_matches_dlms_cosem(src, dst, apdu):
    wire = wrapper.encode(src, dst, apdu)
    assert wire[:8] == WrapperHeader(src, dst, len(apdu)).to_bytes()
    assert wire[8:] == apdu


def test_encode_header_into_and_ranges():
    buf = bytearray(10)
    assert wrapper.encode_header_into(buf, 2, 1, 0x66, 0x1234) == 10
    assert buf == h("00 00 00 01 00 01 00 66 12 34")
    with pytest.raises(ValueError):
        wrapper.encode(0x10000, 1, b"\x01")


wpdus = st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
                           st.binary(min_size=1, max_size=200)), max_size=6)


@settings(max_examples=200, deadline=None)
@given(wpdus, st.data())
def test_any_chunking_gives_the_same_pdus(pdus, data):
    stream = b"".join(wrapper.encode(*p) for p in pdus)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    r = wrapper.Reassembler(max_length=200)
    out = []
    for a, b in zip([0] + cuts, cuts + [len(stream)]):
        out += r.feed(stream[a:b])
    assert out == [tuple(p) for p in pdus]
    assert r.pending == 0


def test_partial_pdu_is_pending():
    r = wrapper.Reassembler()
    wire = wrapper.encode(16, 1, AARQ)
    assert r.feed(wire[:5]) == [] and r.pending == 5
    assert r.feed(wire[5:20]) == [] and r.pending == 20
    assert r.feed(wire[20:] + wire[:3]) == [(16, 1, AARQ)] and r.pending == 3
    r.reset()
    assert r.pending == 0 and r.feed(wire) == [(16, 1, AARQ)]
    # A whole header and part of the body in one read (the header is read in place).
    assert r.feed(wire + wire[:20]) == [(16, 1, AARQ)] and r.pending == 20
    assert r.feed(memoryview(wire)[20:]) == [(16, 1, AARQ)] and r.pending == 0


@pytest.mark.parametrize("header,error", [
    ("00 02 00 10 00 01 00 01", wrapper.VersionError),
    ("00 00 00 10 00 01 00 01", wrapper.VersionError),
    ("00 01 00 10 00 01 00 00", wrapper.LengthError),
    ("00 01 00 10 00 01 01 01", wrapper.LengthError),       # 257 > 256
])
def test_bad_headers_raise_and_stay_failed(header, error):
    r = wrapper.Reassembler(max_length=256)
    assert r.feed(wrapper.encode(16, 1, b"\xc0")) == [(16, 1, b"\xc0")]
    with pytest.raises(error):
        r.feed(h(header)[:3])
        r.feed(h(header)[3:] + b"\x00")
    with pytest.raises(error):
        r.feed(wrapper.encode(16, 1, b"\xc0"))
    r.reset()
    assert r.feed(wrapper.encode(16, 1, b"\xc0")) == [(16, 1, b"\xc0")]


def test_oversized_length_is_refused_before_any_body_arrives():
    r = wrapper.Reassembler(max_length=2048)
    with pytest.raises(wrapper.LengthError) as e:
        r.feed(h("00 01 00 10 00 01 FF FF"))
    assert e.value.args == ("wrapper length", 0xFFFF)
    assert isinstance(e.value, wrapper.WrapperError) and isinstance(e.value, ValueError)


def test_max_length_limits():
    with pytest.raises(ValueError):
        wrapper.Reassembler(max_length=0)
    r = wrapper.Reassembler(max_length=0xFFFF)
    big = bytes(0xFFFF)
    assert r.feed(wrapper.encode(1, 2, big)) == [(1, 2, big)]
