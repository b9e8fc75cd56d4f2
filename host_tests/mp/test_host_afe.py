# Host board under the real micropython binary: the viper wave kernel against its pure-Python
# reference, accuracy against math.sin, no allocation in the hot paths, the board's async read path.
import asyncio
import math
import micropython
from array import array

import hw
import sim_afe
import sim_clock
import sim_leds
import sim_wave


def _afe(model, **kw):
    kw.setdefault("realtime", False)
    return sim_afe.SimAfe(model, sim_clock.Clock(kw.get("fs", 4000), 0), **kw)


def _check_same(afe, nblocks):
    """Run the viper kernel and the reference on copies of the same state; compare every code."""
    par_v = array("i", afe._par)
    par_p = array("i", afe._par)
    out_v = array("i", afe._buf)
    out_p = array("i", afe._buf)
    for _ in range(nblocks):
        sim_wave.fill(out_v, afe._tab, par_v)
        sim_wave.fill_py(out_p, afe._tab, par_p)
        if out_v != out_p or par_v != par_p:
            raise AssertionError("viper and reference differ")


def test_kernel_is_viper():
    if sim_wave.fill is sim_wave.fill_py:
        raise AssertionError("64-bit micropython should use the viper kernel")


def test_viper_matches_reference_three_phase_24bit():
    afe = _afe("mt382")
    afe.configure(phase=1, u=230, i=80, phi=25, u_harmonics={3: [5, 10], 15: [2, 0]},
                  i_harmonics={"5": [30, 90]})
    afe.configure(phase=2, i=3.3, phi=-70, i_dc=-4000, i_noise=300, u_gain=1.7)
    afe.configure(phase=3, u=420, i=200, phi=181, u_noise=7)  # U3 clips, I3 near full scale
    afe.configure(f=51.37, in_noise=2, in_dc=12345)
    _check_same(afe, 7)


def test_viper_matches_reference_single_phase_16bit_odd_rate():
    afe = _afe("me382", bits=16, fs=4096, block_frames=333, seed=99)
    afe.configure(u=250, i=150, phi=-33, i_harmonics={2: [50, 45], 3: [40, 0]}, u_noise=5, i_noise=1000,
                  in_gain=0.25, f=60)
    _check_same(afe, 5)


def test_fundamental_error_below_1e_6_of_full_scale():
    afe = _afe("me382")
    afe.configure(u=300, i=100, phi=-45)
    inc = sim_wave.phase_inc(50.0, afe.fs)
    full = 1 << 23
    peaks = (math.sqrt(2) * 300000 / afe.u_peak_mv * full, math.sqrt(2) * 100000 / afe.i_peak_ma * full)
    worst = 0.0
    k = 0
    for _ in range(3):
        buf = asyncio.run(afe.read())
        for f in range(afe.block_frames):
            theta = 2 * math.pi * ((k * inc) % sim_wave.PHASE_ONE) / sim_wave.PHASE_ONE
            worst = max(worst, abs(buf[3 * f] - peaks[0] * math.sin(theta)),
                        abs(buf[3 * f + 1] - peaks[1] * math.sin(theta + math.pi / 4)))
            k += 1
    if worst / full >= 1e-6:
        raise AssertionError("error %f LSB" % worst)


def test_fill_and_led_pulse_do_not_allocate():
    afe = _afe("mt382")
    afe.configure(i=10, u_noise=3)
    led = sim_leds.Led("active")
    fill, buf, tab, par = sim_wave.fill, afe._buf, afe._tab, afe._par
    micropython.heap_lock()
    try:
        fill(buf, tab, par)
        led.pulse(789000000000000000)
    finally:
        micropython.heap_unlock()
    if led.count != 1 or led.instants() != [789000000000000000]:
        raise AssertionError("pulse not recorded")


def test_board_reads_in_fast_forward_and_clock_follows():
    b = hw.Board("mt382", {"state_dir": None, "realtime": False, "start": 1000})
    b.afe.configure(phase=2, i=5)

    async def go():
        for _ in range(25):
            buf = await b.afe.read()
        return buf
    buf = asyncio.run(go())
    if len(buf) != 7 * 400 or b.clock.now_us() != 1002500000:
        raise AssertionError("clock %d" % b.clock.now_us())
    ideal = b.afe.ideal()
    if ideal[1]["p"] != 1150000000 or ideal[0]["i"] != 0:
        raise AssertionError("ideal %r" % ideal)


def test_realtime_pacing_with_the_wall_clock():
    clock = sim_clock.Clock(4000, 0)
    afe = sim_afe.SimAfe("me382", clock, realtime=True, speed=1000)

    async def go():
        for _ in range(5):
            await afe.read()
    asyncio.run(go())
    if clock.now_us() != (5 + afe.overruns) * 100000:
        raise AssertionError("clock %d, overruns %d" % (clock.now_us(), afe.overruns))
