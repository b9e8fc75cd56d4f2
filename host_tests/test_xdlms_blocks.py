"""Server-side block transfer: streamed GET datablocks and SET datablock reassembly, checked
against the spec 5.1 vectors, dlms-cosem's response parser, tiny PDU sizes and MicroPython."""
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dlms import axdr as a
from dlms import blocks as b
from dlms import xdlms as x
from dlms_cosem.protocol import xdlms as dx
from test_axdr import data_values
from test_xdlms import CLOCK, CLOCK_TIME, enc_request, h

ARRAY30 = (a.ARRAY, [(a.DOUBLE_LONG_UNSIGNED, i) for i in range(30)])
WIRE30 = a.encode(ARRAY30)


def chunked(data, size):
    """Generator source: the bytes in pieces of `size` (the last may be shorter)."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


class ReadInto:
    """Stream-like source with readinto, returning at most `step` octets per call."""

    def __init__(self, data, step):
        self.stream = io.BytesIO(data)
        self.step = step

    def readinto(self, buf):
        return self.stream.readinto(memoryview(buf)[:self.step])


def lazy_array(count, items):
    """Generator source of an array whose elements are produced and encoded one at a time."""
    head = bytearray(1 + a.length_size(count))
    head[0] = a.ARRAY
    a.encode_length(head, 1, count)
    yield bytes(head)
    for item in items:
        yield a.encode(item)


def fill_callable(data):
    stream = io.BytesIO(data)
    return stream.readinto


def run_long_get(g, iip, source, with_list=False):
    """Drive a LongGet to the end like a client; return the list of response APDUs."""
    out = [bytes(g.start(iip, source, with_list))]
    while out[-1][1] == 2 and out[-1][3] == 0:
        out.append(bytes(g.next(iip, int.from_bytes(out[-1][4:8], "big"))))
    return out


def reassemble(responses):
    """Concatenate the raw data of datablock responses, checking them with dlms-cosem."""
    data = b""
    for n, rsp in enumerate(responses, 1):
        parsed = dx.GetResponseFactory.from_bytes(rsp)
        assert parsed.block_number == n
        assert isinstance(parsed, dx.GetResponseLastBlock) == (n == len(responses))
        data += parsed.data
    return data


# ---------------------------------------------------------------- spec 5.1 block vectors

@pytest.mark.parametrize("source", [
    lambda: WIRE30, lambda: bytearray(WIRE30), lambda: memoryview(WIRE30),
    lambda: b.data_chunks(ARRAY30), lambda: chunked(WIRE30, 7), lambda: chunked(WIRE30, 1000),
    lambda: ReadInto(WIRE30, 3), lambda: fill_callable(WIRE30),
    lambda: lazy_array(30, iter(ARRAY30[1])),
])
def test_spec_block_vectors(source):
    g = b.LongGet(110)
    first = bytes(g.start(0xC1, source()))
    assert first == x.build(x.get_response_block, 0xC1, False, 1, WIRE30[:100])
    assert first.startswith(h("C4 02 C1 00 00 00 00 01 00 64 01 1E 06 00 00 00 00 06"))
    assert len(first) == 110 and g.active
    last = bytes(g.next(0xC1, 1))
    assert last.startswith(h("C4 02 C1 01 00 00 00 02 00 34 00 13 06 00 00 00 14"))
    assert last.endswith(h("06 00 00 00 1D")) and len(last) == 62
    assert not g.active


def test_normal_response_when_the_data_fits():
    g = b.LongGet(110)
    assert bytes(g.start(0xC1, (a.encode((a.DOUBLE_LONG_UNSIGNED, 1234567))))) == \
        h("C4 01 C1 00 06 00 12 D6 87")
    assert not g.active


@pytest.mark.parametrize("max_pdu", [11, 12, 13, 20, 127, 128, 129, 137, 138, 139, 140, 266, 267,
                                     268, 269, 1024, 65535])
def test_block_payload_fills_the_pdu(max_pdu):
    n = b.block_payload(max_pdu)
    assert x.get_block_header_size(n) + n <= max_pdu
    assert x.get_block_header_size(n + 1) + n + 1 > max_pdu


def octets_of_size(size):
    """An encoded octet-string Data of exactly `size` octets."""
    for ls in (1, 2, 3):
        k = size - 1 - ls
        if k >= 0 and a.length_size(k) == ls:
            return a.encode((a.OCTET_STRING, bytes(range(256)) * (k // 256) + bytes(k % 256)))
    raise AssertionError(size)


@pytest.mark.parametrize("max_pdu", [11, 12, 13, 50, 138, 139, 300])
def test_normal_and_block_boundary(max_pdu):
    # The largest Data that fits Get-Response-Normal is max_pdu - 4 octets; one more uses blocks.
    for size in (max_pdu - 5, max_pdu - 4):
        data = octets_of_size(size)
        assert run_long_get(b.LongGet(max_pdu), 7, chunked(data, 5)) == [h("C4 01 07 00") + data]
    data = octets_of_size(max_pdu - 3)
    rsp = run_long_get(b.LongGet(max_pdu), 7, data)
    assert len(rsp) >= 2 and all(len(r) <= max_pdu for r in rsp)
    assert reassemble(rsp) == data


@pytest.mark.parametrize("max_pdu,payload", [(11, 1), (12, 2), (16, 6)])
def test_tiny_pdu_forces_many_blocks(max_pdu, payload):
    def row(i):
        return a.STRUCTURE, [(a.OCTET_STRING, CLOCK_TIME), (a.DOUBLE_LONG_UNSIGNED, i)]

    data = a.encode((a.ARRAY, [row(i) for i in range(40)]))
    assert b.block_payload(max_pdu) == payload
    rsp = run_long_get(b.LongGet(max_pdu), 0x41, lazy_array(40, (row(i) for i in range(40))))
    assert len(rsp) == (len(data) + payload - 1) // payload
    assert all(len(r) <= max_pdu and r[2] == 0x41 for r in rsp)
    assert reassemble(rsp) == data


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_values, st.integers(11, 300), st.integers(1, 64), st.integers(0, 255),
       st.sampled_from(["bytes", "chunks", "readinto", "data_chunks"]))
def test_any_data_any_pdu_round_trip(value, max_pdu, step, iip, kind):
    wire = a.encode(value)
    source = {"bytes": lambda: wire, "chunks": lambda: chunked(wire, step),
              "readinto": lambda: ReadInto(wire, step),
              "data_chunks": lambda: b.data_chunks(value)}[kind]()
    rsp = run_long_get(b.LongGet(max_pdu), iip, source)
    assert all(len(r) <= max_pdu and r[2] == iip for r in rsp)
    if len(wire) <= max_pdu - 4:
        assert rsp == [x.build(x.get_response_normal, iip, value)]
    else:
        assert reassemble(rsp) == wire


@settings(max_examples=100, deadline=None)
@given(data_values)
def test_data_chunks_concatenate_to_the_encoding(value):
    assert b"".join(bytes(c) for c in b.data_chunks(value)) == a.encode(value)


def test_with_list_answer_normal_and_blocked():
    results = [(a.DOUBLE_LONG_UNSIGNED, 1234567), x.OBJECT_UNDEFINED,
               (a.OCTET_STRING, CLOCK_TIME)]
    g = b.LongGet(100)
    assert bytes(g.start(0xC1, b.results_chunks(results), True)) == \
        x.build(x.get_response_with_list, 0xC1, results)
    big = [(a.OCTET_STRING, bytes(range(40)))] * 5 + [x.READ_WRITE_DENIED]
    rsp = run_long_get(b.LongGet(60), 0xC1, b.results_chunks(big), True)
    assert len(rsp) > 1
    assert reassemble(rsp) == x.build(x.get_response_with_list, 0xC1, big)[3:]


# ---------------------------------------------------------------- block protocol errors

def test_wrong_block_number_aborts():
    g = b.LongGet(40)
    g.start(0xC1, WIRE30)
    g.next(0xC1, 1)
    assert bytes(g.next(0xC1, 1)) == h("C4 02 C1 01 00 00 00 02 01 13")
    assert not g.active
    assert bytes(g.next(0xC1, 3)) == h("C4 02 C1 01 00 00 00 03 01 10")


def test_next_without_transfer():
    g = b.LongGet(40)
    rsp = bytes(g.next(0x81, 9))
    assert rsp == h("C4 02 81 01 00 00 00 09 01 10")
    assert dx.GetResponseFactory.from_bytes(rsp).error == x.NO_LONG_GET_IN_PROGRESS


def test_new_request_aborts_and_closes_the_source():
    closed = []

    def rows():
        try:
            for i in range(100):
                yield a.encode((a.DOUBLE_LONG_UNSIGNED, i))
        finally:
            closed.append(True)

    g = b.LongGet(40)
    g.start(0xC1, rows())
    assert g.active and not closed
    assert bytes(g.start(0xC1, (a.encode((a.UNSIGNED, 5))))) == h("C4 01 C1 00 11 05")
    assert closed == [True] and not g.active
    g.start(0xC1, rows())
    g.abort()
    assert closed == [True, True]


def test_source_errors_become_data_access_results():
    def failing(after):
        yield WIRE30[:after]
        raise x.AccessError("profile storage failed", x.HARDWARE_FAULT)

    g = b.LongGet(40)
    assert bytes(g.start(0xC1, failing(5))) == h("C4 01 C1 01 01")
    assert not g.active
    rsp = run_long_get(g, 0xC1, failing(100))
    assert rsp[-1] == h("C4 02 C1 01 00 00 00 %02X 01 01" % len(rsp))
    assert dx.GetResponseFactory.from_bytes(rsp[-1]).error == x.HARDWARE_FAULT
    assert not g.active


def test_other_source_errors_end_the_transfer_and_propagate():
    def broken(after):
        yield WIRE30[:after]
        raise ValueError("fewer array elements than announced")

    g = b.LongGet(40)
    with pytest.raises(ValueError, match="fewer"):
        g.start(0xC1, broken(5))
    assert not g.active
    g.start(0xC1, broken(60))
    with pytest.raises(ValueError, match="fewer"):
        g.next(0xC1, 1)
    assert not g.active
    assert bytes(g.next(0xC1, 1))[-2:] == bytes([1, x.NO_LONG_GET_IN_PROGRESS])


def test_empty_source_and_tiny_pdu_are_rejected():
    with pytest.raises(ValueError, match="no Data"):
        b.LongGet(40).start(1, b"")
    with pytest.raises(ValueError, match="too small"):
        b.LongGet(10)


# ---------------------------------------------------------------- SET with datablocks

SET_FIRST_LAST = h("C1 02 C1 00 08 00 00 01 00 00 FF 02 00 01 00 00 00 01 0E 09 0C 07 E8 03 0F "
                   "05 0C 1E 2D 00 FF C4 00")


def test_spec_set_datablock_vectors():
    s = b.LongSet(64)
    assert s.feed(x.decode_request(SET_FIRST_LAST)) is None
    assert s.values() == [(a.OCTET_STRING, CLOCK_TIME)]
    assert s.attributes[0].instance == CLOCK
    assert s.finish(0xC1, [x.SUCCESS]) == h("C5 03 C1 00 00 00 00 01")
    assert not s.active
    # The same value in two blocks: ack of block 1, then last-datablock of block 2.
    value = h("09 0C") + CLOCK_TIME
    first = x.SetFirstBlock(0xC1, [x.Attribute(8, CLOCK, 2, None, None)], False, False, 1,
                            value[:5])
    assert s.feed(x.decode_request(enc_request(first))) == h("C5 02 C1 00 00 00 01")
    assert s.active
    assert s.feed(x.decode_request(enc_request(x.SetBlock(0xC1, True, 2, value[5:])))) is None
    assert s.values() == [(a.OCTET_STRING, CLOCK_TIME)]
    assert s.finish(0xC1, [x.SUCCESS]) == h("C5 03 C1 00 00 00 00 02")


def feed_all(s, iip, attributes, with_list, wire, step):
    """Send wire in blocks of step octets; return the responses (None for the last block)."""
    pieces = [wire[i:i + step] for i in range(0, len(wire), step)] or [b""]
    out = [s.feed(x.SetFirstBlock(iip, attributes, with_list, len(pieces) == 1, 1, pieces[0]))]
    for n, piece in enumerate(pieces[1:], 2):
        out.append(s.feed(x.SetBlock(iip, n == len(pieces), n, piece)))
    return out


@settings(max_examples=120, deadline=None)
@given(data_values, st.integers(1, 50), st.integers(0, 255))
def test_set_reassembly_round_trip(value, step, iip):
    wire = a.encode(value)
    s = b.LongSet(len(wire))
    attrs = [x.Attribute(1, CLOCK, 2, None, None)]
    out = feed_all(s, iip, attrs, False, wire, step)
    assert out[-1] is None
    assert out[:-1] == [x.build(x.set_response_datablock, iip, n) for n in range(1, len(out))]
    assert a.encode(s.values()[0]) == a.encode(value)
    assert s.finish(iip, [x.TEMPORARY_FAILURE]) == x.build(
        x.set_response_last_datablock, iip, x.TEMPORARY_FAILURE, len(out))


def test_set_with_list_and_first_datablock():
    values = [(a.OCTET_STRING, b"12345678"), (a.OCTET_STRING, CLOCK_TIME)]
    wire = bytes([2]) + b"".join(a.encode(v) for v in values)
    attrs = [x.Attribute(1, h("00 00 60 01 00 FF"), 2, None, None),
             x.Attribute(8, CLOCK, 2, None, None)]
    s = b.LongSet(100)
    first = x.decode_request(enc_request(x.SetFirstBlock(0x41, attrs, True, False, 1, wire[:10])))
    assert first.with_list
    assert s.feed(first) == h("C5 02 41 00 00 00 01")
    assert s.feed(x.SetBlock(0x41, True, 2, wire[10:])) is None
    assert s.values() == values
    assert s.finish(0x41, [x.SUCCESS, x.READ_WRITE_DENIED]) == h("C5 04 41 02 00 03 00 00 00 02")


def test_set_block_errors():
    attrs = [x.Attribute(8, CLOCK, 2, None, None)]
    s = b.LongSet(10)
    assert s.feed(x.SetBlock(0xC1, False, 1, b"ab")) == h("C5 03 C1 12 00 00 00 01")
    assert s.feed(x.SetFirstBlock(0xC1, attrs, False, False, 2, b"ab")) == \
        h("C5 03 C1 13 00 00 00 02")
    assert not s.active
    assert s.feed(x.SetFirstBlock(0xC1, attrs, False, False, 1, b"ab")) == h("C5 02 C1 00 00 00 01")
    assert s.feed(x.SetBlock(0xC1, False, 3, b"cd")) == h("C5 03 C1 13 00 00 00 03")
    assert not s.active
    s.feed(x.SetFirstBlock(0xC1, attrs, False, False, 1, b"0123456789"))
    assert s.feed(x.SetBlock(0xC1, True, 2, b"x")) == h("C5 03 C1 11 00 00 00 02")
    assert not s.active
    # with-list errors answer one DAR per attribute
    s.feed(x.SetFirstBlock(0xC1, attrs * 2, True, False, 1, b"\x02"))
    assert s.feed(x.SetBlock(0xC1, True, 5, b"")) == h("C5 04 C1 02 13 13 00 00 00 05")
    # a new first block restarts the transfer
    s.feed(x.SetFirstBlock(0xC1, attrs, False, False, 1, b"\x09\x01"))
    assert s.feed(x.SetFirstBlock(0xC1, attrs, False, True, 1, b"\x11\x07")) is None
    assert s.values() == [(a.UNSIGNED, 7)]


@pytest.mark.parametrize("with_list,raw,count", [
    (False, b"\x09\x05ab", 1), (False, b"\x11\x01\x00", 1), (False, b"", 1),
    (True, b"\x02\x11\x01", 2), (True, b"\x01\x11\x01", 2), (True, b"\x01\x11\x01\x00", 1),
    (True, b"\x81", 1),
])
def test_set_values_type_unmatched(with_list, raw, count):
    s = b.LongSet(10)
    attrs = [x.Attribute(1, CLOCK, 2, None, None)] * count
    assert s.feed(x.SetFirstBlock(1, attrs, with_list, True, 1, raw)) is None
    with pytest.raises(x.AccessError) as e:
        s.values()
    assert e.value.result == x.TYPE_UNMATCHED


# ---------------------------------------------------------------- MicroPython

DRIVER_SRC = """
import binascii
from dlms import axdr, blocks, xdlms

