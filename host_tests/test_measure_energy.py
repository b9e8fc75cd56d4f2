"""Energy registers, registration modes, creep/starting thresholds and metrological LED pulses."""
import pytest
from hypothesis import given, strategies as st

import waveform as wf
from measure import energy as en
from measure.energy import Energy, Led
from measure.metrology import Metrology
from measure.rating import I_PEAK_MA, U_PEAK_MV, for_model

MWH = 3600000000000  # uW*us


class PulseLog:
    def __init__(self):
        self.t = []

    def pulse(self, t_us):
        self.t.append(t_us)


def regs(e, phase=None):
    return dict(zip(en.NAMES, e.total if phase is None else e.phase[phase]))


@pytest.mark.parametrize("p,q,filled", [
    (1000, 400, ("A+", "R+", "QI", "S+")),
    (-1000, 400, ("A-", "R+", "QII", "S-")),
    (-1000, -400, ("A-", "R-", "QIII", "S-")),
    (1000, -400, ("A+", "R-", "QIV", "S+")),
])
def test_four_quadrants(p, q, filled):
    e = Energy(1)
    e.accumulate([p * 1000000], [q * 1000000], [1077 * 1000000], 3600000000, 3600000000)
    expect = {"A+": 1000000, "A-": 1000000, "R+": 400000, "R-": 400000, "QI": 400000,
              "QII": 400000, "QIII": 400000, "QIV": 400000, "S+": 1077000, "S-": 1077000}
    assert regs(e) == {k: (expect[k] if k in filled else 0) for k in en.NAMES}


@given(st.lists(st.tuples(st.integers(-10 ** 11, 10 ** 11), st.integers(1, 10 ** 9)),
                min_size=1, max_size=40))
def test_remainders_lose_nothing(steps):
    """Registers plus carried remainders equal the exact sum of power * time."""
    e = Energy(1)
    for p, dt in steps:
        e.accumulate([p], [0], [abs(p)], dt, 0)
    imp = sum(p * dt for p, dt in steps if p >= 0)
    exp = sum(-p * dt for p, dt in steps if p < 0)
    assert e.exact(en.A_PLUS) == imp and e.exact(en.A_MINUS) == exp
    assert e.total[en.A_PLUS] == imp // MWH and e.total[en.A_MINUS] == exp // MWH
    assert e.exact(en.S_PLUS) + e.exact(en.S_MINUS) == imp + exp


# Three phases: +10 kW / +3 kvar, -4 kW / +1 kvar, +1 kW / -2 kvar for one hour.
P3 = [10 ** 10, -4 * 10 ** 9, 10 ** 9]
Q3 = [3 * 10 ** 9, 10 ** 9, -2 * 10 ** 9]
S3 = [10440307000, 4123106000, 2236068000]
HOUR = 3600000000


def test_vector_mode_registers_the_net():
    e = Energy(3, en.MODE_VECTOR)
    e.accumulate(P3, Q3, S3, HOUR, HOUR)
    t = regs(e)
    assert t["A+"] == 7000000 and t["A-"] == 0
    assert t["R+"] == 2000000 and t["QI"] == 2000000 and t["R-"] == 0
    assert t["S+"] == sum(S3) // 1000 and t["S-"] == 0
    # Per-phase registers follow each phase's own direction.
    assert regs(e, 1)["A-"] == 4000000 and regs(e, 1)["QII"] == 1000000


def test_arithmetic_mode_registers_each_phase_by_its_sign():
    e = Energy(3, en.MODE_ARITHMETIC)
    e.accumulate(P3, Q3, S3, HOUR, HOUR)
    t = regs(e)
    assert t["A+"] == 11000000 and t["A-"] == 4000000
    assert t["R+"] == 4000000 and t["R-"] == 2000000
    assert t["QI"] == 3000000 and t["QII"] == 1000000 and t["QIV"] == 2000000
    assert t["S+"] == (S3[0] + S3[2]) // 1000 and t["S-"] == S3[1] // 1000


def test_absolute_mode_counts_every_phase_as_import():
    e = Energy(3, en.MODE_ABSOLUTE)
    e.accumulate(P3, Q3, S3, HOUR, HOUR)
    t = regs(e)
    assert t["A+"] == 15000000 and t["A-"] == 0
    # The exporting phase counts as a reversed current: its Q changes sign too.
    assert t["R+"] == 3000000 and t["R-"] == 3000000
    assert t["S+"] == sum(S3) // 1000 and t["S-"] == 0
    assert regs(e, 1)["A+"] == 4000000 and regs(e, 1)["QIV"] == 1000000


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError):
        Energy(3, 7)


def test_noload_threshold_gates_each_phase():
    e = Energy(3, en.MODE_ARITHMETIC, noload_uva=2875000, led_active=PulseLog())
    e.accumulate([2000000, 4600000, -2800000], [0, 0, 0], [2874999, 4600000, 2800000],
                 HOUR, HOUR)
    assert regs(e)["A+"] == 4600 and regs(e)["A-"] == 0
    assert regs(e, 0)["A+"] == 0


