"""One meter-year in fast-forward: 5-minute load steps, 15-minute block demand, daily tariff
switches from a two-tariff calendar, monthly billing by the single action schedule. The 12
billing snapshots are checked against a brute-force oracle, under CPython and micropython."""
import json
import time

from core import civil, demand, dst
import mpy

# Runs unchanged under CPython and micropython; prints one JSON line.
SIM = """
import json
import time
from core import billing, calendar, civil, demand, dst, schedule, special_days, tariff
from core import tariff_registers

SC = b"\\x00\\x00\\x0a\\x00\\x64\\xff"
STEP = 300


def loads(n):
    # Deterministic pseudo-random load: mWh per 5-minute step (0 .. 300 Wh, up to 3.6 kW).
    x = 12345
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        yield x % 300000


def year():
    rule = dst.eu_rule(-60)
    days = [(1, [((6, 0, 0), SC, 2), ((22, 0, 0), SC, 1)]), (2, [((0, 0, 0), SC, 1)])]
    cal = calendar.Calendar(b"C", [(b"S", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")],
                            [(b"W", (1, 1, 1, 1, 1, 2, 2))], days)
    tou = tariff.TimeOfUse(calendar.ActivityCalendar(cal), special_days.SpecialDays([]), rule)
    md = demand.Demand(900, 1, tariffs=2, offset_s=3600)
    regs = tariff_registers.TariffRegisters(1, tariffs=2)
    bill = billing.Billing(1, 2, [md], 12, schedule.monthly(rule))
    t = civil.to_epoch(2025, 12, 31, 23)              # 2026-01-01 00:00 CET
    end = civil.to_epoch(2026, 12, 31, 23)
    totals = [0]
    md.start(t)
    bill.poll(t, totals, regs.regs)
    tar = tou.active_tariff(t)
    sw = tou.next_switch(t, end)
    for e in loads((end - t) // STEP):
        if sw is not None and t >= sw:
            tar = tou.active_tariff(t)
            sw = tou.next_switch(t, end)
        t += STEP
        totals[0] += e
        regs.book(totals, tar)
        md.feed(e, t, tar)
        bill.poll(t, totals, regs.regs)
    return bill


try:
    ticks = time.ticks_ms
except AttributeError:
    def ticks():
        return int(time.time() * 1000)
t0 = ticks()
b = year()
ms = ticks() - t0
print(json.dumps({"ms": ms, "history": b.history, "record": b.to_bytes().hex()}))
"""


def oracle():
    """Snapshots by brute force: tariff from the local weekday and hour, demand per local
    quarter hour, month of each step from its last second's local date."""
    rule = dst.eu_rule(-60)
    t = civil.to_epoch(2025, 12, 31, 23)
    end = civil.to_epoch(2026, 12, 31, 23)
    x = 12345
    total = [0]
    per = [0, 0]
    maxv, maxt, cum = [0, 0, 0], [None] * 3, [0, 0, 0]
    block, first = 0, True
    snaps = []
    counter = 0
    while t < end:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        e = x % 300000
        y, mo, d, h = civil.civil(dst.local_from_utc(t, rule)[0])[:4]
        weekday = civil.weekday(civil.days_from_civil(y, mo, d))
        tar = 2 if weekday <= 5 and 6 <= h < 22 else 1
        t += 300
        total[0] += e
        per[tar - 1] += e
        block += e
        if t % 900 == 0:
            w = block * demand.MWH // (10 ** 12 * 900)
            if not first:
                for k in (0, tar):
                    if maxt[k] is None or w > maxv[k]:
                        maxv[k], maxt[k] = w, t
            block, first = 0, False
        local = civil.civil(dst.local_from_utc(t, rule)[0])
        if local[2:6] == (1, 0, 0, 0):
            counter += 1
            cum = [c + m for c, m in zip(cum, maxv)]
            snaps.insert(0, [counter, t, total[:], [[per[0]], [per[1]]],
                             [[maxv, maxt, cum]]])
            maxv, maxt = [0, 0, 0], [None] * 3
    return snaps


def test_meter_year_billing_snapshots(capsys):
    want = oracle()
    assert len(want) == 12 and want[-1][1] == civil.to_epoch(2026, 1, 31, 23)
    out = mpy.run_code(SIM, timeout=120)
    got = json.loads(out.strip().splitlines()[-1])
    t0 = time.perf_counter()
    ns = {"__name__": "sim"}
    exec(compile(SIM.replace("print(json", "RESULT = (json"), "sim", "exec"), ns)
    cpy = json.loads(ns["RESULT"])
    cpy_ms = int((time.perf_counter() - t0) * 1000)
    assert got["history"] == want
    assert cpy["history"] == want
    assert got["record"] == cpy["record"]
    with capsys.disabled():
        print("\nmeter-year (105120 steps of 5 min, 15-min demand, monthly billing): "
              "micropython %d ms, CPython %d ms" % (got["ms"], cpy_ms))
