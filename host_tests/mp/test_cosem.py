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
