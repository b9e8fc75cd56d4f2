"""AES-GCM-128 (dlms/gcm.py) and its ECB base under CPython: published vectors, differential
tests against `cryptography`'s AESGCM (a 12-byte tag is the prefix of the 16-byte one), API
bounds, and the ARM cross-compilation of the security modules."""
import os
import subprocess

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings, strategies as st

import mpy
from dlms import aes_ecb, gcm

# McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 1-4 (AES-128), the vectors
# NIST SP 800-38D refers to: key, IV, plaintext, AAD, ciphertext, full 16-byte tag.
GCM_SPEC_CASES = [
    ("00000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"),
    ("00000000000000000000000000000000", "000000000000000000000000",
     "00000000000000000000000000000000", "", "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"),
    ("feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255", "",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
     "4d5c2af327cd64a62cf35abd2ba6fab4"),
    ("feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
     "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"),
]

EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
SERVER_IV = bytes.fromhex("4D4D4D0000BC614E01234567")
GET_PT = bytes.fromhex("C0010000080000010000FF0200")


def seal(g, iv, aad, pt):
    out = bytearray(len(pt) + 12)
    assert g.seal(iv, aad, len(aad), pt, len(pt), out, 0) == len(out)
    return bytes(out)


def open_(g, iv, aad, ct_tag):
    n = len(ct_tag) - 12
    dst = bytearray(n)
    return bytes(dst) if g.open(iv, aad, len(aad), ct_tag, 0, n, dst) else None


def oracle(key, iv, aad, pt):
    """cryptography's AES-GCM with the tag cut to 12 bytes."""
    return AESGCM(key).encrypt(iv, pt, aad)[:-4]


@pytest.mark.parametrize("key,iv,pt,aad,ct,tag", GCM_SPEC_CASES)
def test_gcm_spec_vectors(key, iv, pt, aad, ct, tag):
    key, iv, pt, aad = (bytes.fromhex(x) for x in (key, iv, pt, aad))
    g = gcm.Gcm(key)
    expect = bytes.fromhex(ct + tag[:24])
    assert seal(g, iv, aad, pt) == expect
    assert open_(g, iv, aad, expect) == pt


def test_dlms_green_book_vectors():
    g = gcm.Gcm(EK)
    # 7.1 V1: authenticated encryption of a GET request, AAD = SC 30 || AK.
    v1 = bytes.fromhex("411312FF935A47566827C467BC7D825C3BE4A77C3FCC056B6B")
    assert seal(g, SERVER_IV, b"\x30" + AK, GET_PT) == v1
    # 7.1 V2: authentication only: the plaintext is AAD, the tag is a GMAC.
    t = bytearray(12)
    aad = b"\x10" + AK + GET_PT
    g.mac(SERVER_IV, aad, len(aad), t, 0)
    assert bytes(t) == bytes.fromhex("06725D910F9221D263877516")
    assert g.mac_ok(SERVER_IV, aad, len(aad), t, 0)
    # 7.1 V3: encryption only: the GCM key stream without a tag.
    out = bytearray(len(GET_PT))
    g.crypt(SERVER_IV, GET_PT, 0, len(GET_PT), out, 0)
    assert bytes(out) == v1[:len(GET_PT)]


@settings(max_examples=150, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), iv=st.binary(min_size=12, max_size=12),
       aad=st.binary(max_size=80), pt=st.binary(max_size=300))
def test_seal_open_match_aesgcm(key, iv, aad, pt):
    g = gcm.Gcm(key, 300)
    expect = oracle(key, iv, aad, pt)
    assert seal(g, iv, aad, pt) == expect
    assert open_(g, iv, aad, expect) == pt


@settings(max_examples=80, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), iv=st.binary(min_size=12, max_size=12),
       aad=st.binary(max_size=200))
def test_gmac_matches_aesgcm(key, iv, aad):
    g = gcm.Gcm(key, 16)
    t = bytearray(12)
    g.mac(iv, aad, len(aad), t, 0)
    assert bytes(t) == oracle(key, iv, aad, b"")
    assert g.mac_ok(iv, aad, len(aad), t, 0)
    t[5] ^= 0x40
    assert not g.mac_ok(iv, aad, len(aad), t, 0)


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), iv=st.binary(min_size=12, max_size=12),
       pt=st.binary(max_size=200), soff=st.integers(0, 7), doff=st.integers(0, 7))
