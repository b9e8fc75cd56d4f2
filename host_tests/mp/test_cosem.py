# The object_list of the management client (every MT382 object) streams in bounded memory: the
# heap in use while its pieces are produced stays a small fraction of what the whole list takes
# as Data tuples.
import gc

import models
from cosem import obis
from dlms import axdr


def _management_object_list():
    m = models.load("mt382", None)
    view = m.associate(1, hls=lambda f: b"\x10" + f)
    cur = view.find(15, obis.parse("0-0:40.0.0"))
    assert view.action(cur, 1, (axdr.OCTET_STRING, b"\x10\x00"))[0] == 0
    return m, view.get(cur, 2)


def test_object_list_streams_in_bounded_memory():
    m, ol = _management_object_list()
    assert ol.count == m.size
    gc.collect()
    base = gc.mem_alloc()
    worst = 0
    total = 0
    for k, piece in enumerate(ol.chunks()):
        total += len(piece)
        if k % 8 == 0:
            gc.collect()
            worst = max(worst, gc.mem_alloc() - base)
    _, whole = _management_object_list()
    gc.collect()
    base = gc.mem_alloc()
    data = whole.data()
    gc.collect()
    materialised = gc.mem_alloc() - base
    assert len(data[1]) == m.size
    assert total > 8000, total
    assert worst * 10 < materialised, (worst, materialised)


def test_each_object_list_element_decodes():
    m, ol = _management_object_list()
    pieces = ol.chunks()
    head = next(pieces)
    assert head[0] == axdr.ARRAY
    n = 0
    for piece in pieces:
        entry = axdr.decode_all(piece)
        assert entry[0] == axdr.STRUCTURE and len(entry[1]) == 4
        assert m.lookup(entry[1][2][1]) is not None
        n += 1
    assert n == m.size


def test_access_errors_share_the_codec_result_codes():
    from cosem import errors
    from dlms import xdlms
    e = errors.TypeUnmatched("x")
    assert isinstance(e, xdlms.AccessError) and isinstance(e, ValueError)
    assert e.result == xdlms.TYPE_UNMATCHED == errors.TYPE_UNMATCHED
    assert errors.OtherReason("y").result == xdlms.OTHER_REASON
    assert errors.AccessError("z", xdlms.DATA_BLOCK_UNAVAILABLE).result == 14


def test_wrap_answers_as_dtype_from_source():
    from cosem import dtype, errors, ic
    types = (axdr.OCTET_STRING, (axdr.OCTET_STRING, 2, 6), (axdr.VISIBLE_STRING, 0, 3),
             axdr.LONG_UNSIGNED, (axdr.LONG, -5, 5), axdr.DOUBLE_LONG_UNSIGNED, axdr.LONG64,
             axdr.BOOLEAN, None, (axdr.ARRAY, axdr.UNSIGNED))
    values = (0, -1, 5, 6, 65535, 65536, 1 << 31, 1 << 32, 1 << 63, -(1 << 63) - 1, True,
              b"", b"ab", b"abcdefg", "x", None, (axdr.LONG, 3), bytearray(b"ab"))

    def outcome(f, t, v):
        try:
            return f(t, v)
        except errors.AccessError as e:
            return type(e), e.result
    for t in types:
        for v in values:
            assert outcome(ic.wrap, t, v) == outcome(dtype.from_source, t, v), (t, v)


def test_encode_into_fast_path_equals_the_generic_encoder():
    for data in ((axdr.OCTET_STRING, b"ISK1"), (axdr.VISIBLE_STRING, b""), (axdr.LONG, -2),
                 (axdr.DOUBLE_LONG_UNSIGNED, 1 << 31), (axdr.LONG64, -(1 << 62)),
                 (axdr.OCTET_STRING, bytes(130)), (axdr.LONG_UNSIGNED, 1 << 16),
                 (axdr.UNSIGNED, True)):
        for size in (None, 0, 3, 6, 140):
            out = []
            for f in (axdr.encode_into, axdr._put):
                buf = None if size is None else bytearray(size)
                try:
                    out.append((f(buf, 1, data), buf and bytes(buf)))
                except axdr.EncodeError as e:
                    out.append(str(e))
            assert out[0] == out[1], (data, size, out)
