# ADS131M0x driver against the register-level simulation (host_tests/ads131_sim.py).
# Runs under MicroPython (host_tests/mp/runner.py) and CPython (host_tests/test_ads131_cpython.py).
import sys

for _p in ("host_tests", "boards/pyboard_ads131"):
    if _p not in sys.path:
        sys.path.append(_p)

import asyncio

import ads131m0x as adc
from ads131_sim import ADS131Sim, crc_ccitt

ME382 = (("U1", "I1", "IN"), (0, 1, 2))
MT382 = (("U1", "I1", "U2", "I2", "U3", "I3", "IN"), (0, 1, 2, 3, 4, 5, 6))


def _eq(got, want):
    if got != want:
        raise AssertionError("%r != %r" % (got, want))


def _raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def _chip(nch=4, signal=None, **cfg):
    sim = ADS131Sim(nch, signal)
    dev = adc.ADS131M0x(sim, sim.cs, sim.drdy, nch, ticks_us=sim.ticks_us,
                        ticks_diff=sim.ticks_diff)
    dev.reset()
    dev.configure(**cfg)
    return sim, dev


def _ramp(n, ch):
    return n * 16 + ch


def _read(dev, k):
    """k blocks as lists (a block is only valid until the next read)."""
    async def go():
        out = []
        for _ in range(k):
            out.append(list(await dev.read()))
        return out

    async def bounded():
        return await asyncio.wait_for(go(), 10)

    return asyncio.run(bounded())


def _frames(block, nout):
    return [block[i:i + nout] for i in range(0, len(block), nout)]


def test_crc_vectors():
    _eq(adc.crc16(b"123456789", 9), 0x29B1)  # CRC-16/CCITT-FALSE check value
    # A 24-bit ADS131M04 frame captured from a real chip (TI E2E forum): STATUS 0x8100, four
    # zero channels, CRC 0xB42D.
    frame = bytes([0x81, 0, 0] + [0] * 12)
    _eq(adc.crc16(frame, 15), 0xB42D)
    _eq(adc._crc(frame, 15, adc._TABLE), 0xB42D)
    _eq(crc_ccitt(frame), 0xB42D)


def test_reset_acknowledged_m04_and_m08():
    for nch, ident in ((4, 0x2420), (8, 0x2820)):
        sim, dev = _chip(nch)
        _eq(sim.commands.count(adc.CMD_RESET), 1)
        _eq(dev.check_id(), ident)
        _eq(dev.read_status() & adc.ST_RESET, 0)  # configure() acknowledged the reset flag
        dev.reset()
        _eq(dev.read_status() & adc.ST_RESET, adc.ST_RESET)


def test_reset_from_16_bit_words_with_input_crc():
    sim, dev = _chip(4, word_bits=16, crc_in=True)
    _eq(sim.wbytes(), 2)
    dev.reset()
    _eq(sim.wbytes(), 3)
    _eq(dev.word_bits, 24)
    _eq(sim.regs[adc.REG_MODE], 0x0510)
    _eq(sim.rejected, 0)


def test_wrong_chip_rejected():
    sim = ADS131Sim(8)
    dev = adc.ADS131M0x(sim, sim.cs, sim.drdy, 4)
    _raises(adc.ADS131Error, dev.reset)
    sim, dev = _chip(8)
    sim.regs[adc.REG_ID] = 0x2420
    _raises(adc.ADS131Error, dev.check_id)
    _raises(ValueError, adc.ADS131M0x, sim, sim.cs, sim.drdy, 6)


def test_register_write_read():
    sim, dev = _chip(4)
    dev.write_reg(adc.REG_CFG, 0x0A0B)
    _eq(sim.regs[adc.REG_CFG], 0x0A0B)
    _eq(dev.read_reg(adc.REG_CFG), 0x0A0B)
    dev.write_regs(adc.REG_CH0_CFG, [1, 2, 3, 0x8001, 5])
    _eq(sim.regs[0x09:0x0E], [1, 2, 3, 0x8001, 5])
    _eq(dev.read_regs(adc.REG_CH0_CFG, 5), [1, 2, 3, 0x8001, 5])
    head = dev.read_regs(adc.REG_ID, 4)
    _eq(head[0], 0x2420)
    _eq(head[1], dev.read_status())
    _eq(head[2:], [sim.regs[2], sim.regs[3]])
    dev.write_reg(adc.REG_ID, 0x1234)  # read-only: acknowledged, not changed
    _eq(dev.read_reg(adc.REG_ID), 0x2420)
    _raises(ValueError, dev.read_regs, 64, 1)
    _raises(ValueError, dev.write_regs, 0x09, [])


