"""Differential: calendar, special days, tariff selection and tariff registers give identical
results under CPython and the real micropython binary, over random calendars and instants."""
import random

import pytest

from core import calendar, civil, special_days, tariff, tariff_registers
from measure import energy
from test_tariff_oracle import RULES_SRC, random_config, rules, window_starts

SETUP = """
from core import calendar, civil, dst, special_days, tariff, tariff_registers
from measure import energy
""" + RULES_SRC + """
def build(cfg, r):
    seasons, weeks, days, special = cfg
    cal = calendar.Calendar(b"C", seasons, weeks, days)
    return tariff.TimeOfUse(calendar.ActivityCalendar(cal), special_days.SpecialDays(special),
                            rules[r])
"""


@pytest.fixture(scope="module")
def mp(mp_worker):
    mp_worker.exec(SETUP)
    assert mp_worker.eval("__import__('sys').implementation.name") == "micropython"
    return mp_worker


def configs(rnd, n):
    out = []
    while len(out) < n:
        cfg = random_config(rnd)
        try:
            calendar.Calendar(b"C", *cfg[:3])
        except calendar.CalendarError:
            continue
        out.append(cfg)
    return out


def build(cfg, rule):
    seasons, weeks, days, special = cfg
    cal = calendar.Calendar(b"C", seasons, weeks, days)
    return tariff.TimeOfUse(calendar.ActivityCalendar(cal), special_days.SpecialDays(special), rule)


def test_active_tariff_and_next_switch_match(mp):
    rnd = random.Random(8)
    rule_list = rules()
    for k, cfg in enumerate(configs(rnd, 12)):
        r = k % len(rule_list)
        m = build(cfg, rule_list[r])
        mp.exec("m = build(%r, %d)" % (cfg, r))
        base = window_starts(rnd, rule_list[r], cfg[0])
        instants = [rnd.choice(base) + rnd.randrange(3 * 86400) for _ in range(150)]
        instants += [rnd.randrange(86400 * 366, (civil.DAYS - 366) * 86400) for _ in range(50)]
        want = [[m.active_tariff(u), m.next_switch(u, u + 5 * 86400)] for u in instants]
        got = mp.eval("[[m.active_tariff(u), m.next_switch(u, u + 5 * 86400)] for u in %r]"
                      % (instants,))
        assert got == want


def test_validation_errors_match(mp):
    bad = [(b"A", (0xFFFF, 2, 30, 0xFF, 0, 0, 0), b"W")]
    expr = ("(lambda: calendar.Calendar(b'C', %r, [(b'W', (1,) * 7)], "
            "[(1, [((0, 0, 0), b'\\x00\\x00\\x0a\\x00\\x64\\xff', 1)])]))" % (bad,))
    mp.exec("try:\n    %s()\n    err = None\nexcept calendar.CalendarError as e:\n"
            "    err = [str(e), e.type_unmatched]" % expr)
    assert mp.eval("err") == ["season start never occurs", False]


def test_tariff_registers_match(mp):
    rnd = random.Random(3)
    cfg = configs(rnd, 1)[0]
    rule = rules()[0]
    m = build(cfg, rule)
    e = energy.Energy(1)
    regs = tariff_registers.TariffRegisters(energy.NREG, modulus=10 ** 9)
    mp.exec("m = build(%r, 0)\ne = energy.Energy(1)\n"
            "regs = tariff_registers.TariffRegisters(energy.NREG, modulus=10 ** 9)" % (cfg,))
    utc = civil.to_epoch(2040, 3, 20)
    steps = []
    for i in range(400):
        p = rnd.randint(-400000000, 400000000)
        q = rnd.randint(-100000000, 100000000)
        steps.append((p, q, abs(p) + abs(q), utc + i * 900, rnd.randrange(1000000)))
    t_us = 0
    for p, q, s, u, sub in steps:
        t_us += 900000000
        regs.step(e, m, [p], [q], [s], 900000000, t_us, u, sub)
    mp.exec("t_us = 0\nfor p, q, s, u, sub in %r:\n    t_us += 900000000\n"
            "    regs.step(e, m, [p], [q], [s], 900000000, t_us, u, sub)" % (steps,))
    assert mp.eval("[regs.regs, e.total]") == [regs.regs, e.total]
