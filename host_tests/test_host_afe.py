"""Simulated front end (boards/host/sim_afe.py, sim_wave.py) under CPython."""
import asyncio
import json
import math

import pytest

import sim_afe
import sim_clock
import sim_wave


def make(model="me382", **kw):
    kw.setdefault("realtime", False)
    return sim_afe.SimAfe(model, sim_clock.Clock(kw.get("fs", 4000), 0), **kw)


def samples(afe, nblocks):
    """`nblocks` blocks read through the async API, as one flat list of interleaved codes."""
    async def go():
        out = []
        for _ in range(nblocks):
            out.extend(await afe.read())
        return out
    return asyncio.run(go())


def channel(flat, afe, name):
    return flat[afe.channels.index(name)::len(afe.channels)]


def expected(afe, peak_codes, angle_deg, nframes):
    """Analytic sine at the generator's exact phase (k * inc modulo one cycle)."""
    inc = sim_wave.phase_inc(afe.settings()["f"], afe.fs)
    a = angle_deg * math.pi / 180
    return [peak_codes * math.sin(2 * math.pi * ((k * inc) % sim_wave.PHASE_ONE) / sim_wave.PHASE_ONE + a)
            for k in range(nframes)]


def peak_u(afe, volts):
    return math.sqrt(2) * volts * 1000 / afe.u_peak_mv * 2 ** (afe.bits - 1)


def peak_i(afe, amps):
    return math.sqrt(2) * amps * 1000 / afe.i_peak_ma * 2 ** (afe.bits - 1)


def test_defaults_follow_the_board_contract():
    me, mt = make("me382"), make("mt382")
    assert me.channels == ("U1", "I1", "IN")
    assert mt.channels == ("U1", "I1", "U2", "I2", "U3", "I3", "IN")
    assert (me.fs, me.bits, me.block_frames, me.u_peak_mv, me.i_peak_ma) == (4000, 24, 400, 500000, 200000)
    s = mt.settings()
    assert s["f"] == 50.0
    assert [(p["u"], p["i"], p["u_angle"]) for p in s["phases"]] == [
        (230.0, 0.0, 0.0), (230.0, 0.0, -120.0), (230.0, 0.0, 120.0)]
    buf = asyncio.run(mt.read())
    assert buf.typecode == "i" and len(buf) == 400 * 7


@pytest.mark.parametrize("bits", [24, 16])
def test_fundamental_matches_the_analytic_sine(bits):
    afe = make("me382", bits=bits)
    afe.configure(u=230, i=60, phi=37)
    flat = samples(afe, 3)
    full = 2 ** (bits - 1)
    n = 3 * afe.block_frames
    for name, want in (("U1", expected(afe, peak_u(afe, 230), 0, n)),
                       ("I1", expected(afe, peak_i(afe, 60), -37, n))):
        err = max(abs(g - w) for g, w in zip(channel(flat, afe, name), want))
        # 24 bits: interpolation error only (well below 1e-5 of full scale);
        # 16 bits: the final rounding to whole codes dominates.
        assert err / full < (1e-6 if bits == 24 else 0.51 / full), (name, err)


@pytest.mark.parametrize("f", [50.0, 49.99, 50.5, 60.0, 47.123])
def test_phase_increment_frequency_error_is_negligible(f):
    inc = sim_wave.phase_inc(f, 4000)
    # half a step of the 30-bit accumulator: 1.9 uHz, far below the 0.01 Hz a meter reports
    assert abs(inc * 4000 / sim_wave.PHASE_ONE - f) <= 4000 / 2 ** 31


@pytest.mark.parametrize("f, crossings", [(60, 119), (50.5, 100)])
def test_zero_crossings_follow_the_frequency(f, crossings):
    afe = make("me382")
    afe.configure(f=f)
    u = channel(samples(afe, 20), afe, "U1")
    # two seconds; U1 starts at phase 0, so rising crossings fall at k / f for k = 1, 2, ...
    assert sum(1 for a, b in zip(u, u[1:]) if a < 0 <= b) == crossings


