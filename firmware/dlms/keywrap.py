"""AES key wrap (RFC 3394) under a 128-bit key-encryption key, as DLMS suite 0 key transfer uses.

The key data is n 64-bit blocks (n >= 2; a 128-bit key is n = 2); the wrapped form is one
block longer and starts with the integrity check value A6A6A6A6A6A6A6A6 once unwrapped.
"""
from dlms import aes_ecb

_ICV = b"\xA6\xA6\xA6\xA6\xA6\xA6\xA6\xA6"


class KeyWrapError(ValueError):
    """Wrong key-encryption-key or key-data length."""


class IntegrityError(KeyWrapError):
    """The unwrapped integrity check value is not A6A6A6A6A6A6A6A6: wrong KEK or altered data."""


def _check_kek(kek):
    if len(kek) != 16:
        raise KeyWrapError("KEK must be 16 bytes")


def _xor_step(b, t):
    # A xor t, t as a 64-bit big-endian number, on the first half of the block.
    k = 7
    while t:
        b[k] ^= t & 0xFF
        t >>= 8
        k -= 1


def wrap(kek, key):
    """Wrap `key` (a multiple of 8 bytes, at least 16) under `kek`; return len(key) + 8 bytes."""
    _check_kek(kek)
    size = len(key)
    if size % 8 or size < 16:
        raise KeyWrapError("key data must be a multiple of 8 bytes, at least 16")
    n = size >> 3
    aes = aes_ecb.encryptor(kek)
    r = bytearray(key)
    b = bytearray(16)
    b[0:8] = _ICV
    for j in range(6):
        for i in range(n):
            b[8:16] = r[8 * i:8 * i + 8]
            aes.encrypt(b, b)
            _xor_step(b, n * j + i + 1)
            r[8 * i:8 * i + 8] = b[8:16]
    return bytes(b[0:8]) + bytes(r)


def unwrap(kek, wrapped):
    """Unwrap RFC 3394 data under `kek`; return the key, or raise IntegrityError."""
    _check_kek(kek)
    size = len(wrapped)
    if size % 8 or size < 24:
        raise KeyWrapError("wrapped key must be a multiple of 8 bytes, at least 24")
    n = (size >> 3) - 1
    aes = aes_ecb.decryptor(kek)
    r = bytearray(wrapped[8:])
    b = bytearray(16)
    b[0:8] = wrapped[0:8]
    for j in range(5, -1, -1):
        for i in range(n, 0, -1):
            _xor_step(b, n * j + i)
            b[8:16] = r[8 * i - 8:8 * i]
            aes.decrypt(b, b)
            r[8 * i - 8:8 * i] = b[8:16]
    diff = 0
    for k in range(8):
        diff |= b[k] ^ 0xA6
    if diff:
        raise IntegrityError("key unwrap integrity check failed")
    return bytes(r)
