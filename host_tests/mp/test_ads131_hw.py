# MicroPython only: boards/pyboard_ads131/hw.py builds its Board on fake `machine`/`pyb`
# modules whose SPI bus and pins are the ADS131M0x simulation (no hardware needed).
import sys

if "host_tests" not in sys.path:
    sys.path.append("host_tests")
sys.path.insert(0, "boards/pyboard_ads131")  # ahead of boards/host, which has a hw.py too

import asyncio
import time

from ads131_sim import ADS131Sim, Pin


def _eq(got, want):
    if got != want:
        raise AssertionError("%r != %r" % (got, want))


class _ResetPin(Pin):
    def __init__(self, sim):
        Pin.__init__(self, 1)
        self._sim = sim

    def value(self, v=None):
        if v is not None and v and not self._v:
            self._sim.power_on()  # SYNC/RESET released after a long low pulse
        return Pin.value(self, v)


class _Fram:
    def __init__(self, size):
        self.mem = bytearray(size)

    def readfrom_mem_into(self, addr, mem, buf, addrsize=8):
        _eq((addr, addrsize), (0x50, 16))
        for i in range(len(buf)):
            buf[i] = self.mem[mem + i]

    def writeto_mem(self, addr, mem, buf, addrsize=8):
        _eq((addr, addrsize), (0x50, 16))
        self.mem[mem:mem + len(buf)] = buf


class _Rtc:
    def __init__(self):
        self.dt = (2024, 3, 31, 7, 0, 59, 59, 255)

    def datetime(self, dt=None):
        if dt is None:
            return self.dt
        self.dt = dt


class _Channel:
    def __init__(self, callback):
        self.callback = callback
        self.value = 0

    def compare(self, v=None):
        if v is None:
            return self.value
        self.value = v


class _Timer:
    OC_TIMING = 0

    def __init__(self, n, prescaler=0, period=0):
        self.n = n
        self.args = (prescaler, period)
        self.channels = {}
        self.count = 1000

    def counter(self):
        return self.count

    def channel(self, n, mode, compare=0, callback=None):
        self.channels[n] = _Channel(callback)
        return self.channels[n]


class _Machine:
    """The parts of `machine` hw.py uses; pins by CPU name."""

    def __init__(self, sim):
        self.sim = sim
        self.pins = {"A4": sim.cs, "C4": sim.drdy, "C5": _ResetPin(sim)}
        self.fram = _Fram(32768)
        self.rtc = _Rtc()
        self.spi_args = None
        self.irq_depth = 0
        m = self

        class _PinCls:
            OUT, IN, PULL_UP, IRQ_RISING, IRQ_FALLING = 1, 0, 1, 1, 2

            def __new__(cls, name, mode=0, pull=None, value=None):
                p = m.pins.setdefault(name, Pin(1))
                if value is not None:
                    p.value(value)
                return p

        class _Spi:
            MSB = 0

            def __new__(cls, n, **kw):
                m.spi_args = (n, kw)
                return sim

        self.Pin = _PinCls
        self.SPI = _Spi
        self.I2C = lambda n, freq=0: self.fram
        self.RTC = lambda: self.rtc

    def disable_irq(self):
        self.irq_depth += 1
        return self.irq_depth

    def enable_irq(self, state):
        self.irq_depth -= 1


class _Pyb:
    Timer = _Timer


def _board(model, nch, opts):
    sim = ADS131Sim(nch, lambda n, ch: n * 16 + ch)
    fake = _Machine(sim)
    sys.modules["machine"] = fake
    sys.modules["pyb"] = _Pyb()
    sys.modules.pop("hw", None)
    import hw
    box = []

    async def build():
        box.append(hw.Board(model, opts))

    asyncio.run(build())
    return hw, sim, fake, box[0]


def _utc_host():
    return time.mktime(time.gmtime(0)) == 0


def test_board_me382():
    hw, sim, fake, b = _board("me382", 4, {"fs": 4000, "bits": 24, "block_frames": 8})
    _eq(fake.spi_args, (1, {"baudrate": 10500000, "polarity": 0, "phase": 1, "bits": 8,
                            "firstbit": 0}))
    afe = b.afe
    _eq((afe.channels, afe.fs, afe.bits, afe.block_frames), (("U1", "I1", "IN"), 4000, 24, 8))
    _eq((afe.u_peak_mv, afe.i_peak_ma), (793200, 250000))
    _eq(sim.regs[0x04], 0x0250)  # PGA: U 1, shunt 32, neutral CT 4
    _eq(sim.regs[0x02] & 0x1000, 0x1000)  # input CRC on
    sim.tick(8)

    async def read():
        return list(await afe.read())

    got = asyncio.run(read())
    _eq(got[:6], [16 * 1, 17 * 32, 18 * 4, 32, 33 * 32, 34 * 4])
    _eq(fake.irq_depth, 0)
    b.close()
    _eq(sim.drdy.handler, None)


