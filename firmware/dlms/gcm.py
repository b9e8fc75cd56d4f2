"""AES-GCM-128 with a 12-byte tag (DLMS security suite 0), built on AES-ECB and a table GHASH.

GCM (NIST SP 800-38D) with a 96-bit IV: J0 = IV || 00000001, the payload is XORed with
E(K, J0 + 1), E(K, J0 + 2) ..., and the tag is GHASH_H(A, C) xor E(K, J0), cut to 12 bytes
(a shorter GCM tag is a prefix of the full one).

Speed: the counter blocks of a message are encrypted by a single ECB call. GHASH multiplies by
H with Shoup's 8-bit method: a table M[b] = b * H of 256 field elements and 256 reduction words
(5 KiB per key, built in the constructor), 16 table steps per block. Field elements are
four 32-bit words, word 0 = bytes 0..3 big-endian; GCM's bit order puts the coefficient of x^0
in the top bit of byte 0, so multiplying by x^8 is a right shift by 8 whose 8 lost bits
(x^128..x^135) fold back through x^128 = 1 + x + x^2 + x^7.

On MicroPython the per-block loops are viper functions that only touch the buffers they are
given (no allocation) and keep every value within 32 bits with logical shifts, so that they
give the same results on a 32-bit ARM word as on the 64-bit unix port. CPython (host tests)
runs plain-Python twins of the same functions (_build, _start, _xor, _gcm) on the same tables.

Buffers are passed with offsets and lengths so that callers work in their own preallocated
buffers. Lengths are limited by `capacity`, set at construction.
"""
from array import array

from dlms import aes_ecb

try:
    import micropython
    from micropython import const
except ImportError:
    micropython = None

    def const(x):
        return x

TAG_SIZE = const(12)
MAX_CAPACITY = const(0xFFFF)

# Per-key word array: GHASH state Y (4 words), table M[b] (256 x 4 words), reduction words.
_M = const(4)
_RED = const(1028)
_WORDS = const(1284)


if micropython is None:
    def _build(w, h):
        """M[b] = b * H for every byte b (b's top bit is x^0) and the reduction words."""
        d = _M + 4 * 0x80
        for k in range(4):
            w[d + k] = int.from_bytes(h[4 * k:4 * k + 4], "big")
        b = 0x80
        while b > 1:
            s = _M + 4 * b
            d = _M + 2 * b
            x0, x1, x2, x3 = w[s], w[s + 1], w[s + 2], w[s + 3]
            w[d + 3] = (x3 >> 1) | ((x2 & 1) << 31)
            w[d + 2] = (x2 >> 1) | ((x1 & 1) << 31)
            w[d + 1] = (x1 >> 1) | ((x0 & 1) << 31)
            w[d] = (x0 >> 1) ^ (0xE1000000 if x3 & 1 else 0)
            b >>= 1
        b = 2
        while b < 256:
            for j in range(1, b):
                for k in range(4):
                    w[_M + 4 * (b + j) + k] = w[_M + 4 * b + k] ^ w[_M + 4 * j + k]
            b <<= 1
        for k in range(4):
            w[_M + k] = 0
        for r in range(256):
            w[_RED + r] = ((r << 8) ^ (r << 7) ^ (r << 6) ^ (r << 1)) << 16

    def _mul(w, y):
        # Horner over the bytes of Y from the last: Z = Z * x^8 + M[byte].
        z0 = z1 = z2 = z3 = 0
        for k in (3, 2, 1, 0):
            v = y[k]
            for _ in range(4):
                t = _M + ((v & 0xFF) << 2)
                r = z3 & 0xFF
                z3 = ((z3 >> 8) | ((z2 & 0xFF) << 24)) ^ w[t + 3]
                z2 = ((z2 >> 8) | ((z1 & 0xFF) << 24)) ^ w[t + 2]
                z1 = ((z1 >> 8) | ((z0 & 0xFF) << 24)) ^ w[t + 1]
                z0 = (z0 >> 8) ^ w[_RED + r] ^ w[t]
                v >>= 8
        y[0], y[1], y[2], y[3] = z0, z1, z2, z3

    def _tag(w, a, alen, c, coff, clen, ks):
        # (GHASH_H(A, C) xor E(J0)), all 16 bytes.
        y = [0, 0, 0, 0]
        for buf, off, n in ((a, 0, alen), (c, coff, clen)):
            end = off + n
            while off < end:
                blk = bytes(buf[off:min(off + 16, end)]) + bytes(16)
                for k in range(4):
                    y[k] ^= int.from_bytes(blk[4 * k:4 * k + 4], "big")
                _mul(w, y)
                off += 16
        y[1] ^= alen << 3
        y[3] ^= clen << 3
        _mul(w, y)
        s = b"".join(x.to_bytes(4, "big") for x in y)
        return bytes(x ^ k for x, k in zip(s, ks[0:16]))

    def _start(ks, iv, nb):
        """Counter blocks J0 .. J0 + nb - 1 into ks."""
        for c in range(nb):
            ks[16 * c:16 * c + 12] = iv[0:12]
            ks[16 * c + 12:16 * c + 16] = (c + 1).to_bytes(4, "big")

    def _xor(dst, doff, src, soff, ks, n):
        """dst[doff:doff + n] = src[soff:soff + n] xor the key stream ks[16:16 + n]."""
        if n == 0:
            return
        x = int.from_bytes(src[soff:soff + n], "big") ^ int.from_bytes(ks[16:16 + n], "big")
        dst[doff:doff + n] = x.to_bytes(n, "big")

    def _gcm(w, ks, a, alen, src, soff, n, dst, doff, verify):
        """Seal (verify 0): encrypt src[soff:soff + n] into dst[doff:], tag after it; return 0.
        Open (verify 1): check the tag after the ciphertext src[soff:soff + n]; only if it is
        right, decrypt into dst[doff:]; return 0 when right (no early exit on a mismatch)."""
        if not verify:
            _xor(dst, doff, src, soff, ks, n)
            dst[doff + n:doff + n + TAG_SIZE] = _tag(w, a, alen, dst, doff, n, ks)[0:TAG_SIZE]
            return 0
        t = _tag(w, a, alen, src, soff, n, ks)
        d = 0
        for i in range(TAG_SIZE):
            d |= t[i] ^ src[soff + n + i]
        if d == 0:
            _xor(dst, doff, src, soff, ks, n)
        return d
