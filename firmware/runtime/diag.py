"""Diagnostics: live state of the running meter, printable from the REPL on a board.

On a board: interrupt main.py (Ctrl-C), then `from runtime import diag; diag.show()`. On the host
the same report is returned by the control channel (`meterctl diag`).
"""
import gc

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


def _print_rows(title, rows):
    print(title)
    for k in sorted(rows):
        print("  %-16s %s" % (k, rows[k]))


def measurements(meter=None):
    """Print the live measured values per phase."""
    for phase, vals in enumerate(_current(meter).values(), 1):
        _print_rows("phase %d" % phase if phase <= 3 else "neutral", vals)


def energy(meter=None):
    """Print the energy registers (mWh, mvarh, mVAh)."""
    _print_rows("energy", _current(meter).energy())


def tasks(meter=None):
    """Print the scheduler tasks with their run counts and the front-end overruns."""
    m = _current(meter)
    _print_rows("tasks", m.task_stats())
    print("  %-16s %d" % ("afe overruns", m.board.afe.overruns))


def show(meter=None):
    """Print the whole diagnostic report."""
    r = report(meter)
    measurements(meter)
    energy(meter)
    tasks(meter)
    _print_rows("heap", r["heap"])
    _print_rows("nv", r["nv"])
