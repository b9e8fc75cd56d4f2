"""Demand, schedule and billing under the real micropython binary: identical results to CPython
over random load sequences and schedules, and the modules compile with mpy-cross for ARM."""
import os
import random
import subprocess

import pytest

import mpy
from core import billing, civil, demand, dst, schedule

SETUP = """
from core import billing, civil, demand, dst, schedule

def drive(period, n, off, t0, events):
    d = demand.Demand(period, n, tariffs=2, offset_s=off)
    d.start(t0)
    t = t0
    out = []
    for ev in events:
        if ev[0] == 0:
            end = min(t + ev[1], d.next_boundary())
            d.feed(ev[2], end, ev[3])
            t = end
        else:
            d.power_down(t)
            t += ev[1]
            d.power_up(t)
        out.append([d.last_average_value, d.capture_time, d.status, d.start_time_current,
                    d.current_average_value()])
    b = billing.Billing(1, 2, [d], 4)
    for k in range(6):
        b.end_of_billing(t + k, [k * 2 ** 40], [[k], [2 ** 33]])
    return [out, d.max_value, d.max_time, d.cum_value, b.to_bytes().hex()]

def nexts(kind, entries, rule, u, k):
    s = schedule.Schedule(kind, entries, rule)
    out = []
    for _ in range(k):
        u = s.next_execution(u)
        if u is None:
            break
        out.append(u)
    return out
"""


@pytest.fixture(scope="module")
def mp(mp_worker):
    mp_worker.exec(SETUP)
    assert mp_worker.eval("__import__('sys').implementation.name") == "micropython"
    return mp_worker


def test_demand_and_billing_match_cpython(mp):
    ns = {}
    exec(SETUP, ns)
    rnd = random.Random(5)
    for _ in range(20):
        period = rnd.choice([60, 900, 3600])
        n = rnd.randint(1, 4)
        t0 = rnd.randrange(civil.to_epoch(2067, 12, 1), civil.to_epoch(2068, 3, 1))
        events = [[0, rnd.randint(1, 3000), rnd.randrange(2 ** 34), rnd.randint(1, 2)]
                  if rnd.random() < 0.9 else [1, rnd.randint(1, 40000)] for _ in range(300)]
        args = (period, n, 3600, t0, events)
        want = ns["drive"](*args)
        got = mp.eval("drive(%d, %d, %d, %d, %r)" % args)
        assert got == [want[0], want[1], want[2], want[3], want[4]]


def test_schedules_match_cpython(mp):
    rnd = random.Random(9)
    rule = dst.eu_rule(-60)
    mp.exec("rule = dst.eu_rule(-60)")
    for _ in range(30):
        kind = rnd.choice([1, 3, 5])
        entries = [((rnd.choice([0xFF, rnd.randrange(24)]), rnd.randrange(60), 0),
                    (0xFFFF, rnd.choice([0xFF, rnd.randint(1, 12)]),
                     rnd.choice([0xFF, 0xFE, rnd.randint(1, 28)]), 0xFF))
                   for _ in range(1 if kind == 1 else 3)]
        if kind == 3:
            entries = [(entries[0][0], e[1]) for e in entries]
        u = rnd.randrange(civil.to_epoch(2026, 1, 1), civil.to_epoch(2070, 1, 1))
        s = schedule.Schedule(kind, entries, rule)
        want = []
        x = u
        for _ in range(20):
            x = s.next_execution(x)
            if x is None:
                break
            want.append(x)
        assert mp.eval("nexts(%d, %r, rule, %d, 20)" % (kind, entries, u)) == want


@pytest.mark.parametrize("module", ["demand", "schedule", "billing"])
def test_mpy_cross_compiles_for_arm(module, tmp_path):
    src = os.path.join(mpy.FIRMWARE, "core", module + ".py")
    proc = subprocess.run([os.path.join(os.path.dirname(mpy.MICROPYTHON), "mpy-cross"),
                           "-march=armv7emsp", "-o", str(tmp_path / "x.mpy"), src],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_billing_record_loads_under_micropython(mp):
    b = billing.Billing(1, 2, [demand.Demand(900, 1, tariffs=2)], 4)
    for k in range(5):
        b.end_of_billing(civil.to_epoch(2070, 1 + k, 1), [k], [[k], [0]])
    mp.exec("b = billing.Billing(1, 2, [demand.Demand(900, 1, tariffs=2)], 4)")
    mp.exec("b.load(bytes.fromhex(%r))" % b.to_bytes().hex())
    assert mp.eval("[b.counter, b.last_reset, b.history]") == \
        [b.counter, b.last_reset, _lists(b.history)]
    bad = bytearray(b.to_bytes())
    bad[20] ^= 4
    mp.exec("def _try(d):\n try:\n  b.load(d)\n  return 'loaded'\n"
            " except billing.RecordError as e:\n  return str(e)")
    assert mp.eval("_try(bytes.fromhex(%r))" % bytes(bad).hex()) == "record CRC mismatch"


def _lists(x):
    """JSON shape of a snapshot field (tuples become lists)."""
    if isinstance(x, (list, tuple)):
        return [_lists(y) for y in x]
    return x
