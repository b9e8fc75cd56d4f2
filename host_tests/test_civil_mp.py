"""Differential: core.civil, core.datepattern and core.dst give bit-identical results under CPython
and the real micropython binary, over many random instants, patterns and DST rules."""
import json
import random

import pytest

from core import civil, datepattern, dst

LAST = civil.DAYS * 86400 - 1

RULES = """
rules = [
    dst.eu_rule(-60),
    dst.eu_rule(0),
    dst.Rule(300, (0xFFFF, 3, 8, 7, 2, 0, 0), (0xFFFF, 11, 1, 7, 2, 0, 0)),
    dst.Rule(-600, (0xFFFF, 10, 1, 7, 2, 0, 0), (0xFFFF, 4, 1, 7, 3, 0, 0)),
    dst.Rule(-60, (0xFFFF, 10, 0xFE, 7, 2, 0, 0), (0xFFFF, 3, 0xFE, 7, 1, 0, 0), -60),
    dst.Rule(-60, (2030, 3, 0xFE, 7, 2, 0, 0), (0xFFFF, 10, 0xFE, 7, 3, 0, 0)),
]
"""


@pytest.fixture(scope="module")
def mp(mp_worker):
    mp_worker.exec("import sys\nfrom core import civil, datepattern, dst\n" + RULES)
    assert mp_worker.eval("sys.implementation.name") == "micropython"
    return mp_worker


def local_rules():
    scope = {"dst": dst}
    exec(RULES, scope)
    return scope["rules"]


def same(mp, expr, value):
    """Evaluate expr in MicroPython and compare with the CPython value after a JSON round trip."""
    assert mp.eval(expr) == json.loads(json.dumps(value))


def batches(values, size=400):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def test_civil_conversions(mp):
    rnd = random.Random(2000)
    instants = [0, LAST, 2 ** 30, 2 ** 31] + [rnd.randrange(LAST + 1) for _ in range(3000)]
    for chunk in batches(instants):
        same(mp, "[civil.civil(s) for s in %r]" % chunk, [civil.civil(s) for s in chunk])
        fields = [civil.civil(s)[:6] for s in chunk]
        same(mp, "[civil.to_epoch(*f) for f in %r]" % fields, chunk)
    days = list(range(0, civil.DAYS, 13))
    for chunk in batches(days):
        same(mp, "[(civil.civil_from_days(n), civil.weekday(n)) for n in %r]" % chunk,
             [(civil.civil_from_days(n), civil.weekday(n)) for n in chunk])


def random_pattern(rnd):
    pick = lambda *choices: rnd.choice(choices)
    return (pick(0xFFFF, 0xFFFF, rnd.randrange(2000, 2100)),
            pick(0xFF, 0xFE, 0xFD, rnd.randrange(1, 13), rnd.randrange(1, 13)),
            pick(0xFF, 0xFE, 0xFD, rnd.randrange(1, 32), rnd.randrange(1, 32)),
            pick(0xFF, rnd.randrange(1, 8)),
            pick(0xFF, rnd.randrange(24)), pick(0xFF, rnd.randrange(60)),
            pick(0xFF, rnd.randrange(60)))


def test_date_patterns(mp):
    rnd = random.Random(11)
    cases = [(random_pattern(rnd), rnd.randrange(LAST), rnd.choice([None, (3, 10)]))
             for _ in range(600)]
    for chunk in batches(cases, 150):
        same(mp, "[datepattern.next_datetime(p, s, m) for p, s, m in %r]" % chunk,
             [datepattern.next_datetime(p, s, m) for p, s, m in chunk])
        dates = [(p[:4], civil.civil(s)[:3], m) for p, s, m in chunk]
        same(mp, "[datepattern.date_matches(p, *d, dst_months=m) for p, d, m in %r]" % dates,
             [datepattern.date_matches(p, *d, dst_months=m) for p, d, m in dates])


def test_dst_rules(mp):
    rules = local_rules()
    rnd = random.Random(5)
    for k, rule in enumerate(rules):
        utc = [rnd.randrange(LAST + 1) for _ in range(400)]
        same(mp, "[dst.local_from_utc(s, rules[%d]) for s in %r]" % (k, utc),
             [dst.local_from_utc(s, rule) for s in utc])
        same(mp, "[dst.next_transition(s, rules[%d]) for s in %r]" % (k, utc[:100]),
             [dst.next_transition(s, rule) for s in utc[:100]])
        # Local times around every transition, both folds.
        local = []
        for year in range(2000, 2100, 3):
            for t in dst.transitions(rule, year):
                if t is not None:
                    local += [t - rule.time_zone * 60 + rnd.randrange(-7200, 7200)
                              for _ in range(2)]
        local += [rnd.randrange(86400, LAST - 86400) for _ in range(100)]
        cases = [(s, f) for s in local for f in (0, 1)]
        for chunk in batches(cases):
            same(mp, "[dst.utc_from_local(s, rules[%d], f) for s, f in %r]" % (k, chunk),
                 [dst.utc_from_local(s, rule, f) for s, f in chunk])
        same(mp, "[dst.transitions(rules[%d], y) for y in range(2000, 2100)]" % k,
             [dst.transitions(rule, y) for y in range(2000, 2100)])
        inside = [rnd.randrange(86400, LAST - 86400) for _ in range(200)]
        fields = [dst.clock_fields(s, rule) for s in inside]
        same(mp, "[dst.clock_fields(s, rules[%d]) for s in %r]" % (k, inside), fields)
        writes = [(y, mo, d, h, mi, s, rnd.choice([dev, 0x8000])) for y, mo, d, _, h, mi, s, dev, _
                  in fields]
        same(mp, "[dst.utc_from_clock(*(w + (rules[%d],))) for w in %r]" % (k, writes),
             [dst.utc_from_clock(*(w + (rule,))) for w in writes])
