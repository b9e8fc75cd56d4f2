"""Differential: the event path gives the same logs, alarms, pushes and errors under CPython and the
real micropython binary, for every code 0..255; an event log on an NV ring works there too."""
import pytest

import sim_nv
from core.events import EventLog, Events
from runtime.ringstore import RingStore

SETUP = """
import sim_nv
from core.events import Events, EventLog, LOGS
from runtime.ringstore import RingStore


class Sink:
    def __init__(self):
        self.rows = []

    def capture(self, code, t_s):
        self.rows.append([t_s, code])

    def reset(self):
        self.rows = []


def outcome(code, filters):
    sinks = {}
    for entry in LOGS:
        sinks[entry[0]] = Sink()
    ev = Events(sinks, filters)
    pushes = []
    ev.subscribe(lambda r, b, t: pushes.append([r, b, t]))
    for log in [None] + [entry[0] for entry in LOGS]:
        try:
            got = ev.raise_event(code, 77, log)
        except ValueError as e:
            got = type(e).__name__
        rows = sorted([k, sinks[k].rows] for k in sinks if sinks[k].rows)
        row = [got, rows, ev.alarm, ev.descriptor, pushes]
        if log is None or got == log:
            yield row


def outcomes(filters, lo, hi):
    return [[c, list(outcome(c, filters))] for c in range(lo, hi)]
"""

CPY = {}
exec(SETUP, CPY)


@pytest.fixture(scope="module")
def mp(mp_worker):
    mp_worker.exec(SETUP)
    assert mp_worker.eval("__import__('sys').implementation.name") == "micropython"
    return mp_worker


def normal(x):
    """JSON turns tuples into lists: compare in that shape."""
    if isinstance(x, (list, tuple)):
        return [normal(v) for v in x]
    return x


@pytest.mark.parametrize("filters", [(0xFFFFFFFF, 0xFFFFFFFF), (0x0000A0C3, 0x80012005)])
def test_every_code_gives_the_same_outcome(mp, filters):
    shared = 0
    for lo in range(0, 256, 16):  # in slices: the worker's replies are single JSON lines
        want = normal(CPY["outcomes"](filters, lo, lo + 16))
        assert mp.eval("outcomes(%r, %d, %d)" % (filters, lo, lo + 16)) == want
        shared += sum(len(o) > 2 for _, o in want)
    assert shared == 2  # 254 and 255 reach several named logs


def test_event_log_on_a_ring_under_micropython(mp):
    mp.exec("""
nv = sim_nv.NvMem(2048)
ev = Events({"standard": EventLog(RingStore(nv, 64, EventLog.ROW_SIZE, 4))})
for k in range(6):
    ev.raise_event(1 + k, 500 + k)
log = EventLog(RingStore(nv, 64, EventLog.ROW_SIZE, 4))
rows = [list(log.row(i)) for i in range(len(log))]
last = Events({"standard": log}).last_code("standard")
""")
    nv = sim_nv.NvMem(2048)
    ev = Events({"standard": EventLog(RingStore(nv, 64, EventLog.ROW_SIZE, 4))})
    for k in range(6):
        ev.raise_event(1 + k, 500 + k)
    assert mp.eval("rows") == [[502, 3], [503, 4], [504, 5], [505, 6]]
    assert mp.eval("last") == 6
    assert mp.eval("bytes(nv._mem) == bytes(%r)" % (bytes(nv._mem),))


def test_raise_event_into_a_ring_does_not_allocate(mp):
    """Once built, the event path and the ring append allocate nothing (unix port, 63-bit ints)."""
    mp.exec('''
import micropython


class PlainNv:
    def __init__(self, size):
        self.size = size
        self.mem = bytearray(b"\\xff" * size)

    def readinto(self, offset, buf):
        for k in range(len(buf)):
            buf[k] = self.mem[offset + k]

    def write(self, offset, buf):
        for k in range(len(buf)):
            self.mem[offset + k] = buf[k]


pushed = [0]


def on_alarm(register, bits, t_s):
    pushed[0] += 1


hev = Events({"standard": EventLog(RingStore(PlainNv(1024), 0, EventLog.ROW_SIZE, 8))})
hev.subscribe(on_alarm)
hev.raise_event(2, 1)
micropython.heap_lock()
try:
    for k in range(20):
        hev.raise_event(1, 100 + k)
        hev.raise_event(14, 100 + k)
finally:
    micropython.heap_unlock()
''')
    assert mp.eval("pushed[0]") == 3
    assert mp.eval("hev.last_code('standard')") == 14