def xb_pieces(data, step):
    for i in range(0, len(data), step):
        yield data[i:i + step]

def xb_long_get(hex_data, max_pdu, step, with_list, acks):
    # acks: block numbers the client acknowledges, None = the right one
    g = blocks.LongGet(max_pdu)
    out = [binascii.hexlify(g.start(0x81, xb_pieces(binascii.unhexlify(hex_data), step),
                                    with_list)).decode()]
    for ack in acks:
        prev = binascii.unhexlify(out[-1])
        right = int.from_bytes(prev[4:8], "big") if len(prev) >= 8 else 0
        out.append(binascii.hexlify(g.next(0x81, right if ack is None else ack)).decode())
    return out

def xb_long_set(limit, requests):
    s = blocks.LongSet(limit)
    out = []
    for r in requests:
        rsp = s.feed(xdlms.decode_request(binascii.unhexlify(r)))
        if rsp is None:
            try:
                n = len(s.values())
                rsp = s.finish(0xC1, [xdlms.SUCCESS] * n)
            except xdlms.AccessError as e:
                rsp = s.finish(0xC1, [e.result] * len(s.attributes))
        out.append(binascii.hexlify(rsp).decode())
    return out
"""
NS = {}
exec(DRIVER_SRC, NS)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_values, st.integers(11, 200), st.integers(1, 40), st.booleans(),
       st.lists(st.one_of(st.none(), st.none(), st.integers(0, 5)), max_size=12))
def test_micropython_long_get_like_cpython(mp_worker, value, max_pdu, step, with_list, acks):
    mp_worker.exec(DRIVER_SRC)
    args = (a.encode(value).hex(), max_pdu, step, with_list, acks)
    assert mp_worker.eval("xb_long_get(%r, %d, %d, %r, %r)" % args) == NS["xb_long_get"](*args)


set_steps = st.one_of(
    st.builds(lambda l, n, r: enc_request(x.SetFirstBlock(
        0xC1, [x.Attribute(8, CLOCK, 2, None, None)], False, l, n, r)),
        st.booleans(), st.integers(0, 3), st.binary(max_size=8)),
    st.builds(lambda l, n, r: enc_request(x.SetBlock(0xC1, l, n, r)),
              st.booleans(), st.integers(0, 6), st.binary(max_size=8)),
    data_values.map(lambda v: a.encode(v)).flatmap(lambda w: st.just(enc_request(
        x.SetFirstBlock(0xC1, [x.Attribute(8, CLOCK, 2, None, None)], False, True, 1, w)))))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 40), st.lists(set_steps, max_size=10))
def test_micropython_long_set_like_cpython(mp_worker, limit, steps):
    mp_worker.exec(DRIVER_SRC)
    wires = [w.hex() for w in steps]
    assert mp_worker.eval("xb_long_set(%d, %s)" % (limit, json.dumps(wires))) == \
        NS["xb_long_set"](limit, wires)