else:
    @micropython.viper
    def _build(w: ptr32, h: ptr8):
        d = _M + 4 * 0x80
        k = 0
        while k < 4:
            w[d + k] = (h[4 * k] << 24) | (h[4 * k + 1] << 16) | (h[4 * k + 2] << 8) | h[4 * k + 3]
            k += 1
        poly = uint(0xE1) << 24
        b = 0x80
        while b > 1:
            s = _M + 4 * b
            d = _M + 2 * b
            x0 = uint(w[s])
            x1 = uint(w[s + 1])
            x2 = uint(w[s + 2])
            x3 = uint(w[s + 3])
            w[d + 3] = (x3 >> 1) | ((x2 & 1) << 31)
            w[d + 2] = (x2 >> 1) | ((x1 & 1) << 31)
            w[d + 1] = (x1 >> 1) | ((x0 & 1) << 31)
            w[d] = (x0 >> 1) ^ ((uint(0) - (x3 & 1)) & poly)
            b >>= 1
        b = 2
        while b < 256:
            j = 1
            while j < b:
                d = _M + 4 * (b + j)
                s = _M + 4 * b
                t = _M + 4 * j
                w[d] = w[s] ^ w[t]
                w[d + 1] = w[s + 1] ^ w[t + 1]
                w[d + 2] = w[s + 2] ^ w[t + 2]
                w[d + 3] = w[s + 3] ^ w[t + 3]
                j += 1
            b <<= 1
        w[_M] = 0
        w[_M + 1] = 0
        w[_M + 2] = 0
        w[_M + 3] = 0
        r = 0
        while r < 256:
            w[_RED + r] = ((r << 8) ^ (r << 7) ^ (r << 6) ^ (r << 1)) << 16
            r += 1

    @micropython.viper
    def _start(ks: ptr8, iv: ptr8, nb: int):
        # ks is a bytearray of ours, hence word aligned: the IV words are copied as words.
        i = 0
        while i < 12:
            ks[i] = iv[i]
            i += 1
        k32 = ptr32(ks)
        a = k32[0]
        b = k32[1]
        d = k32[2]
        p = 0
        c = 1
        while c <= nb:
            k32[p] = a
            k32[p + 1] = b
            k32[p + 2] = d
            q = (p << 2) + 12
            ks[q] = c >> 24
            ks[q + 1] = c >> 16
            ks[q + 2] = c >> 8
            ks[q + 3] = c
            p += 4
            c += 1

    @micropython.viper
    def _xor(dst: ptr8, doff: int, src: ptr8, soff: int, ks: ptr8, n: int):
        d = ptr8(uint(dst) + doff)
        s = ptr8(uint(src) + soff)
        k = ptr8(uint(ks) + 16)
        i = 0
        while i < n:
            d[i] = s[i] ^ k[i]
            i += 1

    @micropython.viper
    def _gcm(w: ptr32, ks: ptr8, a: ptr8, alen: int, src: ptr8, soff: int, n: int,
             dst: ptr8, doff: int, verify: int) -> int:
        d8 = ptr8(uint(dst) + doff)
        s8 = ptr8(uint(src) + soff)
        k8 = ptr8(uint(ks) + 16)
        if verify:
            c = src
            coff = soff
        else:
            i = 0
            while i < n:
                d8[i] = s8[i] ^ k8[i]
                i += 1
            c = dst
            coff = doff
        # GHASH over a[0:alen], c[coff:coff + n] and the length block.
        red = ptr32(uint(w) + 4 * _RED)
        m = uint(w) + 4 * _M
        w[0] = 0
        w[1] = 0
        w[2] = 0
        w[3] = 0
        p = a
        off = 0
        end = alen
        seg = 0
        while True:
            if off < end:
                if end - off >= 16:
                    q = ptr8(uint(p) + off)
                    w[0] ^= (q[0] << 24) | (q[1] << 16) | (q[2] << 8) | q[3]
                    w[1] ^= (q[4] << 24) | (q[5] << 16) | (q[6] << 8) | q[7]
                    w[2] ^= (q[8] << 24) | (q[9] << 16) | (q[10] << 8) | q[11]
                    w[3] ^= (q[12] << 24) | (q[13] << 16) | (q[14] << 8) | q[15]
                    off += 16
                else:
                    k = 0
                    while off < end:
                        w[k >> 2] ^= p[off] << (24 - ((k & 3) << 3))
                        off += 1
                        k += 1
            elif seg == 0:
                seg = 1
                p = c
                off = coff
                end = coff + n
                continue
            elif seg == 1:
                seg = 2
                w[1] ^= alen << 3
                w[3] ^= n << 3
            else:
                break
            # Y = Y * H: Horner over the bytes of Y from the last, four steps per word unrolled.
            z0 = uint(0)
            z1 = uint(0)
            z2 = uint(0)
            z3 = uint(0)
            k = 3
            while k >= 0:
                v = uint(w[k])
                t = ptr32(m + ((v & 0xFF) << 4))
                r = int(z3 & 0xFF)
                z3 = ((z3 >> 8) | ((z2 & 0xFF) << 24)) ^ uint(t[3])
                z2 = ((z2 >> 8) | ((z1 & 0xFF) << 24)) ^ uint(t[2])
                z1 = ((z1 >> 8) | ((z0 & 0xFF) << 24)) ^ uint(t[1])
                z0 = (z0 >> 8) ^ uint(red[r]) ^ uint(t[0])
                t = ptr32(m + (((v >> 8) & 0xFF) << 4))
                r = int(z3 & 0xFF)
                z3 = ((z3 >> 8) | ((z2 & 0xFF) << 24)) ^ uint(t[3])
                z2 = ((z2 >> 8) | ((z1 & 0xFF) << 24)) ^ uint(t[2])
                z1 = ((z1 >> 8) | ((z0 & 0xFF) << 24)) ^ uint(t[1])
                z0 = (z0 >> 8) ^ uint(red[r]) ^ uint(t[0])
                t = ptr32(m + (((v >> 16) & 0xFF) << 4))
                r = int(z3 & 0xFF)
                z3 = ((z3 >> 8) | ((z2 & 0xFF) << 24)) ^ uint(t[3])
                z2 = ((z2 >> 8) | ((z1 & 0xFF) << 24)) ^ uint(t[2])
                z1 = ((z1 >> 8) | ((z0 & 0xFF) << 24)) ^ uint(t[1])
                z0 = (z0 >> 8) ^ uint(red[r]) ^ uint(t[0])
                t = ptr32(m + ((v >> 24) << 4))
                r = int(z3 & 0xFF)
                z3 = ((z3 >> 8) | ((z2 & 0xFF) << 24)) ^ uint(t[3])
                z2 = ((z2 >> 8) | ((z1 & 0xFF) << 24)) ^ uint(t[2])
                z1 = ((z1 >> 8) | ((z0 & 0xFF) << 24)) ^ uint(t[1])
                z0 = (z0 >> 8) ^ uint(red[r]) ^ uint(t[0])
                k -= 1
            w[0] = z0
            w[1] = z1
            w[2] = z2
            w[3] = z3
        # Tag = Y xor E(J0), 12 bytes: written (seal) or compared without an early exit (open).
        d = 0
        tpos = coff + n
        i = 0
        while i < 12:
            x = int(((uint(w[i >> 2]) >> (24 - ((i & 3) << 3))) ^ ks[i]) & 0xFF)
            if verify:
                d |= x ^ src[tpos + i]
            else:
                dst[tpos + i] = x
            i += 1
        if verify and d == 0:
            i = 0
            while i < n:
                d8[i] = s8[i] ^ k8[i]
                i += 1
        return d