def test_led_pulses_at_192_hz_are_exact():
    """3 x 230 V x 100 A = 69 kW at 10000 imp/kWh: one pulse per 360 J, 5217.39 us apart."""
    log = PulseLog()
    e = Energy(3, led_active=log, led_imp_kwh=10000)
    p = [23 * 10 ** 9] * 3
    t = 7000000
    for _ in range(10):                         # 2 s in 200 ms windows
        t += 200000
        e.accumulate(p, [0] * 3, p, 200000, t)
    quantum = 360 * 10 ** 12                    # uW*us per pulse
    rate = 69 * 10 ** 9                         # uW
    assert len(log.t) == 2000000 * rate // quantum == 383
    assert log.t == [7000000 - (-n * quantum // rate) for n in range(1, 384)]
    gaps = {b - a for a, b in zip(log.t, log.t[1:])}
    assert gaps == {5217, 5218}
    assert e.led_active.count == 383


def test_led_constant_is_exact_for_any_value():
    for imp in (1, 3, 1600, 7777):
        led = Led(PulseLog(), imp)
        for _ in range(100):
            led.add(36 * 10 ** 15, 0, 1000)   # 0.01 kWh per step
        assert led.count == imp


def test_reactive_led_follows_reactive_energy():
    log = PulseLog()
    e = Energy(1, led_reactive=log, led_imp_kvarh=1000)
    e.accumulate([0], [-2 * 10 ** 9], [2 * 10 ** 9], 1800000000, 1800000000)
    assert len(log.t) == 1000 and log.t[-1] == 1800000000


def test_restore_loads_registers():
    e = Energy(3)
    e.restore(list(range(10)), [[7] * 10, [8] * 10, [9] * 10])
    assert e.total == list(range(10)) and e.phase[2] == [9] * 10
    e.accumulate([3600000, 0, 0], [0] * 3, [3600000, 0, 0], 1000000, 1000000)   # 1 mWh
    assert e.total[en.A_PLUS] == 1 and e.phase[0][en.A_PLUS] == 8


def _meter(model, u_mv, i_ma, secs, noise, bits=24, led=1000):
    r = for_model(model, led_imp_kwh=led, led_imp_kvarh=led)
    waves = wf.phase_set(r.phases, u_mv, i_ma, 0.0)
    peaks = [U_PEAK_MV, I_PEAK_MA] * r.phases + [I_PEAK_MA]
    codes = wf.frames(waves, peaks, 50.0, 4000, bits, int(secs * 4000), noise_lsb=noise)
    la = PulseLog()
    lr = PulseLog()
    m = Metrology(r, 4000, bits, U_PEAK_MV, I_PEAK_MA, led_active=la, led_reactive=lr)
    recs = wf.feed(m, codes, len(peaks), 4000)
    return m, la, lr, sum(r["dt_us"] for r in recs) / 1e6


@pytest.mark.parametrize("bits", [16, 24])
def test_meter_starts_at_0_4_percent_ib(bits):
    """0.4 % Ib = 20 mA at Un (4.6 W) registers, within 5 % (quantisation at 16 bits)."""
    m, la, lr, secs = _meter("me382", 230000, 20, 2.0, 0.3 if bits == 16 else 64.0, bits)
    assert abs(m.energy.exact(en.A_PLUS) / 1e12 / (4.6 * secs) - 1) < 0.05


@pytest.mark.parametrize("model", ["me382", "mt382"])
@pytest.mark.parametrize("bits", [16, 24])
def test_no_creep_at_115_percent_un(model, bits):
    """115 % Un, no current, front-end noise of 6 mA rms: nothing registers, no pulse."""
    m, la, lr, secs = _meter(model, 264500, 0, 3.0, 1.0 if bits == 16 else 250.0, bits,
                             led=100000)
    assert secs > 2.5
    assert all(v == 0 for v in m.energy.total)
    assert m.energy.exact(en.A_PLUS) == m.energy.exact(en.S_PLUS) == 0
    assert la.t == [] and lr.t == []
    assert all(4 < i < 10 for i in m.last.i_ma)   # the noise the threshold must ignore


def test_led_timing_end_to_end_at_69_kw():
    m, la, lr, secs = _meter("mt382", 230000, 100000, 2.0, 64.0, led=10000)
    gaps = [b - a for a, b in zip(la.t, la.t[1:])]
    assert min(gaps) >= 5215 and max(gaps) <= 5220
    energy_j = m.energy.exact(en.A_PLUS) / 1e12
    assert len(la.t) == int(energy_j // 360) >= 340
    assert abs(energy_j / (69000 * secs) - 1) < 1e-4
    assert la.t[-1] <= m.last.t_us and lr.t == []


def test_long_step_counts_early_pulses_and_flashes_the_last_ones_exactly():
    import sim_leds

    class Every:
        """An output without skip(): every pulse comes one by one."""
        def __init__(self):
            self.instants = []

        def pulse(self, t_us):
            self.instants.append(t_us)

    every, counted = Every(), sim_leds.Led("a", depth=32)
    a, b = Led(every, 1000), Led(counted, 1000)
    for e, t0, dt in ((3 * 10 ** 12 * 3600 * 577, 0, 900 * 10 ** 6),   # 1731 pulses
                      (10 ** 15, 900 * 10 ** 6, 200000), (0, 0, 1)):
        a.add(e, t0, dt)
        b.add(e, t0, dt)
    assert a.count == b.count == counted.count == len(every.instants) > 1700
    assert counted.instants() == every.instants[-32:]
    assert a.acc == b.acc
