"""AES-ECB block cipher objects: MicroPython's `cryptolib`, or a CPython stand-in for host tests.

``encryptor(key)`` / ``decryptor(key)`` return an object whose ``encrypt(src, dst)`` /
``decrypt(src, dst)`` processes every 16-byte block of ``src`` into ``dst`` (same length; the two
may be the same buffer). As with `cryptolib`, one object only encrypts or only decrypts.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

try:
    from cryptolib import aes as _aes
except ImportError:
    _aes = None

_MODE_ECB = const(1)


if _aes is None:
    # CPython only: the same calls on top of `cryptography` (tests and host tools).
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    class _Ecb:
        def __init__(self, key, encrypting):
            cipher = Cipher(algorithms.AES(bytes(key)), modes.ECB())
            self._ctx = cipher.encryptor() if encrypting else cipher.decryptor()

        def _run(self, src, dst):
            n = len(src)
            if n % 16:
                raise ValueError("ECB input must be a multiple of 16 bytes")
            out = self._ctx.update(bytes(src))
            if dst is None:
                return out
            if len(dst) != n:
                raise ValueError("ECB output must have the input's length")
            dst[:n] = out
            return None

        def encrypt(self, src, dst=None):
            return self._run(src, dst)

        def decrypt(self, src, dst=None):
            return self._run(src, dst)

    def _new(key, encrypting):
        return _Ecb(key, encrypting)
else:
    def _new(key, encrypting):
        return _aes(key, _MODE_ECB)


def _checked(key):
    if len(key) not in (16, 32):
        raise ValueError("AES key must be 16 or 32 bytes")
    return key


def encryptor(key):
    """An AES-ECB encryption object for `key` (16 or 32 bytes)."""
    return _new(_checked(key), True)


def decryptor(key):
    """An AES-ECB decryption object for `key` (16 or 32 bytes)."""
    return _new(_checked(key), False)
