#!/usr/bin/env python3
"""One meter-year in fast-forward: `Meter.advance` on the host board (ME382, constant load),
15-minute block demand on six quantities, the default calendar's daily tariff switches, monthly
end of billing, every service of the Meter, periodic NV saves.

The front end is paced at a negligible speed so that no measured window runs between the analytic
steps: the figure is the cost of the fast-forward path itself. Printed: the wall time of the year
and its ratio to the goal (30 s), the CPU time of the process (what a loaded machine does not
distort), and the same year without any service (reference measured in the same run) to show the
share of the services.
"""
import os
import resource
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host_tests"))
import mpy  # noqa: E402

GOAL_S = 30.0

SCRIPT = r"""
import asyncio
import time
import hw
from core import civil
from runtime import meter as meter_mod
from runtime.meter import Meter

if %(bare)d:
    meter_mod.SERVICES = ()


async def main():
    board = hw.Board("me382", {"start": civil.to_epoch(2026, 1, 1), "state_dir": None,
                               "realtime": True, "speed": 0.000001})
    board.afe.configure(None, i=10.0, phi=30.0)
    m = Meter(board, {"model": "me382"})
    m.power_on_sync()
    t0 = time.ticks_ms()
    await m.advance(365 * 86400)
    wall = time.ticks_diff(time.ticks_ms(), t0)
    counter = 0
    for s in m.services:
        b = getattr(s, "billing", None)
        if b is not None:
            counter = b.counter
    m.power_off()
    print("RESULT", wall, counter)


asyncio.run(main())
"""


def _cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def year(bare):
    """(wall s of the year, CPU s of the process, ends of billing)."""
    c0 = _cpu()
    out = mpy.run_code(SCRIPT % {"bare": bare}, timeout=900)
    fields = out.rsplit("RESULT", 1)[1].split()
    return int(fields[0]) / 1000.0, _cpu() - c0, int(fields[1])


def main():
    bare, bare_cpu, _ = year(True)
    full, full_cpu, ends = year(False)
    print("meter-year, every service: %.1f s wall, %.1f s CPU (%d ends of billing); goal %.0f s "
          "-> %.2fx the goal (CPU %.2fx)" % (full, full_cpu, ends, GOAL_S, full / GOAL_S,
                                             full_cpu / GOAL_S))
    print("same year without services (reference): %.1f s wall, %.1f s CPU; services add "
          "%.2fx CPU" % (bare, bare_cpu, full_cpu / bare_cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