def rms_and_power(u, i):
    n = len(u)
    return (math.sqrt(sum(x * x for x in u) / n), math.sqrt(sum(x * x for x in i) / n),
            sum(a * b for a, b in zip(u, i)) / n)


def test_sample_power_matches_ideal_with_harmonics():
    afe = make("mt382")
    afe.configure(phase=1, u=230, i=5, phi=30, u_harmonics={3: [4, 20], 5: [2, 0]},
                  i_harmonics={"3": [20, 50], "7": [8, 0]})
    afe.configure(phase=2, u=225, i=40, phi=-60)
    afe.configure(phase=3, u=240, i=12, phi=180)
    flat = samples(afe, 10)  # one second: 50 whole cycles
    full = 2 ** 23
    ku = afe.u_peak_mv / 1000 / full  # volts per code
    ki = afe.i_peak_ma / 1000 / full
    for p, ideal in enumerate(afe.ideal(), 1):
        urms, irms, pw = rms_and_power(channel(flat, afe, "U%d" % p), channel(flat, afe, "I%d" % p))
        # ideal() rounds to whole mV, mA, uW: allow that plus 1e-5 relative
        assert abs(urms * ku * 1000 - ideal["u"]) <= 0.5 + 1e-5 * ideal["u"]
        assert abs(irms * ki * 1000 - ideal["i"]) <= 0.5 + 1e-5 * ideal["i"]
        assert abs(pw * ku * ki * 1e6 - ideal["p"]) <= 1e-5 * ideal["s"]
        assert ideal["f"] == 5000


def test_ideal_values():
    afe = make("mt382")
    afe.configure(u=230, i=10, phi=60)
    afe.configure(phase=3, phi=180, i_harmonics={3: [50, 0]})
    one, _, three = afe.ideal()
    assert one == {"u": 230000, "i": 10000, "p": 1150000000, "q": 1991858429, "q1": 1991858429,
                   "s": 2300000000, "f": 5000}
    assert three["p"] == -2300000000 and three["q1"] == 0
    assert three["i"] == round(10000 * math.sqrt(1.25))
    assert three["s"] == round(230 * 10 * math.sqrt(1.25) * 1e6)
    afe.configure(phase=1, u_harmonics={3: [10, 0]}, i_harmonics={3: [50, 90]})
    h = afe.ideal()[0]
    # 3rd harmonic: U3 = 23 V, I3 = 5 A, angle 3 * 60 + 0 - 90 = 90 deg: reactive only
    assert h["p"] == 1150000000
    assert h["q"] == 1991858429 + 115000000
    assert h["q1"] == 1991858429


def test_neutral_is_minus_the_sum_of_phase_currents():
    afe = make("mt382")
    afe.configure(phase=1, i=10, phi=10, i_harmonics={3: [30, 0]})
    afe.configure(phase=2, i=25, phi=40, i_harmonics={3: [30, 0]})
    afe.configure(phase=3, i=3, phi=-20)
    flat = samples(afe, 2)
    i_sum = [a + b + c for a, b, c in zip(*(channel(flat, afe, n) for n in ("I1", "I2", "I3")))]
    nn = channel(flat, afe, "IN")
    assert max(abs(x + s) for x, s in zip(nn, i_sum)) <= 3
    afe.configure(in_gain=0.0)
    assert set(channel(samples(afe, 1), afe, "IN")) == {0}


def test_single_phase_neutral_follows_the_line_current_and_its_override():
    afe = make("me382")
    afe.configure(i=20, phi=25)
    flat = samples(afe, 1)
    assert max(abs(a + b) for a, b in zip(channel(flat, afe, "I1"), channel(flat, afe, "IN"))) <= 1
    afe.configure(i_gain=0.5)  # line shunt bypassed: the phase channel sees half the current
    flat = samples(afe, 1)
    assert max(abs(2 * a + b) for a, b in zip(channel(flat, afe, "I1"), channel(flat, afe, "IN"))) <= 3


