#!/usr/bin/env python3
"""Security suite 0 cost: protect + unprotect of a ciphered APDU under micropython vs CPython.

Run with `.venv/bin/python bench/crypto_bench.py` (a few seconds). Under micropython (viper GHASH
and CTR on cryptolib ECB, dlms/security.py framing) it times a glo-ciphered (SC 30) round trip
of a 64-byte and a 1 KiB APDU, the authentication-only round trip, HLS-GMAC and the per-block
kernels; CPython's `cryptography` (OpenSSL) does the same round trip for reference in the same
run. Figures are the best of several runs, in microseconds. Context: a ciphered GET should cost
at most 120 us of server CPU in total, so the small-APDU round trip is the figure to watch.
"""
import json
import os
import subprocess
import sys
import time

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
SIZES = (64, 1024)
ROUNDS = 3
EK = bytes(range(16))
AK = bytes(range(16, 32))
SERVER_ST = b"ISK\x00\x00\xbc\x61\x4e"
CLIENT_ST = b"MMM\x00\x00\x00\x00\x01"

MP_SCRIPT = r'''
import json
import time
from dlms import gcm, security

EK = bytes(range(16))
AK = bytes(range(16, 32))
srv = security.Suite0(EK, AK, b"ISK\x00\x00\xbc\x61\x4e", 1024)
cli = security.Suite0(EK, AK, b"MMM\x00\x00\x00\x00\x01", 1024)
srv.set_peer_title(cli.title)
cli.set_peer_title(srv.title)


def best_us(f, n, runs=5):
    best = None
    for _ in range(runs):
        t = time.ticks_us()
        for _ in range(n):
            f()
        dt = time.ticks_diff(time.ticks_us(), t) / n
        if best is None or dt < best:
            best = dt
    return best


res = {}
for size in (64, 1024):
    apdu = bytes(range(256)) * (size // 256) if size >= 256 else bytes(range(size))
    n = 400 if size == 64 else 60
    for sc in (0x30, 0x10):
        res["trip_%d_%x" % (size, sc)] = best_us(
            lambda: cli.unprotect(security.parse(srv.protect(sc, apdu, 0xCC))[2]), n)
    res["protect_%d" % size] = best_us(lambda: srv.protect(0x30, apdu, 0xCC), n)
    body = bytes(srv.protect(0x30, apdu))

    def unprotect():
        cli.rx_ic = -1
        cli.unprotect(body)
    res["unprotect_%d" % size] = best_us(unprotect, n)

challenge = bytes(range(16))


def hls():
    srv.rx_ic = -1
    srv.hls_check(challenge, cli.hls_answer(challenge))


res["hls"] = best_us(hls, 400)
res["setup"] = best_us(lambda: security.Suite0(EK, AK, b"ISK00001", 1024), 40)
g = gcm.Gcm(EK, 1024)
w, ks = g._w, g._ks
aad = bytearray(17)
data = bytearray(1024)
view = memoryview(ks)[:1024]
res["ghash_block"] = best_us(lambda: gcm._gcm(w, ks, aad, 0, data, 0, 1024, data, 0, 1), 60) / 65
res["ecb_block"] = best_us(lambda: g._aes.encrypt(view, view), 60) / 64
print(json.dumps(res))
'''


def cpython_trip(apdu, ic):
    """SC 30 round trip with `cryptography`: the same framing and 12-byte tag."""
    head = b"\x30" + ic.to_bytes(4, "big")
    enc = Cipher(algorithms.AES(EK), modes.GCM(SERVER_ST + head[1:])).encryptor()
    enc.authenticate_additional_data(b"\x30" + AK)
    body = head + enc.update(apdu) + enc.finalize() + enc.tag[:12]
    dec = Cipher(algorithms.AES(EK), modes.GCM(SERVER_ST + body[1:5], body[-12:],
                                               min_tag_length=12)).decryptor()
    dec.authenticate_additional_data(body[:1] + AK)
    return dec.update(body[5:-12]) + dec.finalize()


def cpython_us(size):
    apdu = bytes(size)
    best = None
    for _ in range(5):
        n = 2000
        t = time.perf_counter()
        for ic in range(n):
            cpython_trip(apdu, ic + 1)
        dt = (time.perf_counter() - t) / n * 1e6
        best = dt if best is None or dt < best else best
    return best


def run_mp():
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))
    proc = subprocess.run([MICROPYTHON, "-c", MP_SCRIPT], capture_output=True, text=True,
                          env=env, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError("micropython failed:\n" + proc.stdout + proc.stderr)
    return json.loads(proc.stdout)


def main():
    mp = None
    ref = {}
    # Alternate the two interpreters so that both see the same machine load.
    for _ in range(ROUNDS):
        r = run_mp()
        mp = r if mp is None else {k: min(v, r[k]) for k, v in mp.items()}
        for size in SIZES:
            us = cpython_us(size)
            ref[size] = us if size not in ref else min(ref[size], us)
    print("security suite 0, glo-ciphered round trip (protect + parse + unprotect), us")
    print("  %-44s %10s %10s" % ("", "64 B", "1 KiB"))
    rows = [("micropython, SC 30 (auth + enc)", [mp["trip_%d_30" % s] for s in SIZES]),
            ("micropython, SC 10 (auth only)", [mp["trip_%d_10" % s] for s in SIZES]),
            ("  of which protect (SC 30)", [mp["protect_%d" % s] for s in SIZES]),
            ("  of which unprotect (SC 30)", [mp["unprotect_%d" % s] for s in SIZES]),
            ("CPython cryptography (OpenSSL), SC 30", [ref[s] for s in SIZES])]
    for label, vals in rows:
        print("  %-44s %10.2f %10.2f" % (label, vals[0], vals[1]))
    print("  %-44s %9.1fx %9.1fx" % ("ratio micropython / cryptography",
                                     mp["trip_64_30"] / ref[64], mp["trip_1024_30"] / ref[1024]))
    print("micropython kernels: GHASH %.0f ns per 16-byte block, cryptolib ECB %.0f ns per block"
          % (mp["ghash_block"] * 1000, mp["ecb_block"] * 1000))
    print("micropython HLS-GMAC f(challenge) + check: %.2f us; new key context (5 KiB tables): "
          "%.1f us" % (mp["hls"], mp["setup"]))
    share = mp["trip_64_30"] / 120.0 * 100
    print("ciphered GET budget 120 us: the 64-byte round trip uses %.1f us (%.0f %%)"
          % (mp["trip_64_30"], share))


if __name__ == "__main__":
    main()
