# The diag module on the real micropython binary: a running Meter on the host board, its report and
# its printout.
import io
import sys

import asyncio

if "boards/host" not in sys.path:
    sys.path.append("boards/host")

import hw
from runtime import diag
from runtime.meter import Meter


def _with_running_meter(fn):
    async def main():
        board = hw.Board("mt382", {"state_dir": None, "realtime": False, "start": 820454400})
        board.afe.configure(None, u=230, i=10, phi=0)
        m = Meter(board, {"model": "mt382"})
        m.power_on_sync()
        for _ in range(40):  # fast-forward: one block per scheduler turn
            await asyncio.sleep_ms(0)
        result = fn(m)
        m.request_stop()
        await m.run_until_stopped()
        return result
    return asyncio.run(main())


def test_report_has_live_state():
    r = _with_running_meter(diag.report)
    for key in ("time", "powered", "tasks", "overruns", "heap", "nv", "values", "energy"):
        if key not in r:
            raise AssertionError("diag report lacks " + key)
    if r["tasks"]["blocks"] < 30 or r["overruns"] != 0 or not r["powered"]:
        raise AssertionError("sampling did not run: %r" % (r["tasks"],))
    if r["heap"]["free"] is None:
        raise AssertionError("heap figures missing on micropython")
    if len(r["values"]["phases"]) != 3 or r["values"]["phases"][0]["u_mv"] < 229000:
        raise AssertionError("no live values: %r" % (r["values"],))
    if r["energy"]["total"]["A+"] <= 0:
        raise AssertionError("no energy registered")


def test_show_prints_every_section():
    buf = io.StringIO()
    _with_running_meter(lambda m: diag.show(m, buf))
    text = buf.getvalue()
    for title in ("phase 1", "phase 3", "common", "energy total", "energy L2", "tasks", "heap", "nv"):
        if title + "\n" not in text:
            raise AssertionError("section %r missing in:\n%s" % (title, text))
    if "afe overruns" not in text or "u_mv" not in text:
        raise AssertionError("rows missing")


def test_without_a_meter_is_a_clear_error():
    import runtime.meter
    saved = runtime.meter.current
    runtime.meter.current = None
    try:
        diag.show()
    except RuntimeError as e:
        if "no meter" not in str(e):
            raise
    else:
        raise AssertionError("no error without a meter")
    finally:
        runtime.meter.current = saved