@pytest.mark.parametrize("bits", [24, 16])
def test_overrange_clips_to_the_adc_range(bits):
    afe = make("me382", bits=bits)
    afe.configure(u=400)  # 566 V peak > 500 V full scale
    u = channel(samples(afe, 1), afe, "U1")
    assert max(u) == 2 ** (bits - 1) - 1 and min(u) == -2 ** (bits - 1)
    assert u.count(max(u)) > 10


def test_dc_offset_and_gain():
    afe = make("me382")
    afe.configure(i=50, i_dc=1234, u_gain=0.5)
    flat = samples(afe, 10)
    i = channel(flat, afe, "I1")
    assert abs(sum(i) / len(i) - 1234) < 1
    u = channel(flat, afe, "U1")
    assert abs(max(u) - peak_u(afe, 115)) < 3


def test_noise_is_bounded_deterministic_and_per_channel():
    a = make("me382", seed=5)
    a.configure(u=0, u_noise=50)
    fa = samples(a, 5)
    u = channel(fa, a, "U1")
    assert min(u) >= -50 and max(u) <= 50
    assert abs(sum(u) / len(u)) < 3
    var = sum(x * x for x in u) / len(u)
    assert abs(var - 50 * 51 / 3) / (50 * 51 / 3) < 0.1  # uniform on -50..50
    assert set(channel(fa, a, "I1")) == {0}
    b = make("me382", seed=5)
    b.configure(u=0, u_noise=50)
    assert samples(b, 5) == fa
    c = make("me382", seed=6)
    c.configure(u=0, u_noise=50)
    assert samples(c, 5) != fa


@pytest.mark.parametrize("kw", [
    {"u": -1}, {"u": 1001}, {"i": "5"}, {"phi": float("nan")}, {"f": 5}, {"f": True},
    {"u_harmonics": {1: [5, 0]}}, {"u_harmonics": {"16": [5, 0]}}, {"i_harmonics": {3: [101, 0]}},
    {"i_harmonics": {3: [5, 0], "3": [6, 0]}}, {"i_harmonics": {3: [5]}}, {"u_harmonics": [[3, 5, 0]]},
    {"i_harmonics": {"x": [5, 0]}}, {"i_harmonics": {3.5: [5, 0]}}, {"u_dc": 1e9}, {"i_noise": -1},
    {"i_noise": 2.5}, {"noise": float("inf")}, {"in_gain": 11}, {"gain": -1}, {"volts": 230},
    {"in_harmonics": {}},
])
def test_configure_rejects_bad_values_and_changes_nothing(kw):
    afe = make("mt382")
    before = afe.settings()
    with pytest.raises(ValueError) as e:
        afe.configure(u_angle=10, **kw)
    assert "\n" not in str(e.value)
    assert afe.settings() == before


def test_configure_rejects_bad_phase_and_harmonics_above_nyquist():
    with pytest.raises(ValueError, match="phase"):
        make("me382").configure(phase=2, u=230)
    slow = make("me382", fs=1000, block_frames=100)
    with pytest.raises(ValueError, match="Nyquist"):
        slow.configure(u_harmonics={11: [1, 0]})
    slow.configure(u_harmonics={9: [1, 0]})
    with pytest.raises(ValueError, match="Nyquist"):
        slow.configure(f=60)


def test_plain_gain_dc_noise_cover_both_channels_and_the_neutral_for_all_phases():
    afe = make("mt382")
    afe.configure(phase=2, gain=1.5, noise=4.0, dc=-2.5)
    s = afe.settings()
    p2 = s["phases"][1]
    assert (p2["u_gain"], p2["i_gain"], p2["u_noise"], p2["i_noise"], p2["u_dc"], p2["i_dc"]) == (
        1.5, 1.5, 4, 4, -2.5, -2.5)
    assert s["phases"][0]["u_gain"] == 1.0 and s["in_gain"] == 1.0
    afe.configure(gain=0.9)
    s = afe.settings()
    assert s["in_gain"] == 0.9 and all(p["u_gain"] == p["i_gain"] == 0.9 for p in s["phases"])
    assert isinstance(s["phases"][1]["i_noise"], int)