def test_board_mt382():
    hw, sim, fake, b = _board("mt382", 8, {"fs": 8000, "bits": 16})
    _eq((len(b.afe.channels), b.afe.fs, b.afe.bits, b.afe.block_frames), (7, 8000, 16, 800))
    _eq((sim.regs[0x04], sim.regs[0x05]), (0x2020, 0x0220))
    _eq(sim.regs[0x03], 0x7F0A)  # ADC 0..6 on, OSR 512, high resolution
    b.close()


def test_nv_fram():
    hw, sim, fake, b = _board("me382", 4, {})
    nv = b.nv
    _eq(nv.size, 32768)
    nv.write(100, b"meter")
    buf = bytearray(5)
    nv.readinto(100, buf)
    _eq(bytes(buf), b"meter")
    nv.sync()
    for off, n in ((-1, 1), (32767, 2)):
        try:
            nv.write(off, bytes(n))
        except ValueError:
            continue
        raise AssertionError("NV range %d+%d accepted" % (off, n))
    b.close()


def test_clock_from_rtc():
    hw, sim, fake, b = _board("me382", 4, {"start": 959817600 + 12 * 3600})
    clock = b.clock
    _eq(fake.rtc.dt, (2030, 6, 1, 6, 12, 0, 0, 0))  # Saturday; subseconds restart
    if _utc_host():  # on the unix port mktime uses the local zone
        _eq(clock.now(), 959817600 + 12 * 3600)  # 2030-06-01 12:00 UTC (CPython datetime)
    fake.rtc.dt = (2030, 6, 1, 6, 12, 0, 1, 127)
    t1 = clock.now_us()
    fake.rtc.dt = (2030, 6, 1, 6, 12, 0, 1, 255)  # an earlier subsecond reading
    t2 = clock.now_us()
    _eq(t2 >= t1, True)
    _eq(t1 % 1000000 >= 500000, True)
    b.close()


def test_leds_power_relay():
    hw, sim, fake, b = _board("me382", 4, {"relay_pulse_ms": 1})
    led = b.led_active
    tim = led._tim
    _eq(tim.args, (83, 0x3FFFFFFF))
    ch = tim.channels[1]
    pin = fake.pins["B8"]
    led.pulse(b.clock.now_us())
    _eq(led.count, 1)
    due = ch.value
    _eq(0 < (due - 1000) & 0x3FFFFFFF <= 5000000, True)
    led.pulse(b.clock.now_us())  # while pending: counted only
    _eq((led.count, ch.value), (2, due))
    ch.callback(tim)
    _eq(pin.value(), 1)
    _eq(ch.value, (due + 10000) & 0x3FFFFFFF)
    ch.callback(tim)
    _eq(pin.value(), 0)
    _eq(b.led_reactive.count, 0)

    power = b.power
    pf = fake.pins["B0"]

    async def cut():
        _eq((power.ok(), power.fail.is_set()), (True, False))
        pf.drive(0)
        await asyncio.wait_for(power.fail.wait(), 5)
        _eq(power.ok(), False)
        pf.drive(1)
        for _ in range(5):
            await asyncio.sleep(0)
        _eq(power.fail.is_set(), False)
        await b.relay.close()
        _eq((fake.pins["C6"].history[-2:], b.relay.closed), ([1, 0], True))

    asyncio.run(cut())
    b.close()


def test_watchdog_and_reset_cause():
    # The fake machine has neither WDT nor reset_cause: no watchdog, a normal power-on.
    hw, sim, fake, b = _board("me382", 4, {})
    _eq((b.watchdog(8000), b.reset_cause()), (None, 0))
    started = []

    class _Wdt:
        def __init__(self, timeout=0):
            started.append(timeout)

        def feed(self):
            pass

    fake.WDT = _Wdt
    fake.WDT_RESET = 3
    fake.reset_cause = lambda: 1     # PWRON_RESET on stm32
    _eq(isinstance(b.watchdog(2000), _Wdt) and started, [2000])
    _eq(b.reset_cause(), 0)
    fake.reset_cause = lambda: 3
    _eq(b.reset_cause(), 1)
    b.close()
