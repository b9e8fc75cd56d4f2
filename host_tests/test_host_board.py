"""Host board assembly (hw.py), meter clock, LEDs and supply supervision under CPython."""
import asyncio
import importlib.util
import os
import tempfile
import time

import pytest

import mpy
import sim_clock
import sim_leds
import sim_nv
import sim_power


def _host_hw():
    # By path: another board's hw.py may sit earlier on sys.path (or in sys.modules) in a full run.
    spec = importlib.util.spec_from_file_location("host_hw", os.path.join(mpy.HOST_BOARD, "hw.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


hw = _host_hw()


def test_board_builds_every_contract_attribute():
    with tempfile.TemporaryDirectory() as d:
        b = hw.Board("mt382", {"state_dir": d + "/state", "start": 86400, "realtime": False})
        try:
            assert b.afe.channels[-1] == "IN" and len(b.afe.channels) == 7
            assert b.clock.now() == 86400
            assert isinstance(b.nv, sim_nv.NvFile) and b.nv.size == 262144
            assert os.path.getsize(d + "/state/nv.bin") == 262144
            assert b.led_active.count == 0 and b.led_reactive.count == 0
            assert b.power.ok() and not b.power.fail.is_set()
            asyncio.run(b.afe.read())
            assert b.clock.now_us() == 86400 * 1000000 + 100000
        finally:
            b.close()


def test_board_options_are_checked():
    b = hw.Board("me382", {"state_dir": None, "bits": 16, "fs": 8000, "block_frames": 160})
    assert isinstance(b.nv, sim_nv.NvMem) and b.afe.bits == 16 and b.afe.fs == 8000
    assert b.afe.realtime  # the default paces by the wall clock
    with pytest.raises(ValueError, match="blockframes"):
        hw.Board("me382", {"state_dir": None, "blockframes": 100})
    with pytest.raises(ValueError, match="model"):
        hw.Board("mt383", {"state_dir": None})


def test_clock_follows_frames_exactly():
    c = sim_clock.Clock(4096, 1000)
    for _ in range(3 * 4096 // 512):
        c.count(512)
    assert c.now_us() == 1003000000
    c.count(1)
    assert c.now_us() == 1003000000 + 244  # 1e6 / 4096 = 244.14 us, floored
    c.count(4095)
    assert c.now() == 1004 and c.now_us() == 1004000000


def test_clock_set_and_advance():
    c = sim_clock.Clock(4000, 0)
    c.count(2000)
    c.set(500, 250000)
    assert c.now_us() == 500250000
    c.count(4000)
    c.advance(3600 * 1000000)
    assert c.now() == 500 + 1 + 3600
    for bad in ((-1,), (1.5,), (1, 1000000)):
        with pytest.raises(ValueError):
            c.set(*bad)
    with pytest.raises(ValueError):
        c.advance(-1)


def test_clock_default_start_is_the_wall_clock_on_the_2000_epoch():
    before = int(time.time()) - 946684800
    c = sim_clock.Clock(4000)
    assert before <= c.now() <= before + 60
    assert sim_clock.UNIX_TO_2000 == 946684800


def test_led_counts_pulses_and_keeps_the_last_instants():
    led = sim_leds.Led("active", depth=4)
    assert led.instants() == [] and not led.value()
    for t in (10, 20, 30):
        led.pulse(t)
    assert led.count == 3 and led.instants() == [10, 20, 30]
    for t in (40, 50, 60 * 10 ** 15):
        led.pulse(t)
    assert led.count == 6 and led.instants() == [30, 40, 50, 60 * 10 ** 15]
    assert led.value(True) and led.value()
    assert not led.value(False)


def test_power_fail_event():
    p = sim_power.Power()

    async def go():
        waiter = asyncio.create_task(p.fail.wait())
        await asyncio.sleep(0)
        assert not waiter.done()
        p.cut()
        await waiter
        assert not p.ok()
        p.restore()
        assert p.ok() and not p.fail.is_set()
    asyncio.run(go())
