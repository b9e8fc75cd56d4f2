"""Differential tests: the viper GCM under the real micropython binary against `cryptography`.

The same random keys, IVs, AAD and payloads go to the MicroPython worker (viper GHASH, CTR and
table build on cryptolib ECB) and to CPython's AESGCM; outputs must be identical byte for byte.
"""
import random

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings, strategies as st

SETUP = r'''
import binascii
from dlms import gcm

def _h(s):
    return binascii.unhexlify(s)

def _x(b):
    return binascii.hexlify(b).decode()

def gcm_seal(key, iv, aad, pt, doff):
    aad = _h(aad)
    pt = _h(pt)
    g = gcm.Gcm(_h(key), len(pt))
    out = bytearray(doff + len(pt) + 12)
    g.seal(_h(iv), aad, len(aad), pt, len(pt), out, doff)
    return _x(out[doff:])

def gcm_open(key, iv, aad, ct, soff):
    aad = _h(aad)
    src = bytes(soff) + _h(ct)
    n = len(src) - soff - 12
    g = gcm.Gcm(_h(key), n)
    dst = bytearray(n)
    return _x(dst) if g.open(_h(iv), aad, len(aad), src, soff, n, dst) else None

def gcm_mac(key, iv, aad):
    aad = _h(aad)
    t = bytearray(12)
    g = gcm.Gcm(_h(key), 0)
    g.mac(_h(iv), aad, len(aad), t, 0)
    return [_x(t), g.mac_ok(_h(iv), aad, len(aad), t, 0)]

def gcm_crypt(key, iv, pt):
    pt = _h(pt)
    g = gcm.Gcm(_h(key), len(pt))
    out = bytearray(len(pt))
    g.crypt(_h(iv), pt, 0, len(pt), out, 0)
    return _x(out)

def gcm_batch(key, cases):
    g = gcm.Gcm(_h(key), 1100)
    res = []
    for iv, aad, pt in cases:
        aad = _h(aad)
        pt = _h(pt)
        out = bytearray(len(pt) + 12)
        g.seal(_h(iv), aad, len(aad), pt, len(pt), out, 0)
        res.append(_x(out))
    return res
'''


@pytest.fixture(scope="module")
def mp(mp_worker):
    mp_worker.exec(SETUP)
    return mp_worker


def oracle(key, iv, aad, pt):
    return AESGCM(key).encrypt(iv, pt, aad)[:-4]


def test_worker_runs_the_viper_kernels(mp):
    assert mp.eval("gcm.micropython is not None")


def test_green_book_v1_under_micropython(mp):
    got = mp.eval("gcm_seal('000102030405060708090a0b0c0d0e0f', '4d4d4d0000bc614e01234567', "
                  "'30d0d1d2d3d4d5d6d7d8d9dadbdcdddedf', 'c0010000080000010000ff0200', 0)")
    assert got.upper() == "411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"


def test_every_length_and_aad_length(mp):
    # Partial blocks at both ends: payloads 0..70 bytes, AAD 0..35 bytes, one key.
    rnd = random.Random(382)
    key = rnd.randbytes(16)
    cases = []
    for n in range(71):
        for alen in (0, 1, 15, 16, 17, 31, 32, 35):
            cases.append((rnd.randbytes(12), rnd.randbytes(alen), rnd.randbytes(n)))
    got = mp.eval("gcm_batch(%r, %r)" % (key.hex(), [[c.hex() for c in case] for case in cases]))
    assert got == [oracle(key, iv, aad, pt).hex() for iv, aad, pt in cases]


def test_large_payloads(mp):
    rnd = random.Random(1)
    key = rnd.randbytes(16)
    cases = [(rnd.randbytes(12), rnd.randbytes(17), rnd.randbytes(n)) for n in (1024, 1087, 1100)]
    got = mp.eval("gcm_batch(%r, %r)" % (key.hex(), [[c.hex() for c in case] for case in cases]))
    assert got == [oracle(key, iv, aad, pt).hex() for iv, aad, pt in cases]


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), iv=st.binary(min_size=12, max_size=12),
       aad=st.binary(max_size=60), pt=st.binary(max_size=200), off=st.integers(0, 5),
       flip=st.integers(0, 10 ** 6))
def test_seal_and_open_match_aesgcm(mp, key, iv, aad, pt, off, flip):
    expect = oracle(key, iv, aad, pt)
    assert mp.eval("gcm_seal(%r, %r, %r, %r, %d)" % (key.hex(), iv.hex(), aad.hex(), pt.hex(),
                                                      off)) == expect.hex()
    assert mp.eval("gcm_open(%r, %r, %r, %r, %d)" % (key.hex(), iv.hex(), aad.hex(),
                                                      expect.hex(), off)) == pt.hex()
    bad = bytearray(expect)
    bad[flip % len(bad)] ^= 1 << (flip % 8)
    assert mp.eval("gcm_open(%r, %r, %r, %r, %d)" % (key.hex(), iv.hex(), aad.hex(),
                                                      bad.hex(), off)) is None


@settings(max_examples=40, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), iv=st.binary(min_size=12, max_size=12),
       aad=st.binary(max_size=100), pt=st.binary(max_size=100))
def test_gmac_and_ctr_match_aesgcm(mp, key, iv, aad, pt):
    tag, ok = mp.eval("gcm_mac(%r, %r, %r)" % (key.hex(), iv.hex(), aad.hex()))
    assert tag == oracle(key, iv, aad, b"").hex() and ok is True
    got = mp.eval("gcm_crypt(%r, %r, %r)" % (key.hex(), iv.hex(), pt.hex()))
    assert got == oracle(key, iv, b"", pt)[:len(pt)].hex()


def test_table_words_match_cpython(mp):
    # The per-key table (M[b] = b * H and the reduction words) built by viper equals the
    # plain-Python build, word for word, for keys whose H sets high and low bits.
    from dlms import gcm
    for key in (bytes(16), b"\xff" * 16, bytes(range(16))):
        words = mp.eval("list(gcm.Gcm(_h(%r), 0)._w)[4:]" % key.hex())
        assert words == list(gcm.Gcm(key, 0)._w)[4:]