class Gcm:
    """AES-GCM-128 with 12-byte tags under one key, for payloads of up to `capacity` bytes.

    The IV is 12 bytes (DLMS: system title || invocation counter). AAD and payload lengths
    must stay below 2**29 bytes; the payload is also bounded by `capacity`.
    """

    def __init__(self, key, capacity=1024):
        if len(key) != 16:
            raise ValueError("AES-GCM-128 key must be 16 bytes")
        if capacity < 0 or capacity > MAX_CAPACITY:
            raise ValueError("capacity out of range")
        self.capacity = capacity
        self._aes = aes_ecb.encryptor(key)
        self._w = array("I", bytes(4 * _WORDS))
        self._ks = bytearray(16 * ((capacity + 31) >> 4))
        self._ksv = memoryview(self._ks)
        h = bytearray(16)
        self._aes.encrypt(h, h)
        _build(self._w, h)

    def _stream(self, iv, n):
        # E(J0) into ks[0:16], then the key stream for n payload bytes.
        if n < 0 or n > self.capacity:
            raise ValueError("payload longer than the GCM capacity")
        if len(iv) != 12:
            raise ValueError("GCM IV must be 12 bytes")
        nb = (n + 31) >> 4
        _start(self._ks, iv, nb)
        ks = self._ksv[:nb << 4]
        self._aes.encrypt(ks, ks)

    def seal(self, iv, aad, alen, src, n, dst, doff):
        """Encrypt src[0:n] into dst[doff:doff + n] and write the tag after it.

        The tag authenticates aad[0:alen] and the ciphertext. Returns doff + n + 12.
        """
        self._stream(iv, n)
        _gcm(self._w, self._ks, aad, alen, src, 0, n, dst, doff, 0)
        return doff + n + TAG_SIZE

    def open(self, iv, aad, alen, src, soff, n, dst):
        """Check the tag at src[soff + n:soff + n + 12] over aad[0:alen] and the ciphertext
        src[soff:soff + n]; if it is right, decrypt into dst[0:n] and return True.

        A wrong tag returns False and leaves dst untouched.
        """
        self._stream(iv, n)
        return not _gcm(self._w, self._ks, aad, alen, src, soff, n, dst, 0, 1)

    def crypt(self, iv, src, soff, n, dst, doff):
        """CTR only (no tag): dst[doff:doff + n] = src[soff:soff + n] xor the GCM key stream."""
        self._stream(iv, n)
        _xor(dst, doff, src, soff, self._ks, n)

    def mac(self, iv, aad, alen, dst, doff):
        """GMAC: write the 12-byte tag of aad[0:alen] (no payload) to dst[doff:doff + 12]."""
        self._stream(iv, 0)
        _gcm(self._w, self._ks, aad, alen, aad, 0, 0, dst, doff, 0)

    def mac_ok(self, iv, aad, alen, t, toff):
        """True when t[toff:toff + 12] is the GMAC tag of aad[0:alen]."""
        self._stream(iv, 0)
        return not _gcm(self._w, self._ks, aad, alen, t, toff, 0, t, toff, 1)
