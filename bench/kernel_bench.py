#!/usr/bin/env python3
"""Sampling kernel throughput: viper kernel and plain reference under micropython vs C (gcc -O2).

Run with `.venv/bin/python bench/kernel_bench.py`. The same synthetic signal (10 s of a loaded
meter, 24-bit codes, 4000 frames/s) is scanned in 400-frame blocks by each implementation from
fresh state; the best of several runs is reported in samples/s (frames x channels) and as a
ratio to C. bench/kernel_ref.c implements the same algorithm and its final state must equal the
viper kernel's word for word. Bounded to well under 60 s.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "host_tests"), os.path.join(ROOT, "firmware")]

import waveform as wf  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
FS = 4000
SECONDS = 10
RUNS = 5           # timed scans per process (the plain reference: 3)
ROUNDS = 6         # alternating C / viper processes; the best scan of all is kept

# Runs under micropython: the scan of kernel_ref.c's main() with the viper kernel or the
# reference, or Metrology.feed (kernel + per-window glue). Prints one JSON line.
MP_SCRIPT = r'''
import json
import sys
import time
from array import array
from measure import kernel, kernel_ref, layout
from measure.metrology import Metrology
from measure.rating import for_model

what, path, nch, phases, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5])
f = open(path, "rb")
buf = array("i", f.read())
f.close()
frames = len(buf) // nch
view = memoryview(buf)


def scan(kern):
    sts = []
    rings = []
    for p in range(phases):
        st = layout.new_state(nch, 2 * p, 2 * p + 1, 32, 1 if p == 0 else 0)
        st[layout.CFG_K] = 20
        sts.append(st)
        rings.append(layout.new_ring(32))
    stn = layout.new_state(nch, 0, nch - 1, 32)
    st0 = sts[0]
    st0[layout.CFG_HYST] = 1 << 17
    st0[layout.CFG_MINF] = 780
    st0[layout.CFG_MAXF] = 1000
    st0[layout.CFG_MINC] = 53
    windows = 0
    t = time.ticks_us()
    for b in range(0, frames, 400):
        block = view[b * nch:(b + 400) * nch]
        n = len(block) // nch
        start = 0
        while start < n:
            end = kern.phase_pass(block, st0, rings[0], start, n)
            for p in range(1, phases):
                kern.phase_pass(block, sts[p], rings[p], start, end)
            kern.rms_pass(block, stn, start, end)
            if st0[layout.ST_CLOSE]:
                windows += 1
                st0[layout.CFG_DCB] = layout.total(st0, layout.A_SU) // st0[layout.ST_WPOS]
                for st in sts:
                    layout.reset_window(st)
                layout.reset_window(stn)
            start = end
    dt = time.ticks_diff(time.ticks_us(), t)
    return dt, [list(st) for st in sts] + [list(stn)], windows


def feed():
    m = Metrology(for_model("me382" if phases == 1 else "mt382"), 4000, 24, 500000, 200000)
    t = time.ticks_us()
    for b in range(0, frames, 400):
        m.feed(view[b * nch:(b + 400) * nch], b * 250)
    return time.ticks_diff(time.ticks_us(), t), None, m.last.seq


best = None
for _ in range(runs):
    r = feed() if what == "glue" else scan(kernel if what == "viper" else kernel_ref)
    if best is None or r[0] < best[0]:
        best = r
print(json.dumps({"us": best[0], "states": best[1], "windows": best[2]}))
'''


def signal(phases):
    waves = wf.phase_set(phases, 230000, 10000, 30.0, ((3, 0.04, 20.0), (5, 0.03, 50.0)),
                         ((3, 0.3, 10.0), (5, 0.2, 40.0), (7, 0.1, 70.0)))
    peaks = [500000, 200000] * phases + [200000]
    return wf.frames(waves, peaks, 50.2, FS, 24, SECONDS * FS, noise_lsb=64.0), len(peaks)


def build_c(tmp):
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        return None
    exe = os.path.join(tmp, "kernel_ref")
    subprocess.run([gcc, "-O2", "-o", exe, os.path.join(ROOT, "bench", "kernel_ref.c")],
                   check=True)
    return exe


def run_c(exe, path, nch, phases, frames):
    out = subprocess.run([exe, path, str(nch), str(phases), str(frames), str(RUNS)],
                         check=True, capture_output=True, text=True).stdout.split("\n")
    states = [[int(v) for v in line.split()] for line in out[1:phases + 2]]
    return float(out[0]) / 1000.0, states, int(out[phases + 2])


def run_mp(tmp, what, path, nch, phases, runs):
    script = os.path.join(tmp, "scan.py")
    with open(script, "w") as f:
        f.write(MP_SCRIPT)
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))
    cmd = [MICROPYTHON, "-X", "heapsize=16M", script, what, path, str(nch), str(phases),
           str(runs)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if out.returncode != 0:
        raise RuntimeError("micropython failed:\n" + out.stdout + out.stderr)
    return json.loads(out.stdout)


def best(a, b):
    return b if a is None or b["us"] < a["us"] else a


def report(name, phases):
    codes, nch = signal(phases)
    frames = len(codes) // nch
    samples = frames * nch
    c = viper = None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "codes.bin")
        with open(path, "wb") as f:
            f.write(codes.tobytes())
        exe = build_c(tmp)
        # Alternate C and viper so that both see the same machine load.
        for _ in range(ROUNDS):
            if exe is not None:
                us, states, windows = run_c(exe, path, nch, phases, frames)
                c = best(c, {"us": us, "states": states, "windows": windows})
            viper = best(viper, run_mp(tmp, "viper", path, nch, phases, RUNS))
        ref = run_mp(tmp, "ref", path, nch, phases, 3)
        glue = run_mp(tmp, "glue", path, nch, phases, RUNS)
    print("%s: %d phase(s) + N (%d channels), 24-bit codes, %d frames/s, %d s of signal"
          % (name, phases, nch, FS, SECONDS))
    rows = []
    if c is not None:
        rows.append(("C gcc -O2, same algorithm", c["us"]))
    rows += [("viper kernel (micropython)", viper["us"]),
             ("plain MicroPython reference", ref["us"]),
             ("viper kernel + window glue (Metrology.feed)", glue["us"])]
    for label, us in rows:
        ratio = "  %6.1fx C" % (us / c["us"]) if c is not None else ""
        print("  %-45s %8.2f M samples/s%s" % (label, samples / us, ratio))
    print("  reference and viper final states: %s; %d windows"
          % ("identical" if ref["states"] == viper["states"] else "DIFFERENT", viper["windows"]))
    if c is not None:
        same = c["states"] == viper["states"] and c["windows"] == viper["windows"]
        print("  C and viper final states: %s" % ("identical" if same else "DIFFERENT"))
        ratio = viper["us"] / c["us"]
        print("  goal viper within 3x of C: %s (%.1fx)" % ("met" if ratio <= 3 else "not met",
                                                          ratio))
    per_window = (glue["us"] - viper["us"]) / max(1, glue["windows"])
    print("  window glue: %.0f us per window on this machine" % per_window)
    load = FS * nch / (samples / glue["us"] * 1e6) * 100
    print("  real-time load of this core at %d frames/s (kernel + glue): %.2f %%" % (FS, load))


def main():
    report("MT382", 3)
    report("ME382", 1)


if __name__ == "__main__":
    main()
