#!/usr/bin/env python3
"""Real-time factor of the whole firmware on the host board: meter seconds per wall second.

Runs `firmware/main.py --fast --duration S` for each model under the real micropython binary with a
load on every phase, and reports the ratio of simulated to elapsed time and the front-end overruns
(which must stay 0). Goal: >= 50x real time for MT382 at 4 kHz.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
import mpy  # noqa: E402


def run(model, seconds, pace=("--fast",)):
    with tempfile.TemporaryDirectory() as state:
        cmd = [mpy.MICROPYTHON, os.path.join(mpy.FIRMWARE, "main.py"), "--model", model,
               "--duration", str(seconds), "--state", state, "--control-port", "0",
               "--wrapper-port", "0", "--optical-port", "0", "--start", "2026-01-01T00:00:00"]
        cmd += list(pace)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit("firmware failed: " + proc.stderr[-2000:])
    overruns = int(proc.stderr.rsplit("meter time", 1)[1].split(",")[1].split()[0])
    return wall, overruns


def main():
    seconds = int(os.environ.get("BENCH_SECONDS", "600"))
    for model in ("me382", "mt382"):
        wall, _ = run(model, seconds)
        print("%s fast-forward: %d meter-s in %.2f s wall -> %.1fx real time (goal >= 50x)"
              % (model, seconds, wall, seconds / wall))
    # Paced at 50x the wall clock, the sampling task must never let the simulated DMA ring lap it.
    wall, overruns = run("mt382", 100, ("--speed", "50"))
    print("mt382 paced at 50x: %d meter-s in %.2f s wall, %d block overruns (goal 0)"
          % (100, wall, overruns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