def test_crypt_is_the_gcm_key_stream(key, iv, pt, soff, doff):
    g = gcm.Gcm(key, 200)
    src = bytes(soff) + pt
    dst = bytearray(doff + len(pt))
    g.crypt(iv, src, soff, len(pt), dst, doff)
    assert bytes(dst[doff:]) == oracle(key, iv, b"", pt)[:len(pt)]


@settings(max_examples=60, deadline=None)
@given(pt=st.binary(min_size=1, max_size=70), aad=st.binary(max_size=40),
       flip=st.integers(0, 10 ** 6))
def test_open_rejects_any_altered_byte_and_leaves_dst(pt, aad, flip):
    g = gcm.Gcm(EK, 80)
    ct = bytearray(oracle(EK, SERVER_IV, aad, pt))
    ct[flip % len(ct)] ^= 1 << (flip % 8)
    dst = bytearray(b"\x5A" * len(pt))
    assert not g.open(SERVER_IV, aad, len(aad), ct, 0, len(pt), dst)
    assert dst == b"\x5A" * len(pt)


def test_offsets_within_larger_buffers():
    g = gcm.Gcm(EK, 64)
    aad = bytearray(b"\x30" + AK + bytes(40))
    buf = bytearray(100)
    end = g.seal(SERVER_IV, aad, 17, GET_PT, len(GET_PT), buf, 7)
    assert end == 7 + len(GET_PT) + 12
    assert bytes(buf[7:end]) == oracle(EK, SERVER_IV, b"\x30" + AK, GET_PT)
    assert buf[:7] == bytes(7) and buf[end:] == bytes(100 - end)
    dst = bytearray(len(GET_PT))
    assert g.open(SERVER_IV, aad, 17, memoryview(buf), 7, len(GET_PT), dst)
    assert bytes(dst) == GET_PT


def test_capacity_boundary_and_lengths():
    g = gcm.Gcm(EK, 48)
    pt = bytes(range(48))
    assert seal(g, SERVER_IV, b"", pt) == oracle(EK, SERVER_IV, b"", pt)
    with pytest.raises(ValueError):
        seal(g, SERVER_IV, b"", pt + b"x")
    with pytest.raises(ValueError):
        seal(g, SERVER_IV[:11], b"", pt)
    with pytest.raises(ValueError):
        gcm.Gcm(EK[:15])
    with pytest.raises(ValueError):
        gcm.Gcm(EK, -1)


def test_one_context_gives_independent_messages():
    g = gcm.Gcm(EK, 64)
    iv2 = SERVER_IV[:8] + b"\x00\x00\x00\x09"
    first = seal(g, SERVER_IV, b"\x30" + AK, GET_PT)
    seal(g, iv2, b"abc", bytes(50))
    assert seal(g, SERVER_IV, b"\x30" + AK, GET_PT) == first


def test_ecb_shim_matches_known_block():
    # FIPS-197 appendix C.1 (AES-128).
    key = bytes(range(16))
    block = bytearray.fromhex("00112233445566778899aabbccddeeff")
    aes_ecb.encryptor(key).encrypt(block, block)
    assert block.hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"
    aes_ecb.decryptor(key).decrypt(block, block)
    assert block.hex() == "00112233445566778899aabbccddeeff"
    with pytest.raises(ValueError):
        aes_ecb.encryptor(bytes(15))


@pytest.mark.parametrize("module", ["aes_ecb", "gcm", "security", "keywrap"])
def test_mpy_cross_compiles_for_arm(module, tmp_path):
    # Viper rejects literals beyond the 31-bit small int on ARM; this catches them.
    proc = subprocess.run([os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross"),
                           "-march=armv7emsp", "-o", str(tmp_path / "x.mpy"),
                           os.path.join(mpy.FIRMWARE, "dlms", module + ".py")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
