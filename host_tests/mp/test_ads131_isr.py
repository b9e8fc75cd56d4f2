# MicroPython only: the ADS131M0x data-ready ISR allocates nothing (heap locked), on every path:
# a good frame, a CRC error, a stale frame, block completion and ring overrun.
import sys

for _p in ("host_tests", "boards/pyboard_ads131"):
    if _p not in sys.path:
        sys.path.append(_p)

import micropython

import ads131m0x as adc
from ads131_sim import ADS131Sim


class _Replay:
    """SPI that returns a fixed frame without allocating."""

    def __init__(self, frame):
        self.frame = frame

    def write_readinto(self, tx, rx):
        f = self.frame
        for i in range(len(rx)):
            rx[i] = f[i]


class _Pin:
    def value(self, v=None):
        return 0


def _eq(got, want):
    if got != want:
        raise AssertionError("%r != %r" % (got, want))


def _captured_frame(sim, dev):
    # A real 24-bit data frame with fresh data, clocked without running the ISR.
    sim.drdy.irq(None)
    sim.tick()
    size = (dev.nch + 2) * 3
    rx = bytearray(size)
    sim.cs.value(0)
    sim.write_readinto(bytearray(size), rx)
    sim.cs.value(1)
    return rx


def _setup(nch, names, cmap):
    sim = ADS131Sim(nch, lambda n, ch: -n * 1000 - ch)
    dev = adc.ADS131M0x(sim, sim.cs, sim.drdy, nch, ticks_us=sim.ticks_us,
                        ticks_diff=sim.ticks_diff)
    dev.reset()
    dev.configure(crc_in=True)
    dev.start(names, cmap, block_frames=4, nblocks=3)
    good = _captured_frame(sim, dev)
    bad = bytearray(good)
    bad[4] ^= 1
    stale = bytearray(good)
    stale[1] = 0  # DRDY bits clear
    crc = adc.crc16(stale, len(stale) - 3)
    stale[-3] = crc >> 8
    stale[-2] = crc & 0xFF
    dev._cs = _Pin()
    return sim, dev, good, bad, stale


def test_isr_does_not_allocate():
    for nch, names, cmap in ((4, ("U1", "I1", "IN"), (0, 1, 2)),
                             (8, ("U1", "I1", "U2", "I2", "U3", "I3", "IN"), tuple(range(7)))):
        sim, dev, good, bad, stale = _setup(nch, names, cmap)
        spi_good, spi_bad, spi_stale = _Replay(good), _Replay(bad), _Replay(stale)
        isr = dev._isr_ref
        micropython.heap_lock()
        try:
            for i in range(40):
                dev._spi = spi_bad if i % 10 == 3 else (spi_stale if i % 10 == 7 else spi_good)
                sim.t_us += 250
                isr(None)
        finally:
            micropython.heap_unlock()
        _eq((dev.crc_errors, dev.stale), (4, 4))
        _eq(dev.overruns, 36 // 4 - 1)
        _eq(dev._last[0], -1000)


def test_isr_cost_figure():
    # Not a timed assertion: prints the unix-port cost per frame for the record.
    import time
    sim, dev, good, bad, stale = _setup(8, ("U1", "I1", "U2", "I2", "U3", "I3", "IN"),
                                        tuple(range(7)))
    dev._spi = _Replay(good)
    dev._ticks = None
    isr = dev._isr_ref
    t = time.ticks_us()
    for _ in range(4000):
        isr(None)
    print("ads131 ISR (M08, 7 ch, 24-bit, unix port): %d ns/frame"
          % (time.ticks_diff(time.ticks_us(), t) // 4))
    _eq(dev.crc_errors, 0)
