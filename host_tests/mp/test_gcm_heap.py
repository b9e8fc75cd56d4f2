# The GCM kernels allocate nothing: counter blocks, ECB, CTR, GHASH and the tag of a 1 KiB
# buffer run under micropython.heap_lock() (any allocation raises MemoryError). Buffers, the
# key table and the ECB view are set up outside the lock.
import micropython

from dlms import gcm

_KEY = bytes(range(16))
_IV = bytes(range(100, 112))
_N = 1024


def _setup():
    g = gcm.Gcm(_KEY, _N)
    aad = bytearray(b"\x30" + bytes(range(16)))
    pt = bytearray(_N)
    for i in range(_N):
        pt[i] = (i * 7) & 0xFF
    view = memoryview(g._ks)[:16 * ((_N + 31) >> 4)]
    return g, aad, pt, view


def test_seal_kernels_do_not_allocate():
    g, aad, pt, view = _setup()
    expect = bytearray(_N + 12)
    g.seal(_IV, aad, 17, pt, _N, expect, 0)
    out = bytearray(_N + 12)
    w, ks, aes = g._w, g._ks, g._aes
    nb = (_N + 31) >> 4
    micropython.heap_lock()
    try:
        gcm._start(ks, _IV, nb)
        aes.encrypt(view, view)
        gcm._gcm(w, ks, aad, 17, pt, 0, _N, out, 0, 0)
    finally:
        micropython.heap_unlock()
    assert out == expect


def test_open_kernels_do_not_allocate():
    g, aad, pt, view = _setup()
    sealed = bytearray(_N + 12)
    g.seal(_IV, aad, 17, pt, _N, sealed, 0)
    dst = bytearray(_N)
    w, ks, aes = g._w, g._ks, g._aes
    nb = (_N + 31) >> 4
    micropython.heap_lock()
    try:
        gcm._start(ks, _IV, nb)
        aes.encrypt(view, view)
        good = gcm._gcm(w, ks, aad, 17, sealed, 0, _N, dst, 0, 1)
        sealed[_N + 11] ^= 1
        bad = gcm._gcm(w, ks, aad, 17, sealed, 0, _N, dst, 0, 1)
    finally:
        micropython.heap_unlock()
    assert good == 0 and bad != 0
    assert dst == pt


def test_ctr_kernel_does_not_allocate():
    g, aad, pt, view = _setup()
    expect = bytearray(_N)
    g.crypt(_IV, pt, 0, _N, expect, 0)
    out = bytearray(_N)
    ks = g._ks
    micropython.heap_lock()
    try:
        gcm._xor(out, 0, pt, 0, ks, _N)
    finally:
        micropython.heap_unlock()
    assert out == expect
