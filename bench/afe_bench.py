"""Throughput of the simulated front end under micropython: samples/s and the real-time factor.

Run: .venv/bin/python bench/afe_bench.py   (a few seconds; launches the micropython binary)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "host_tests"))

import mpy  # noqa: E402

CODE = """
import asyncio, time
import sim_afe, sim_clock, sim_wave

def afe(model):
    a = sim_afe.SimAfe(model, sim_clock.Clock(4000, 0), realtime=False)
    a.configure(i=20, phi=30, i_noise=5)
    return a

def rate(model, blocks, use_read):
    a = afe(model)
    n = len(a.channels) * a.block_frames
    if use_read:
        async def go():
            for _ in range(blocks):
                await a.read()
        t = time.ticks_us()
        asyncio.run(go())
    else:
        t = time.ticks_us()
        for _ in range(blocks):
            sim_wave.fill(a._buf, a._tab, a._par)
    dt = time.ticks_diff(time.ticks_us(), t)
    sps = blocks * n * 1e6 / dt
    return sps, sps / (len(a.channels) * a.fs)

for model in ("me382", "mt382"):
    for use_read, what in ((False, "fill kernel"), (True, "async read()")):
        sps, x = rate(model, 2000, use_read)
        print("%s %-13s %7.1f M samples/s  %6.0fx real time" % (model, what, sps / 1e6, x))

a = afe("mt382")
t = time.ticks_us()
harm = dict((h, [1, 0]) for h in range(2, 16))
a.configure(u_harmonics=harm, i_harmonics=harm)
print("mt382 table rebuild, 15 harmonics on every channel: %.0f ms" % (time.ticks_diff(time.ticks_us(), t) / 1000))
"""


def main():
    print(mpy.run_code(CODE, timeout=30), end="")


if __name__ == "__main__":
    main()
