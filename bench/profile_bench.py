#!/usr/bin/env python3
"""Reading load profile 1 over COSEM: a month (2880 rows, every column) against a day (96 rows).

Runs `firmware/main.py` (ME382, meter clock from 2026-01-01 00:00 UTC, state in a temporary
directory) under the real micropython binary, fills load profile 1 with 30 days of 15-minute rows
(control channel: load, advance), and reads 1-0:99.1.0 attribute 2 as the management client
(HLS-GMAC, ciphered) on the COSEM wrapper port on 127.0.0.1 with block transfer:

1. wall time of a read of the last 96 rows (entry selection) and of the whole month, median of
   3 reads each, with the number of blocks; the month/day ratio against the 30x row ratio;
2. the firmware's live heap during each read: the control channel `diag` (gc.collect, then
   gc.mem_alloc) before the read and every 5 blocks of it; the highest value less the one
   before: a buffer streamed row by row needs the same heap for a month as for a day.

Bounded: every loop has a count and every wait a deadline.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
import cosem_client as cc  # noqa: E402
import mpy  # noqa: E402
from dlms import axdr  # noqa: E402

HOST = "127.0.0.1"
LP1 = cc.obis("1-0:99.1.0")
DAYS = 30
ROWS = DAYS * 96


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Firmware:
    """firmware/main.py as a child process; always killed by `stop()`."""

    def __init__(self, heapsize=None):
        self.tmp = tempfile.TemporaryDirectory()
        self.wrapper_port = free_port()
        self.control_port = free_port()
        cmd = [mpy.MICROPYTHON]
        if heapsize:
            cmd += ["-X", "heapsize=" + heapsize]
        cmd += [os.path.join(mpy.FIRMWARE, "main.py"), "--model", "me382",
                "--state", self.tmp.name, "--start", "2026-01-01T00:00:00",
                "--control-port", str(self.control_port),
                "--wrapper-port", str(self.wrapper_port), "--optical-port", "0"]
        self.log = open(os.path.join(self.tmp.name, "log"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection((HOST, self.wrapper_port), timeout=1).close()
                socket.create_connection((HOST, self.control_port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def control(self, cmd, timeout=120):
        with socket.create_connection((HOST, self.control_port), timeout=timeout) as s:
            s.sendall(json.dumps(cmd).encode() + b"\n")
            data = b""
            for _ in range(10000):
                if data.endswith(b"\n"):
                    break
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    def stop(self):
        self.proc.kill()
        self.proc.communicate(timeout=10)
        self.log.close()
        self.tmp.cleanup()


def management(port):
    c = cc.WrapperClient(port, client_sap=1)
    s = cc.Suite0Client()
    ctos = cc.random_challenge(16)
    aare = c.request(cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE, auth_value=ctos,
                             user_info=s.protect(0x21, cc.initiate_request())))
    if cc.aare_result(aare) != (0, 14):
        raise RuntimeError("association refused")
    s.server_title = cc.SERVICE_TITLE
    stoc = cc.aare_fields(aare)[0xAA][2:]
    s.unprotect(c.request(s.protect(0xCB, cc.action(
        15, cc.obis("0-0:40.0.0"), 1, b"\x09\x11" + s.hls_reply(stoc)))))
    return c, s


def last_rows(n):
    """Get-Request-Normal of LP1's buffer with an entry descriptor: the last n rows."""
    params = (axdr.STRUCTURE, [(axdr.DOUBLE_LONG_UNSIGNED, ROWS - n + 1),
                               (axdr.DOUBLE_LONG_UNSIGNED, 0), (axdr.LONG_UNSIGNED, 1),
                               (axdr.LONG_UNSIGNED, 0)])
    return (bytes((0xC0, 1, 0xC1)) + struct.pack(">H", 7) + LP1 + bytes((2, 1, 2))
            + axdr.encode(params))


def live_heap(fw):
    """Live heap of the firmware in bytes (collected first)."""
    return fw.control({"cmd": "diag"})["diag"]["heap"]["alloc"] or 0


def read(c, s, apdu, fw=None):
    """(rows, blocks, seconds, live heap growth over the read or None) of one buffer read;
    with `fw` the live heap is sampled (and the time includes the samples)."""
    top = [0]
    blocks = [0]
    base = live_heap(fw) if fw is not None else 0

    def request(a):
        blocks[0] += 1
        if fw is not None and blocks[0] % 5 == 0:
            top[0] = max(top[0], live_heap(fw) - base)
        return s.unprotect(c.request(s.protect(0xC8, a)))[2]

    t = time.perf_counter()
    data = cc.read_long(request, request(apdu))
    dt = time.perf_counter() - t
    rows = len(axdr.decode_all(data, max_items=1 << 20)[1])
    return rows, blocks[0], dt, top[0] if fw is not None else None


def fill(fw):
    fw.control({"cmd": "load", "set": {"i": 10.0}})
    r = fw.control({"cmd": "advance", "seconds": DAYS * 86400}, timeout=600)
    if not r.get("ok"):
        raise RuntimeError("advance failed: %r" % (r,))


def timing():
    fw = Firmware()
    try:
        if not fw.wait_ready():
            raise RuntimeError("firmware did not start")
        t = time.perf_counter()
        fill(fw)
        print("fill: %d days of 15-minute rows in %.1f s" % (DAYS, time.perf_counter() - t))
        c, s = management(fw.wrapper_port)
        try:
            res = {}
            for name, apdu in (("day", last_rows(96)), ("month", cc.get(7, LP1, 2))):
                runs = sorted(read(c, s, apdu) for _ in range(3))
                rows, blocks, dt, _ = runs[1]
                heap = read(c, s, apdu, fw)[3]
                res[name] = (rows, blocks, dt, heap)
                print("%-5s %5d rows %4d blocks  %.3f s (median of 3)  %.0f rows/s  live heap "
                      "growth %d bytes" % (name, rows, blocks, dt, rows / dt, heap))
            d, m = res["day"], res["month"]
            print("month/day: time x%.1f for x%.0f rows; live heap growth %+d bytes"
                  % (m[2] / d[2], m[0] / d[0], m[3] - d[3]))
            print("goal: month < 1 s: %s" % ("met" if m[2] < 1.0 else "NOT met"))
        finally:
            c.close()
    finally:
        fw.stop()


def main():
    timing()
    return 0


if __name__ == "__main__":
    sys.exit(main())
