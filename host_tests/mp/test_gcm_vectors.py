# GCM vectors and a bit-serial GF(2^128) reference, run by MicroPython itself. Needs nothing
# but the firmware modules, so the same file also checks the viper kernels on a 32-bit board
# (copy firmware/dlms and this folder, run `runner.py test_gcm_vectors`).
import binascii

from dlms import gcm


def _h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def _seal(key, iv, aad, pt):
    g = gcm.Gcm(key, len(pt))
    out = bytearray(len(pt) + 12)
    g.seal(iv, aad, len(aad), pt, len(pt), out, 0)
    return bytes(out)


def _gf_mul(x, y):
    # GCM multiplication, one bit at a time (x^0 is the top bit of the 128-bit integer).
    z = 0
    v = y
    r = 0xE1 << 120
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= v
        v = (v >> 1) ^ r if v & 1 else v >> 1
    return z


def _ghash(h, data):
    y = 0
    for i in range(0, len(data), 16):
        y = _gf_mul(y ^ int.from_bytes(data[i:i + 16], "big"), h)
    return y


def _pad(b):
    return bytes(b) + bytes(-len(b) % 16)


def _reference_tag(key, iv, aad, ct):
    g = gcm.Gcm(key, 0)
    h = bytearray(16)
    g._aes.encrypt(h, h)
    e0 = bytearray(iv + b"\x00\x00\x00\x01")
    g._aes.encrypt(e0, e0)
    lens = (8 * len(aad)).to_bytes(8, "big") + (8 * len(ct)).to_bytes(8, "big")
    s = _ghash(int.from_bytes(h, "big"), _pad(aad) + _pad(ct) + lens)
    return bytes(a ^ b for a, b in zip(s.to_bytes(16, "big"), e0))[:12]


class _Rand:
    # xorshift32: the same bytes on every port.
    def __init__(self, seed):
        self.s = seed

    def bytes(self, n):
        out = bytearray(n)
        s = self.s
        for i in range(n):
            s ^= (s << 13) & 0xFFFFFFFF
            s ^= s >> 17
            s ^= (s << 5) & 0xFFFFFFFF
            out[i] = s & 0xFF
        self.s = s
        return bytes(out)


def test_gcm_spec_case_4():
    key = _h("feffe9928665731c6d6a8f9467308308")
    iv = _h("cafebabefacedbaddecaf888")
    pt = _h("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
    aad = _h("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    expect = _h("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
                "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
                "5bc94fbc3221a5db94fae95ae7121a47")[:-4]
    if _seal(key, iv, aad, pt) != expect:
        raise AssertionError("GCM test case 4")


def test_dlms_v1():
    got = _seal(_h("000102030405060708090A0B0C0D0E0F"), _h("4D4D4D0000BC614E01234567"),
                _h("30 D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"), _h("C0010000080000010000FF0200"))
    if got != _h("411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B"):
        raise AssertionError("DLMS V1")


def test_viper_tag_equals_bit_serial_reference():
    rnd = _Rand(0x4D4D4D01)
    for n, alen in ((0, 0), (1, 17), (15, 16), (16, 0), (33, 31), (70, 5)):
        key, iv = rnd.bytes(16), rnd.bytes(12)
        aad, pt = rnd.bytes(alen), rnd.bytes(n)
        sealed = _seal(key, iv, aad, pt)
        if sealed[n:] != _reference_tag(key, iv, aad, sealed[:n]):
            raise AssertionError("tag differs from the reference for n=%d alen=%d" % (n, alen))


def test_all_ones_and_top_bit_keys():
    # H values whose words have bit 31 set exercise the logical shifts of a 32-bit word.
    for key in (b"\xff" * 16, b"\x80" * 16, bytes(16)):
        iv = b"\xff" * 12
        aad = b"\xff" * 20
        pt = b"\x80" * 40
        sealed = _seal(key, iv, aad, pt)
        if sealed[40:] != _reference_tag(key, iv, aad, sealed[:40]):
            raise AssertionError("tag differs from the reference")
