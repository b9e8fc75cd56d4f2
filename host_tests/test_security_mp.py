"""Security suite 0 under the real micropython binary: the spec vectors, random protections
against `cryptography`, and a differential fuzz where MicroPython and CPython must give the same
answer (plaintext or exception class) for every mutated ciphered APDU."""
import random

import pytest

from dlms import security as sec
from test_security import (AK, CLIENT_ST, EK, GET_PT, SERVER_ST, V1, V2, V3, V7, V7_PLAIN,
                           oracle_body)

# Runs in both interpreters: the answer of a receiving context to one wire APDU.
RECEIVE = r'''
import binascii
from dlms import security as sec

def _h(s):
    return binascii.unhexlify(s)

def _x(b):
    return binascii.hexlify(b).decode()

def receive(ek, ak, peer, wire, policy, capacity):
    ctx = sec.Suite0(_h(ek), _h(ak), b"RECEIVER", capacity)
    ctx.set_peer_title(_h(peer))
    try:
        tag, title, body = sec.parse(_h(wire))
        plain = ctx.unprotect(body, policy, title)
    except sec.SecurityError as e:
        return [type(e).__name__, ctx.rx_ic]
    return [_x(plain), ctx.rx_ic, ctx.rx_sc]

def receive_all(ek, ak, peer, wires, policy, capacity):
    return [receive(ek, ak, peer, w, policy, capacity) for w in wires]

def send(ek, ak, title, ic, sc, apdu, tag):
    ctx = sec.Suite0(_h(ek), _h(ak), _h(title), 1100)
    ctx.tx_ic = ic - 1
    return _x(ctx.protect(sc, _h(apdu), tag))

def send_all(cases):
    return [send(*case) for case in cases]

def hls(ek, ak, title, ic, challenge):
    ctx = sec.Suite0(_h(ek), _h(ak), _h(title))
    ctx.tx_ic = ic - 1
    return _x(ctx.hls_answer(_h(challenge)))
'''

_ns = {}
exec(RECEIVE, _ns)


@pytest.fixture(scope="module")
def mp(mp_worker):
    mp_worker.exec(RECEIVE)
    return mp_worker


def call(mp, expr):
    """Evaluate `expr` in MicroPython and in CPython; both answers must agree."""
    got = mp.eval(expr)
    assert got == eval(expr, _ns)
    return got


def test_spec_vectors_under_micropython(mp):
    for sc, wire in ((0x30, V1), (0x10, V2), (0x20, V3)):
        assert call(mp, "send(%r, %r, %r, %d, %d, %r, 0xC8)" % (
            EK.hex(), AK.hex(), SERVER_ST.hex(), 0x01234567, sc, GET_PT.hex())) == wire.hex()
        assert call(mp, "receive(%r, %r, %r, %r, 0, 64)" % (
            EK.hex(), AK.hex(), SERVER_ST.hex(), wire.hex())) == [GET_PT.hex(), 0x01234567, sc]
    key = b"MYDUMMYGLOBALKEY".hex()
    assert call(mp, "receive(%r, %r, '0000000000000000', %r, 0x30, 64)" % (
        key, key, V7.hex())) == [V7_PLAIN.hex(), 0x1E5, 0x30]
    assert call(mp, "hls(%r, %r, %r, 1, '503677524A323146')" % (
        EK.hex(), AK.hex(), CLIENT_ST.hex())) == "10000000011a52fe7dd3e72748973c1e28"
    assert call(mp, "hls(%r, %r, %r, %d, '4B35366956616759')" % (
        EK.hex(), AK.hex(), SERVER_ST.hex(), 0x01234567)) == "1001234567fe1466afb3dbcd4f9389e2b7"


def test_random_protections_match_cryptography(mp):
    rnd = random.Random(4059)
    cases = []
    for k in range(60):
        ek, ak, title = rnd.randbytes(16), rnd.randbytes(16), rnd.randbytes(8)
        ic = rnd.randrange(1, 1 << 32)
        sc = rnd.choice((0x10, 0x20, 0x30))
        apdu = rnd.randbytes(rnd.choice((0, 1, 13, 16, 64, 127, 128, 300, 1100)))
        cases.append((ek.hex(), ak.hex(), title.hex(), ic, sc, apdu.hex(), 0))
    got = call(mp, "send_all(%r)" % (cases,))
    assert got == [oracle_body(c[4], bytes.fromhex(c[2]), c[3], bytes.fromhex(c[0]),
                               bytes.fromhex(c[1]), bytes.fromhex(c[5])).hex() for c in cases]


def _mutants(wire, rnd, count):
    out = []
    for _ in range(count):
        w = bytearray(wire)
        kind = rnd.randrange(5)
        if kind == 0:
            k = rnd.randrange(len(w))
            w[k] ^= rnd.randrange(1, 256)
        elif kind == 1:
            del w[rnd.randrange(len(w)):]
        elif kind == 2:
            w += rnd.randbytes(rnd.randrange(1, 8))
        elif kind == 3:
            k = rnd.randrange(len(w) + 1)
            w[k:k] = rnd.randbytes(rnd.randrange(1, 4))
        else:
            w = bytearray(rnd.randbytes(rnd.randrange(0, 60)))
        out.append(bytes(w).hex())
    return out


@pytest.mark.parametrize("sc,tag,policy", [(0x30, 0xC8, 0x10), (0x10, 0xCC, 0x10),
                                           (0x30, sec.GENERAL_GLO, 0x30), (0x20, 0xC8, 0)])
def test_differential_fuzz(mp, sc, tag, policy):
    rnd = random.Random(sc * 1000 + tag)
    wire = bytes.fromhex(_ns["send"](EK.hex(), AK.hex(), SERVER_ST.hex(), 77, sc,
                                     GET_PT.hex(), tag))
    wires = [wire.hex()] + _mutants(wire, rnd, 300)
    got = call(mp, "receive_all(%r, %r, %r, %r, %d, 64)" % (
        EK.hex(), AK.hex(), SERVER_ST.hex(), wires, policy))
    assert got[0] == [GET_PT.hex(), 77, sc]
    body = sec.parse(wire)[2]
    for w, answer in zip(wires, got):
        if len(answer) == 2:
            assert issubclass(getattr(sec, answer[0]), sec.SecurityError) and answer[1] == -1
        elif sc & 0x10:
            # Accepted with a tag: the body is the authentic one.
            assert bytes(sec.parse(bytes.fromhex(w))[2]) == bytes(body)
