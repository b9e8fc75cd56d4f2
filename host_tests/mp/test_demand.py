# MicroPython-only checks of demand, schedule and billing: instants past 2**31, and no heap
# allocation on the per-step paths (a feed inside a sub-period, a schedule poll between
# executions), proved with micropython.heap_lock().
import micropython

from core import billing, civil, demand, dst, schedule


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_block_demand_after_2068():
    d = demand.Demand(900, 1, tariffs=2, offset_s=3600)
    t = civil.to_epoch(2071, 6, 1, 0, 7)
    check(t > 2 ** 31, "instant beyond 2**31")
    d.start(t)
    b = d.next_boundary()
    check(b == civil.to_epoch(2071, 6, 1, 0, 15), "aligned end %d" % b)
    d.feed(0, b)
    d.feed(125000, b + 450, 2)
    d.feed(125000, b + 900, 2)
    check((d.last_average_value, d.capture_time, d.status) == (1000, b + 900, 0), "values")
    check(d.max_value == [1000, 0, 1000] and d.max_time[2] == b + 900, "maximum")


def test_feed_inside_a_period_does_not_allocate():
    d = demand.Demand(900, 1, tariffs=2)
    t = civil.to_epoch(2030, 1, 1)
    d.start(t)
    d.feed(0, t + 900)
    micropython.heap_lock()
    try:
        for k in range(1, 899):
            d.feed(1000, t + 900 + k, 1)
    finally:
        micropython.heap_unlock()
    check(d.acc == 898000, "accumulated %d" % d.acc)


def test_schedule_poll_between_executions_does_not_allocate():
    s = schedule.monthly(dst.eu_rule(-60))
    t = civil.to_epoch(2030, 1, 2)
    s.due(t)
    micropython.heap_lock()
    try:
        hits = 0
        for k in range(1, 1000):
            if s.due(t + k):
                hits += 1
    finally:
        micropython.heap_unlock()
    check(hits == 0, "no execution on January 2nd")
    check(s.due(civil.to_epoch(2030, 1, 31, 23)), "February 1st 00:00 CET")


def test_billing_record_round_trip():
    d = demand.Demand(900, 1, tariffs=2)
    b = billing.Billing(2, 2, [d], 3)
    for k in range(4):
        b.end_of_billing(civil.to_epoch(2080, 1 + k, 1), [k, 2 ** 45], [[k, 0], [0, 2 ** 45]])
    b2 = billing.Billing(2, 2, [demand.Demand(900, 1, tariffs=2)], 3)
    b2.load(b.to_bytes())
    check(b2.history == b.history and b2.counter == 4, "round trip")
    try:
        b2.load(b.to_bytes()[:-1])
        check(False, "truncated record loaded")
    except billing.RecordError as e:
        check("length" in str(e), str(e))