def test_phase_selection_and_settings_round_trip():
    afe = make("mt382")
    afe.configure(phase=2, i=7.5, phi=12, i_harmonics={5: [3, 10]}, i_dc=-20, u_noise=3)
    s = json.loads(json.dumps(afe.settings()))  # JSON-friendly, as the control channel sends it
    assert s["phases"][1]["i"] == 7.5 and s["phases"][0]["i"] == 0.0 and s["phases"][2]["i"] == 0.0
    assert s["phases"][1]["i_dc"] == -20 and s["phases"][1]["u_noise"] == 3
    other = make("mt382")
    for n, entry in enumerate(s["phases"], 1):
        other.configure(phase=n, **entry)
    other.configure(**dict((k, v) for k, v in s.items() if k != "phases"))
    assert other.settings() == s
    assert samples(other, 2) == samples(afe, 2)


def test_pacer_waits_hands_out_and_laps():
    p = sim_afe.Pacer(4000, 400, 4, 1.0)  # one block per 100 ms
    assert p.step(0) == (100000, 0)
    assert p.step(99999) == (1, 0)
    assert p.step(100000) == (0, 0)
    assert p.step(150000) == (50000, 0)
    assert p.step(500000) == (0, 0)  # blocks 1..4 complete and unread: within the ring
    assert p.step(1200000) == (0, 6)  # blocks 2..11 unread, the ring keeps 8..11: 2..7 lost
    assert p.done == 9
    fast = sim_afe.Pacer(4000, 400, 4, 10.0)
    assert fast.step(0) == (10000, 0)


def test_realtime_read_waits_and_counts_overruns(monkeypatch):
    now = [0]
    slept = []

    yields = [0]

    async def fake_sleep_ms(ms):
        yields[0] += 1
        if ms:
            slept.append(ms)
        now[0] += ms * 1000000

    monkeypatch.setattr(sim_afe, "_wall_ns", lambda: now[0])
    monkeypatch.setattr(sim_afe, "_sleep_ms", fake_sleep_ms)
    clock = sim_clock.Clock(4000, 1000)
    afe = sim_afe.SimAfe("me382", clock, realtime=True)

    async def go():
        await afe.read()
        assert slept == [100] and clock.now_us() == 1000100000
        now[0] += 2000 * 1000000  # the reader stalls for 2 s: 20 blocks complete, 4 kept
        await afe.read()
        assert afe.overruns == 16
        assert clock.now_us() == 1000000000 + 18 * 100000  # lost blocks still advance meter time
        await afe.read()
        await afe.read()
        await afe.read()
        assert slept == [100]  # the three kept blocks are handed out at once
        await afe.read()
        assert slept == [100, 100]
        assert yields[0] >= 6  # every read yields to the scheduler, even when catching up
    asyncio.run(go())


def test_realtime_read_with_the_real_wall_clock():
    clock = sim_clock.Clock(4000, 0)
    afe = sim_afe.SimAfe("mt382", clock, realtime=True, speed=1000)  # 0.1 ms per block

    async def go():
        for _ in range(5):
            await afe.read()
    asyncio.run(go())
    assert clock.now_us() == (5 + afe.overruns) * 100000


def test_fast_forward_yields_to_other_tasks_every_block():
    afe = make("me382")
    ticks = []

    async def other():
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    async def go():
        t = asyncio.create_task(other())
        for _ in range(5):
            await afe.read()
        t.cancel()
    asyncio.run(go())
    assert len(ticks) >= 4


def test_pace_switches_modes_and_checks_speed():
    afe = make("me382")
    afe.pace(True, 20)
    assert afe.realtime and afe.speed == 20
    with pytest.raises(ValueError):
        afe.pace(True, 0)


@pytest.mark.parametrize("kw", [{"bits": 12}, {"fs": 4000.0}, {"block_frames": 0}, {"ring": 0},
                                {"u_peak_mv": 0}])
def test_constructor_rejects_bad_options(kw):
    with pytest.raises(ValueError):
        make("me382", **kw)
    with pytest.raises(ValueError, match="model"):
        make("me381")