def test_long_multi_register_read_m08():
    sim, dev = _chip(8)
    vals = [(i * 0x1111) & 0xFFFF for i in range(40)]
    dev.write_regs(0x09, vals)
    _eq(dev.read_regs(0x09, 40), vals)  # response longer than a data frame
    _eq(sim.regs[0x09:0x31], vals)


def test_lock_unlock():
    sim, dev = _chip(4)
    dev.lock()
    _eq(dev.read_status() & adc.ST_LOCK, adc.ST_LOCK)
    _raises(adc.ADS131Error, dev.write_reg, adc.REG_CFG, 0x0001)
    _eq(sim.regs[adc.REG_CFG], 0x0600)
    _eq(dev.read_reg(adc.REG_CFG), 0x0600)  # reads still work
    dev.unlock()
    dev.write_reg(adc.REG_CFG, 0x0001)
    _eq(sim.regs[adc.REG_CFG], 0x0001)


def test_standby_and_wakeup():
    sim, dev = _chip(4, signal=_ramp)
    dev.standby()
    _eq(sim.standby, True)
    dev.start(*ME382, block_frames=2)
    sim.tick(4)
    _eq(sim.n, 0)
    dev.stop()
    dev.wakeup()
    dev.start(*ME382, block_frames=2)
    sim.tick(2)
    _eq(_frames(_read(dev, 1)[0], 3), [[16, 17, 18], [32, 33, 34]])


def test_configure_registers():
    sim, dev = _chip(4, gains=(1, 32, 4, 1), enabled=(0, 1, 2))
    _eq(sim.regs[adc.REG_GAIN1], 0x0250)
    _eq(sim.regs[adc.REG_CLOCK], 0x070E)
    _eq(sim.regs[adc.REG_MODE], 0x0110)
    _eq(sim.fs(), 4000)
    sim, dev = _chip(8, gains=(1, 2, 4, 8, 16, 32, 64, 128))
    _eq(sim.regs[adc.REG_GAIN1], 0x3210)
    _eq(sim.regs[adc.REG_GAIN2], 0x7654)
    _eq(sim.regs[adc.REG_CLOCK], 0xFF0E)
    for fs in (500, 1000, 2000, 4000, 8000, 16000, 32000):
        dev.configure(fs=fs)
        _eq((sim.fs(), dev.fs), (fs, fs))


def test_configure_rejects_impossible_settings():
    sim, dev = _chip(4)
    _raises(ValueError, dev.configure, fs=3000)
    _raises(ValueError, dev.configure, word_bits=20)
    _raises(ValueError, dev.configure, gains=(1, 3, 1, 1))
    _raises(ValueError, dev.configure, gains=(1, 1, 1))
    _raises(ValueError, dev.configure, enabled=(4,))
    dev.configure(fs=64000)  # turbo mode, ADS131M04 only
    _eq(sim.fs(), 64000)
    sim, dev = _chip(8)
    _raises(ValueError, dev.configure, fs=64000)


