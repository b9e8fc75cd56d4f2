# MicroPython-only checks of dlms.xdlms / dlms.blocks: response encoders that write into a
# preallocated buffer do not allocate, and a GET streamed with block transfer keeps the heap
# bounded however large the answer is.
import gc
import micropython

from dlms import axdr, blocks, xdlms


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def _allocates(fn):
    fn()
    micropython.heap_lock()
    try:
        fn()
        failed = False
    except MemoryError:
        failed = True
    micropython.heap_unlock()
    return failed


def test_response_encoders_do_not_allocate():
    buf = bytearray(64)
    raw = b"0123456789"
    value = (axdr.DOUBLE_LONG_UNSIGNED, 1234567)
    calls = (
        ("get normal data", lambda: xdlms.get_response_normal(buf, 0, 0xC1, value)),
        ("get normal dar", lambda: xdlms.get_response_normal(buf, 0, 0xC1, xdlms.OBJECT_UNDEFINED)),
        ("get block", lambda: xdlms.get_response_block(buf, 0, 0xC1, False, 7, raw)),
        ("get block header", lambda: xdlms.get_block_header(buf, 0, 0xC1, True, 9, 200)),
        ("set normal", lambda: xdlms.set_response_normal(buf, 0, 0xC1, xdlms.SUCCESS)),
        ("set ack", lambda: xdlms.set_response_datablock(buf, 0, 0xC1, 3)),
        ("set last", lambda: xdlms.set_response_last_datablock(buf, 0, 0xC1, 0, 3)),
        ("action", lambda: xdlms.action_response_normal(buf, 0, 0xC1, 0, value)),
        ("exception", lambda: xdlms.exception_response(buf, 0, 1, 6, 5)),
    )
    for name, fn in calls:
        check(not _allocates(fn), name + " allocates")
    check(bytes(buf[:7]) == b"\xd8\x01\x06\x00\x00\x00\x05", "last encoding")


def _profile(n):
    # An array of n rows {time, u32, u32} produced and encoded one row at a time.
    head = bytearray(1 + axdr.length_size(n))
    head[0] = axdr.ARRAY
    axdr.encode_length(head, 1, n)
    yield head
    for i in range(n):
        yield axdr.encode((axdr.STRUCTURE, [
            (axdr.OCTET_STRING, axdr.pack_datetime(2024, 1, 1 + i % 28, None, i % 24, 0, 0, 0,
                                                   -60, 0)),
            (axdr.DOUBLE_LONG_UNSIGNED, i), (axdr.DOUBLE_LONG_UNSIGNED, 3 * i)]))


def test_streamed_profile_keeps_the_heap_bounded():
    rows = 4000
    g = blocks.LongGet(512)
    gc.collect()
    base = gc.mem_alloc()
    peak = 0
    total = 0
    blocks_sent = 0
    rsp = g.start(0xC1, _profile(rows))
    while True:
        blocks_sent += 1
        check(len(rsp) <= 512 and rsp[1] == 2, "block %d" % blocks_sent)
        n, pos = axdr.decode_length(rsp, 9)
        check(pos + n == len(rsp), "raw-data length")
        total += n
        if blocks_sent % 25 == 0:
            gc.collect()
            peak = max(peak, gc.mem_alloc() - base)
        if rsp[3]:
            break
        rsp = g.next(0xC1, blocks_sent)
    check(not g.active, "transfer finished")
    # array header (4 octets) + 4000 rows of 26 octets: 104 kB through a 512-octet buffer.
    check(total == 4 + 26 * rows, "streamed %d octets" % total)
    check(peak < 8000, "heap grew by %d octets" % peak)


def test_get_normal_fast_path():
    apdu = bytes((0xC0, 0x01, 0xC1, 0x00, 0x01, 0, 0, 42, 0, 0, 255, 0xFE, 0))
    req = xdlms.decode_request(apdu)
    generic = xdlms._get(xdlms._Body(apdu, apdu[0], apdu[2]), apdu[1])
    assert req == generic and req.attribute.attribute_id == -2 and req.iip == 0xC1
    assert req.attribute.instance == bytes((0, 0, 42, 0, 0, 255))
