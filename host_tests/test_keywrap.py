"""RFC 3394 AES key wrap (dlms/keywrap.py) under CPython and MicroPython: the RFC vector with a
128-bit KEK, differential tests against `cryptography`, and integrity failures."""
import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
from hypothesis import given, settings, strategies as st

from dlms import keywrap

# RFC 3394 section 4.1: 128 bits of key data with a 128-bit KEK.
KEK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
WRAPPED = bytes.fromhex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")


def test_rfc3394_vector():
    assert keywrap.wrap(KEK, KEY) == WRAPPED
    assert keywrap.unwrap(KEK, WRAPPED) == KEY


@settings(max_examples=100, deadline=None)
@given(kek=st.binary(min_size=16, max_size=16), blocks=st.integers(2, 6), data=st.data())
def test_wrap_unwrap_match_cryptography(kek, blocks, data):
    key = data.draw(st.binary(min_size=8 * blocks, max_size=8 * blocks))
    wrapped = keywrap.wrap(kek, key)
    assert wrapped == aes_key_wrap(kek, key)
    assert keywrap.unwrap(kek, wrapped) == key == aes_key_unwrap(kek, wrapped)


@settings(max_examples=100, deadline=None)
@given(bit=st.integers(0, 8 * len(WRAPPED) - 1))
def test_any_altered_bit_fails_integrity(bit):
    bad = bytearray(WRAPPED)
    bad[bit // 8] ^= 0x80 >> (bit % 8)
    with pytest.raises(keywrap.IntegrityError):
        keywrap.unwrap(KEK, bad)


def test_wrong_kek_fails_integrity():
    with pytest.raises(keywrap.IntegrityError):
        keywrap.unwrap(bytes(16), WRAPPED)


@pytest.mark.parametrize("call,args", [
    (keywrap.wrap, (KEK, KEY[:8])), (keywrap.wrap, (KEK, KEY[:15])),
    (keywrap.wrap, (KEK[:15], KEY)), (keywrap.wrap, (KEK + KEK, KEY)),
    (keywrap.unwrap, (KEK, WRAPPED[:16])), (keywrap.unwrap, (KEK, WRAPPED[:23])),
    (keywrap.unwrap, (KEK[:8], WRAPPED)),
])
def test_length_errors(call, args):
    with pytest.raises(keywrap.KeyWrapError) as e:
        call(*args)
    assert not isinstance(e.value, keywrap.IntegrityError)


def test_micropython_gives_the_same_results(mp_worker):
    mp_worker.exec("from dlms import keywrap\nimport binascii")
    cases = [(KEK, KEY), (bytes(range(16, 32)), bytes(range(32))), (b"\xff" * 16, bytes(24))]
    for kek, key in cases:
        wrapped = mp_worker.eval("binascii.hexlify(keywrap.wrap(%r, %r)).decode()" % (kek, key))
        assert wrapped == aes_key_wrap(kek, key).hex()
        assert mp_worker.eval("binascii.hexlify(keywrap.unwrap(%r, binascii.unhexlify(%r)))"
                              ".decode()" % (kek, wrapped)) == key.hex()
    mp_worker.exec("""
def _integrity(kek, w):
    try:
        keywrap.unwrap(kek, w)
    except keywrap.IntegrityError:
        return True
    return False
""")
    assert mp_worker.eval("_integrity(%r, %r)" % (KEK, WRAPPED[:-1] + b"\x00")) is True