def test_word_lengths_and_sign_extension():
    codes = (0x7FFFFF, -0x800000, -1, 1, 0, 0x123456, -0x123456, 0x0000FF, -0x000100)
    for bits in (16, 24, 32):
        sim, dev = _chip(4, signal=lambda n, ch: codes[(n - 1) % len(codes)], word_bits=bits)
        _eq(sim.wbytes(), bits // 8)
        _eq(dev.bits, 16 if bits == 16 else 24)
        dev.start(*ME382, block_frames=len(codes))
        sim.tick(len(codes))
        got = [f[0] for f in _frames(_read(dev, 1)[0], 3)]
        want = [c >> 8 for c in codes] if bits == 16 else list(codes)
        _eq(got, want)


def test_32_bit_zero_padded_words():
    # WLENGTH 10b puts the 24 data bits at the top of the word: written by hand here.
    codes = (0x7FFFFF, -0x800000, -2, 0x123456)
    sim, dev = _chip(4, signal=lambda n, ch: codes[(n - 1) % len(codes)])
    dev.write_reg(adc.REG_MODE, 0x0210)
    _eq((sim.wbytes(), dev.word_bits), (4, 32))
    dev.start(*ME382, block_frames=len(codes))
    sim.tick(len(codes))
    _eq([f[0] for f in _frames(_read(dev, 1)[0], 3)], list(codes))


def test_pga_gain_clips_at_full_scale():
    sim, dev = _chip(4, signal=lambda n, ch: 0x100000 if n == 1 else -0x100000,
                     gains=(1, 16, 1, 1))
    dev.start(*ME382, block_frames=2)
    sim.tick(2)
    _eq(_frames(_read(dev, 1)[0], 3),
        [[0x100000, 0x7FFFFF, 0x100000], [-0x100000, -0x800000, -0x100000]])


def test_output_crc_error_counted_and_frame_held():
    sim, dev = _chip(4, signal=_ramp)
    dev.start(*ME382, block_frames=5)
    sim.tick(2)
    sim.corrupt_output()
    sim.tick(3)
    _eq(dev.crc_errors, 1)
    got = _frames(_read(dev, 1)[0], 3)
    _eq(got[2], got[1])  # the corrupt third frame repeats the second: sample count kept
    _eq([f[0] for f in got], [16, 32, 32, 64, 80])


def test_command_crc_error_raises():
    sim, dev = _chip(4)
    sim.corrupt_output(2)
    _raises(adc.CRCError, dev.read_reg, adc.REG_CFG)
    _eq(dev.read_reg(adc.REG_CFG), 0x0600)


def test_input_crc():
    sim, dev = _chip(4, signal=_ramp, crc_in=True)
    _eq(sim.regs[adc.REG_MODE] & 0x1000, 0x1000)
    dev.write_reg(adc.REG_CFG, 0x0003)
    _eq(sim.regs[adc.REG_CFG], 0x0003)
    sim.corrupt_input()
    _raises(adc.CRCError, dev.lock)
    _eq(sim.locked, False)  # a command with a bad CRC is not executed
    dev.lock()
    dev.unlock()
    dev.start(*ME382, block_frames=4)
    sim.tick(8)
    _eq(len(_read(dev, 2)), 2)
    _eq(sim.rejected, 1)
    _eq(dev.status & adc.ST_CRC_ERR, 0)


def _raw_frame(sim, words):
    # One 24-bit frame of six words from 16-bit `words`; returns the response word.
    tx = bytearray(18)
    for i in range(len(words)):
        tx[3 * i] = words[i] >> 8
        tx[3 * i + 1] = words[i] & 0xFF
    rx = bytearray(18)
    sim.cs.value(0)
    sim.write_readinto(tx, rx)
    sim.cs.value(1)
    return (rx[0] << 8) | rx[1]


def test_sim_wreg_with_bad_crc_still_written():
    # Datasheet: a WREG executes even when its input CRC is wrong; CRC_ERR flags it.
    sim, dev = _chip(4, crc_in=True)
    null_crc = crc_ccitt(bytes(3))
    _raw_frame(sim, [0x6300, 0x0123, 0xDEAD])  # WREG CFG (0x06), 1 register, bad CRC
    _eq(sim.regs[adc.REG_CFG], 0x0123)
    _eq(_raw_frame(sim, [0, null_crc]) & adc.ST_CRC_ERR, adc.ST_CRC_ERR)
    _eq(_raw_frame(sim, [0, null_crc]) & adc.ST_CRC_ERR, 0)  # cleared once output
    _raw_frame(sim, [adc.CMD_LOCK, 0xDEAD])  # other commands are dropped
    _raw_frame(sim, [0, null_crc])
    _eq(sim.locked, False)


def test_block_assembly_me382():
    sim, dev = _chip(4, signal=_ramp, enabled=(0, 1, 2))
    dev.start(*ME382, block_frames=5, nblocks=5)
    _eq((dev.channels, dev.block_frames, dev.fs, dev.bits), (ME382[0], 5, 4000, 24))
    sim.tick(15)
    blocks = _read(dev, 3)
    flat = [v for b in blocks for v in b]
    _eq(flat, [n * 16 + ch for n in range(1, 16) for ch in (0, 1, 2)])
    _eq(dev.overruns, 0)
    _eq(sim.commands.count(0) >= 15, True)


def test_block_assembly_mt382_channel_map():
    # Voltages wired to ADC 0..2, currents to 4..6, neutral to 3.
    names = MT382[0]
    cmap = (0, 4, 1, 5, 2, 6, 3)
    sim, dev = _chip(8, signal=_ramp, enabled=range(7))
    dev.start(names, cmap, block_frames=4)
    sim.tick(4)
    got = _frames(_read(dev, 1)[0], 7)
    _eq(got, [[n * 16 + c for c in cmap] for n in range(1, 5)])
    _raises(ValueError, dev.start, names, (0, 4, 1, 5, 2, 6, 7))  # ADC 7 is disabled


def test_start_rejects_bad_layout():
    sim, dev = _chip(4)
    _raises(ValueError, dev.start, ("U1", "I1"), (0,))
    _raises(ValueError, dev.start, ("U1",), (4,))
    _raises(ValueError, dev.start, ("U1",), (0,), 8, 2)


def test_overrun_drops_oldest_blocks():
    sim, dev = _chip(4, signal=_ramp)
    dev.start(*ME382, block_frames=2, nblocks=4)
    sim.tick(10)  # five blocks, nobody reading: two fit in the queue
    _eq(dev.overruns, 3)
    got = _read(dev, 2)
    _eq([b[0] for b in got], [7 * 16, 9 * 16])
    sim, dev = _chip(4, signal=_ramp)
    dev.start(*ME382, block_frames=2, nblocks=3)
    sim.tick(10)
    _eq(dev.overruns, 4)
    _eq(_read(dev, 1)[0][0], 9 * 16)


def test_held_block_never_overwritten():
    sim, dev = _chip(4, signal=_ramp)
    dev.start(*ME382, block_frames=2, nblocks=3)
    sim.tick(2)

    async def go():
        held = await dev.read()
        before = list(held)
        sim.tick(20)  # the ring laps many times while the reader holds `held`
        return before, list(held), list(await dev.read())

    before, after, newest = asyncio.run(go())
    _eq(after, before)
    _eq(newest[0], 21 * 16)
    _eq(dev.overruns, 9)


def test_missed_drdy_counted():
    sim, dev = _chip(4, signal=_ramp)
    dev.start(*ME382, block_frames=4)
    sim.tick(2)
    sim.drop_drdy()
    sim.tick(3)
    _eq(dev.missed, 1)
    _eq([f[0] for f in _frames(_read(dev, 1)[0], 3)], [16, 32, 64, 80])


def test_spurious_edge_is_stale():
    sim, dev = _chip(4, signal=_ramp)
    dev.start(*ME382, block_frames=2)
    sim.tick(1)
    sim.drdy.handler(sim.drdy)  # no conversion since the last read: DRDY bits clear
    sim.tick(1)
    _eq(dev.stale, 1)
    _eq([f[0] for f in _frames(_read(dev, 1)[0], 3)], [16, 32])


def test_chip_reset_while_streaming_detected():
    sim, dev = _chip(4, signal=_ramp)
    dev.start(*ME382, block_frames=2)
    sim.tick(1)
    _eq(dev.chip_reset, False)
    sim.power_on()  # brown-out: the chip is back at its defaults
    sim.tick(1)
    _eq(dev.chip_reset, True)


def test_read_waits_for_producer():
    sim, dev = _chip(4, signal=_ramp)
    dev.start(*ME382, block_frames=3)

    async def produce():
        for _ in range(9):
            await asyncio.sleep(0)
            sim.tick()

    async def go():
        task = asyncio.create_task(produce())
        got = []
        for _ in range(3):
            got.append(list(await dev.read()))
        await task
        return got

    got = asyncio.run(asyncio.wait_for(go(), 10))
    _eq([b[0] for b in got], [16, 64, 112])


def test_stop_disarms_interrupt():
    sim, dev = _chip(4)
    dev.start(*ME382, block_frames=2)
    _eq(sim.drdy.hard, True)
    _eq(sim.drdy.trigger, sim.drdy.IRQ_FALLING)
    _raises(adc.ADS131Error, dev.read_reg, adc.REG_ID)  # the ISR owns the bus
    dev.stop()
    _eq(sim.drdy.handler, None)
    frames = sim.frames
    sim.tick(3)
    _eq(sim.frames, frames)


def test_fast_paths_match_reference():
    # On MicroPython _crc/_unpack/_copy are viper; on CPython they are the reference itself.
    import array
    seed = 12345
    rx = bytearray(40)
    for i in range(40):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        rx[i] = seed >> 16 & 0xFF
    for n in (0, 1, 17, 40):
        _eq(adc._crc(rx, n, adc._TABLE), adc.crc16(rx, n))
    cmap = bytearray((3, 0, 2))
    for step, off, wide in ((2, 0, 0), (3, 0, 1), (4, 1, 1)):
        a = array.array("i", [0, 0, 0])
        b = array.array("i", [0, 0, 0])
        adc._unpack(rx, step, off, cmap, 3, a, wide)
        adc.unpack(rx, step, off, cmap, 3, b, wide)
        _eq(list(a), list(b))
    dst1 = array.array("i", [0] * 8)
    dst2 = array.array("i", [0] * 8)
    src = array.array("i", [-5, 7, -0x800000])
    adc._copy(src, dst1, 4, 3)
    adc.copy_frame(src, dst2, 4, 3)
    _eq(list(dst1), [0, 0, 0, 0, -5, 7, -0x800000, 0])
    _eq(list(dst2), list(dst1))
