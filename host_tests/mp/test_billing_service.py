# Demand and billing under micropython: the billing service in a real Meter on the host board in
# fast-forward across an end of billing and a reboot, and the COSEM classes it is read through
# (class 9 script table, class 22 single action schedule, the class 5 / 4 demand sources).
import asyncio

import hw
from core import civil, demand
from cosem import errors, obis
from cosem.association import Client
from cosem.objects import Model
from cosem.register import DemandRegister, ExtendedRegister
from cosem.script_table import ScriptTable, action
from cosem.single_action_schedule import SingleActionSchedule, entries_data
from cosem.sources import DictSources
from cosem import demand_register
from dlms import axdr
from runtime import meter as meter_mod

START = civil.to_epoch(2026, 1, 31, 20, 3)       # 21:03 CET, the last evening of January
BILLING = civil.to_epoch(2026, 1, 31, 23, 0)     # 2026-02-01 00:00 CET
SCRIPTS = b"\x00\x00\x0a\x00\x01\xff"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def _boot(board):
    m = meter_mod.Meter(board, {"model": "me382"})
    m.power_on_sync()
    return m, m.services[0]


def test_demand_and_end_of_billing_in_the_meter():
    saved = meter_mod.SERVICES
    meter_mod.SERVICES = ("billing_service",)
    try:
        out = asyncio.run(_scenario())
    finally:
        meter_mod.SERVICES = saved
    check(out["last"] == (2300, civil.to_epoch(2026, 1, 31, 21, 0), 0), "demand %r" % (
        out["last"],))
    check(out["billed"][:2] == (1, BILLING), "billing %r" % (out["billed"],))
    check(out["seen"] == [BILLING], "notified %r" % (out["seen"],))
    # Saturday: tariff 1 (night) all day under the default calendar.
    check(out["billed"][2][:3] == [2300, 2300, 0], "cumulative %r" % (out["billed"][2],))
    check(out["rebooted"] == (1, BILLING, [2300, 2300, 0]), "reboot %r" % (
        out["rebooted"],))
    check(out["status"] & demand.STATUS_POWER_UP, "power-up flag")


async def _scenario():
    board = hw.Board("me382", {"start": START, "state_dir": None, "realtime": True,
                               "speed": 0.000001})
    board.afe.configure(None, i=10.0, phi=0.0)
    m, s = _boot(board)
    seen = []
    m.listen("billing", seen.append)
    out = {"seen": seen}
    await m.advance(civil.to_epoch(2026, 1, 31, 21, 0) - START)
    d = s.demands[0]
    out["last"] = (d.last_average_value, d.capture_time, d.status)
    await m.advance(BILLING + 900 - board.clock.now())
    out["billed"] = (s.billing.counter, s.billing.last_reset, d.cum_value[:])
    m.power_off()
    m, s = _boot(board)
    d = s.demands[0]
    out["rebooted"] = (s.billing.counter, s.billing.last_reset, d.cum_value[:3])
    await m.advance(900)
    out["status"] = d.status
    m.power_off()
    return out


CLIENTS = (Client(1, "management", 1, 1, 0),)


def _model(values):
    d = demand.Demand(900, 1, 8, 3600)
    t = civil.to_epoch(2030, 6, 1, 10, 7)
    d.start(t)
    d.feed(0, d.next_boundary(), 1)
    d.feed(575000, d.next_boundary(), 2)
    src = DictSources(values=values)
    rule = meter_mod.load_rule(meter_mod.open_store(__import__("sim_nv").NvMem()))
    src.getters.update(demand_register.getters("A+", lambda: d, lambda: 0, lambda: rule))
    calls = []
    src.actions["scripts.execute"] = calls.append
    scale = (axdr.DOUBLE_LONG_UNSIGNED, 0, 27, 1, 0)
    rows = [
        ("1-0:1.4.0", DemandRegister, "demand.A+", scale, ("rrrrrrrrr",)),
        ("1-0:1.6.2", ExtendedRegister, "md.A+.t2", scale, ("r*",)),
        ("0-0:10.0.1", ScriptTable, "scripts",
         ((1, (action(2, 9, "0-0:10.0.1", 1, (axdr.LONG_UNSIGNED, 2)),)), (2, ())), ("rr/x",)),
        ("0-0:15.0.0", SingleActionSchedule, "sched", None, ("rbbb",)),
    ]
    view = Model(rows, CLIENTS, src).associate(1)
    return view, calls, d


def _values():
    return {"sched.executed_script": (axdr.STRUCTURE, [(axdr.OCTET_STRING, SCRIPTS),
                                                        (axdr.LONG_UNSIGNED, 1)]),
            "sched.type": 1,
            "sched.execution_time": entries_data([((0, 0, 0), (0xFFFF, 0xFF, 1, 0xFF))])}


def test_cosem_demand_objects():
    view, _, d = _model(_values())
    dr = view.find(5, obis.parse("1-0:1.4.0"))
    check(view.get(dr, 3) == (axdr.DOUBLE_LONG_UNSIGNED, 2300), "last average")
    check(view.get(dr, 5) == (axdr.UNSIGNED, 0), "status")
    md = view.find(4, obis.parse("1-0:1.6.2"))
    check(view.get(md, 2) == (axdr.DOUBLE_LONG_UNSIGNED, 2300), "maximum tariff 2")
    ct = view.get(md, 5)[1]         # 10:30 UTC = 12:30 CEST
    check(ct[:4] == b"\x07\xee\x06\x01" and ct[5:8] == b"\x0c\x1e\x00", "capture %r" % ct)


def test_cosem_script_table_and_schedule():
    values = _values()
    view, calls, _ = _model(values)
    table = view.find(9, obis.parse("0-0:10.0.1"))
    check(view.action(table, 1, (axdr.LONG_UNSIGNED, 7)) == (errors.OTHER_REASON, None), "7")
    check(view.action(table, 1, (axdr.LONG_UNSIGNED, 1)) == (errors.SUCCESS, None), "1")
    check(calls == [1], "calls %r" % calls)
    sch = view.find(22, obis.parse("0-0:15.0.0"))
    refused = 0
    for attr, data in ((3, (axdr.ENUM, 2)), (3, (axdr.ENUM, 0)),
                       (4, (axdr.ARRAY, [(axdr.STRUCTURE, [
                           (axdr.OCTET_STRING, b"\x00\x3c\x00\x00"),
                           (axdr.OCTET_STRING, b"\xff\xff\xff\x01\xff")])]))):
        try:
            view.set(sch, attr, data)
        except errors.OtherReason:
            refused += 1
    check(refused == 3, "refused %d" % refused)
    check(values["sched.type"] == 1 and len(values["sched.execution_time"][1]) == 1, "unchanged")
    dates = (axdr.ARRAY, [(axdr.STRUCTURE, [(axdr.OCTET_STRING, b"\x06\x00\x00\x00"),
                                            (axdr.OCTET_STRING, b"\x07\xea\x05\x01\xff")])])
    view.set(sch, 4, dates)
    check(view.get(sch, 4) == dates, "dates")
    view.set(sch, 3, (axdr.ENUM, 2))
    check(values["sched.type"] == 2, "type 2")
    script = (axdr.STRUCTURE, [(axdr.OCTET_STRING, SCRIPTS), (axdr.LONG_UNSIGNED, 2)])
    view.set(sch, 2, script)
    check(view.get(sch, 2) == script, "executed script")
