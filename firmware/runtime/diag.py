"""Diagnostics: live state of the running meter, printable from the REPL on a board.

On a board: interrupt main.py (Ctrl-C), then `from runtime import diag; diag.show()`. On the host
the same report is returned by the control channel (`meterctl diag`).
"""
import gc
import sys

from runtime import meter as _meter


def _current(meter):
    m = meter or _meter.current
    if m is None:
        raise RuntimeError("no meter is running")
    return m


def heap():
    """Heap figures in bytes: free, allocated (MicroPython gc), or None where unknown."""
    gc.collect()
    free = getattr(gc, "mem_free", None)
    alloc = getattr(gc, "mem_alloc", None)
    return {"free": free() if free else None, "alloc": alloc() if alloc else None}


def report(meter=None):
    """Everything the other functions print, as one dict."""
    m = _current(meter)
    return {
        "time": m.board.clock.now(),
        "powered": m.powered,
        "tasks": m.task_stats(),
        "overruns": m.board.afe.overruns,
        "heap": heap(),
        "nv": m.store.health(),
        "values": m.values(),
        "energy": m.energy(),
    }


def _print_rows(out, title, rows):
    out.write(title + "\n")
    for k in sorted(rows):
        out.write("  %-16s %s\n" % (k, rows[k]))


def measurements(meter=None, out=None):
    """Print the live measured values per phase, the neutral current and the frequency."""
    out = out or sys.stdout
    v = _current(meter).values()
    for n, ph in enumerate(v.get("phases", ()), 1):
        _print_rows(out, "phase %d" % n, ph)
    _print_rows(out, "common", {"f_chz": v.get("f_chz"), "in_ma": v.get("in_ma")})


def energy(meter=None, out=None):
    """Print the energy registers (mWh, mvarh, mVAh)."""
    out = out or sys.stdout
    e = _current(meter).energy()
    _print_rows(out, "energy total", e.get("total", {}))
    for n, row in enumerate(e.get("phases", ()), 1):
        _print_rows(out, "energy L%d" % n, row)


def tasks(meter=None, out=None):
    """Print the scheduler tasks with their run counts and the front-end overruns."""
    out = out or sys.stdout
    m = _current(meter)
    rows = m.task_stats()
    rows["afe overruns"] = m.board.afe.overruns
    _print_rows(out, "tasks", rows)


def show(meter=None, out=None):
    """Print the whole diagnostic report (to `out`, default the console)."""
    out = out or sys.stdout
    r = report(meter)
    measurements(meter, out)
    energy(meter, out)
    tasks(meter, out)
    _print_rows(out, "heap", r["heap"])
    _print_rows(out, "nv", r["nv"])
