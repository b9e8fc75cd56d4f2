"""Per-tariff energy registers: a simulated year of 15-minute steps with daily tariff switches;
the tariffs always sum to the totals, each step is split at the exact switch instant, rollover."""
import random

from core import calendar, civil, dst, special_days, tariff, tariff_registers
from measure import energy

SC = b"\x00\x00\x0a\x00\x64\xff"
UNIT = 3600000000000              # uW*us per mWh


def tou():
    days = [(1, [((6, 0, 0), SC, 2), ((22, 0, 0), SC, 1)]), (2, [((0, 0, 0), SC, 3)])]
    cal = calendar.Calendar(b"C", [(b"S", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"W")],
                            [(b"W", (1, 1, 1, 1, 1, 2, 2))], days)
    return tariff.TimeOfUse(calendar.ActivityCalendar(cal), special_days.SpecialDays(),
                            dst.eu_rule(-60))


def test_simulated_year_sums_and_split_instants():
    rnd = random.Random(382)
    m = tou()
    e = energy.Energy(1)
    regs = tariff_registers.TariffRegisters(energy.NREG)
    step_us = 900 * 1000000
    utc = civil.to_epoch(2027, 1, 1, 0, 7)
    sub = 250000                  # steps start 0.25 s past a second: every switch splits a step
    exact = [[0] * energy.NREG for _ in range(8)]
    switches = 0
    last = m.active_tariff(utc)
    t_us = 0
    for i in range(365 * 96):
        p = rnd.randint(-300000000, 500000000)
        q = rnd.randint(-200000000, 200000000)
        s = abs(p) + abs(q)
        t_us += step_us
        end_tariff = regs.step(e, m, [p], [q], [s], step_us, t_us, utc, sub)
        # Oracle: split the step second by second boundaries at the calendar's switches.
        done = 0
        cur = m.active_tariff(utc)
        sw = m.next_switch(utc, utc + 901)
        while sw is not None and (sw - utc) * 1000000 - sub < step_us:
            cut = (sw - utc) * 1000000 - sub
            _book(exact[cur - 1], p, q, s, cut - done)
            done = cut
            cur = m.active_tariff(sw)
            switches += 1
            sw = m.next_switch(sw, utc + 901)
        _book(exact[cur - 1], p, q, s, step_us - done)
        assert end_tariff == cur
        utc += 900
        if i % 7 == 0 or cur != last:
            for n in range(energy.NREG):
                assert sum(regs.regs[k][n] for k in range(8)) == e.total[n]
        last = cur
    assert last in (1, 2, 3)
    assert 570 <= switches <= 580            # 11 a week: weekday 06:00 and 22:00, Saturday 00:00
    for k in range(8):
        for n in range(energy.NREG):
            assert abs(regs.regs[k][n] * UNIT - exact[k][n]) <= (switches + 1) * UNIT
    assert regs.regs[0][energy.A_PLUS] > 0 and regs.regs[1][energy.A_PLUS] > 0
    assert regs.regs[2][energy.A_MINUS] > 0 and regs.regs[3] == [0] * energy.NREG


def _book(regs, p, q, s, dt):
    # Exact energies (uW*us) of one constant-power piece into its quadrants (single phase).
    ep, eq, es = p * dt, q * dt, s * dt
    if ep >= 0:
        regs[energy.A_PLUS] += ep
        regs[energy.S_PLUS] += es
    else:
        regs[energy.A_MINUS] -= ep
        regs[energy.S_MINUS] += es
    if eq >= 0:
        regs[energy.R_PLUS] += eq
        regs[energy.Q_I if ep >= 0 else energy.Q_II] += eq
    else:
        regs[energy.R_MINUS] -= eq
        regs[energy.Q_IV if ep >= 0 else energy.Q_III] -= eq


def test_switch_inside_a_step_is_split_exactly():
    m = tou()
    e = energy.Energy(1)
    regs = tariff_registers.TariffRegisters(energy.NREG)
    # Tuesday 2027-01-05 06:00 CET = 05:00 UTC; a step 04:59:59.5 .. 05:00:01.5 at 3.6 kW.
    utc = civil.to_epoch(2027, 1, 5, 4, 59, 59)
    assert m.active_tariff(utc) == 1
    assert regs.step(e, m, [3600000000], [0], [3600000000], 2000000, 2000000, utc, 500000) == 2
    assert regs.value(1, energy.A_PLUS) == 500          # 0.5 s at 3.6 kW = 0.5 Wh
    assert regs.value(2, energy.A_PLUS) == 1500
    assert e.total[energy.A_PLUS] == 2000


def test_masks_and_rollover_keep_the_books():
    m = tou()
    act = tariff.RegisterActivation(energy.NREG)
    act.set_mask(1, [energy.A_PLUS])
    e = energy.Energy(1)
    regs = tariff_registers.TariffRegisters(energy.NREG, modulus=1000, activation=act)
    regs.sync(e.total)
    utc = civil.to_epoch(2027, 1, 5, 1)               # Tuesday night: tariff 1
    t_us = 0
    for _ in range(20):
        t_us += 10 ** 8
        regs.step(e, m, [-500000000], [300000000], [600000000], 10 ** 8, t_us, utc, 0)
        utc += 100
        for n in range(energy.NREG):
            booked = sum(regs.regs[k][n] for k in range(8)) + regs.unassigned[n]
            assert booked % 1000 == e.total[n] % 1000
            assert all(0 <= regs.regs[k][n] < 1000 for k in range(8))
    assert regs.regs[0][energy.A_MINUS] == 0
    assert regs.unassigned[energy.A_MINUS] == e.total[energy.A_MINUS] > 1000
