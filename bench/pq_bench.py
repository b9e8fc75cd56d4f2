#!/usr/bin/env python3
"""Power quality per measured window against the metrology of that window (micropython, host
board fast-forwarded, 10 A load): the time of `PowerQuality.tick` on each new window and the time
of `Metrology.feed` over the blocks of that window (the work the meter does per window anyway),
ME382 and MT382, 100 windows each; the ratio tells what power quality adds per window."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
import mpy  # noqa: E402

CODE = r"""
import asyncio
import json
import time
import hw
from runtime.meter import Meter

WINDOWS = 100

async def main(model):
    board = hw.Board(model, {"start": 826000000, "state_dir": None, "realtime": False})
    board.afe.configure(None, i=10.0, phi=20.0)
    m = Meter(board, {"model": model})
    m.power_on_sync()
    for t in m._tasks:          # the bench drives the window loop itself
        t.cancel()
    pq = [s for s in m.services if type(s).__name__ == "PowerQuality"][0]
    met = m.metrology
    afe = board.afe
    block_us = afe.block_frames * 1000000 // afe.fs
    feed_us = tick_us = 0
    seq = met.last.seq
    n = 0
    while n < WINDOWS + 2:
        block = await afe.read()
        t0 = time.ticks_us()
        met.feed(block, board.clock.now_us() - block_us)
        t1 = time.ticks_us()
        if met.last.seq != seq:
            seq = met.last.seq
            pq.tick(board.clock.now())
            t2 = time.ticks_us()
            n += 1
            if n > 2:                # the first windows settle the metrology
                tick_us += time.ticks_diff(t2, t1)
        if n > 2:
            feed_us += time.ticks_diff(t1, t0)
    return feed_us / WINDOWS, tick_us / WINDOWS

out = {}
for model in ("me382", "mt382"):
    out[model] = asyncio.run(main(model))
print(json.dumps(out))
"""


def main():
    out = json.loads(mpy.run_code(CODE, timeout=600, heapsize="8M").strip().splitlines()[-1])
    for model, (feed, tick) in out.items():
        print("%s: metrology %.0f us/window, power quality %.0f us/window, ratio %.3f"
              % (model, feed, tick, tick / feed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
