"""Board support: STM32F405 (Pyboard v1.1 class) with a TI ADS131M04/M08 front end.

The only module of this board that imports machine/pyb. Wiring in pins.csv and README.md.

- afe: ADS131M04 (ME382: U, I-line, I-neutral) or ADS131M08 (MT382: 3 U, 3 I, I-neutral) on
  SPI1, DRDY interrupt, input and output CRC on, 4000 SPS from an 8.192 MHz CLKIN oscillator.
- clock: the STM32 RTC (LSE crystal, battery-backed), refined to microseconds with ticks_us.
- nv: a 32 KiB I2C FRAM (MB85RC256V class) on I2C1: byte-writable, no erase, no write delay,
  so `sync()` has nothing to do and a power cut can tear at most the byte in flight.
- led_active, led_reactive: pulses timed by output-compare interrupts of the free-running TIM2.
- power: the power-fail comparator output (low = mains lost) on an interrupt pin.
- relay: the latching disconnector relay (relay_latch.LatchingRelay), with its auxiliary contact
  when PINS names a RELAY_AUX pin (closed = high).
- watchdog(timeout_ms): the STM32 independent watchdog (machine.WDT; cannot be stopped once
  started); reset_cause(): whether machine.reset_cause() says the watchdog reset the MCU.

Options (`opts` keys, as on the host board; other keys are ignored):
  fs            frames per second per channel, a rate the OSR table gives  [4000]
  bits          16 or 24 (ADC word length 16 or 24 bits)                   [24]
  block_frames  frames per block                                           [fs // 10]
  ring          blocks in the sample ring (one held by the reader)         [4]
  start         set the RTC: seconds since 2000-01-01 UTC (None: keep it)  [None]
  relay_pulse_ms  coil pulse of the latching relay                         [30]
"""
import time

import asyncio
import machine
import pyb
from micropython import const

import ads131m0x
from relay_latch import LatchingRelay

# Logical pin -> STM32 pin (same table as pins.csv; Pyboard names in README.md).
PINS = {
    "AFE_CS": "A4",
    "AFE_DRDY": "C4",
    "AFE_SYNC_RESET": "C5",
    "RELAY_SET": "C6",
    "RELAY_RESET": "C7",
    "LED_ACTIVE": "B8",
    "LED_REACTIVE": "B9",
    "POWER_FAIL": "B0",
}
_AFE_SPI = const(1)           # SCK A5, MISO A6, MOSI A7
_AFE_SPI_BAUD = const(10500000)
_CLKIN_HZ = const(8192000)    # ADS131M0x CLKIN oscillator (high-resolution mode)
_FRAM_I2C = const(1)          # SCL B6, SDA B7
_FRAM_ADDR = const(0x50)
_FRAM_SIZE = const(32768)

# Analog scaling: the positive full-scale code stands for +1.2 V / PGA gain at the ADC pins.
_FSR_MV = const(1200)
_U_R_TOP = const(660000)      # 2 x 330 kOhm mains-side resistors
_U_R_BOT = const(1000)        # 1 kOhm across the ADC input
_U_GAIN = const(1)            # -> 793.2 V peak full scale (264 V + 20 % swell = 448 V peak)
_SHUNT_UOHM = const(150)      # ME382 line current: 150 uOhm manganin shunt ...
_SHUNT_GAIN = const(32)       # ... at PGA 32: 37.5 mV -> 250 A peak full scale
_CT_RATIO = const(2500)       # neutral (ME382) and all MT382 currents: 2500:1 CTs ...
_CT_BURDEN_MOHM = const(3000)  # ... into a 3 Ohm burden ...
_CT_GAIN = const(4)           # ... at PGA 4: 300 mV -> 250 A peak full scale
U_PEAK_MV = _FSR_MV * (_U_R_TOP + _U_R_BOT) // _U_R_BOT // _U_GAIN
I_PEAK_MA = _FSR_MV * 1000000 // (_SHUNT_UOHM * _SHUNT_GAIN)
if I_PEAK_MA != _FSR_MV * _CT_RATIO * 1000 // (_CT_BURDEN_MOHM * _CT_GAIN):
    raise ValueError("shunt and CT channels must share one current full scale")

# model: (ADC channels, block channel names, ADC channel of each name, PGA gain per ADC channel)
MODELS = {
    "me382": (4, ("U1", "I1", "IN"), (0, 1, 2), (_U_GAIN, _SHUNT_GAIN, _CT_GAIN, 1)),
    "mt382": (8, ("U1", "I1", "U2", "I2", "U3", "I3", "IN"), (0, 1, 2, 3, 4, 5, 6),
              (_U_GAIN, _CT_GAIN, _U_GAIN, _CT_GAIN, _U_GAIN, _CT_GAIN, _CT_GAIN, 1)),
}

# 0 on stm32 (epoch 2000); keeps the maths right on a 1970-epoch build.
_EPOCH_2000 = time.mktime((2000, 1, 1, 0, 0, 0, 0, 0))
_RTC_PREDIV_S = const(255)    # stm32 RTC subseconds count down 255 .. 0 each second
_SUBSEC_US = const(3907)      # one subsecond step, rounded up
_RESYNC_US = const(60000000)  # re-anchor ticks_us on the RTC at least once a minute
_LED_TIMER = const(2)         # 32-bit TIM2 on APB1 (84 MHz timer clock)
_LED_PRESCALER = const(83)    # -> 1 MHz count
_TICK_MASK = const(0x3FFFFFFF)
_LED_WIDTH_US = const(10000)  # pulse length seen by scanning heads
_LED_LATENCY_US = const(250000)  # pulses come from processed blocks: replay them this much later
_LED_MIN_US = const(50)
_LED_MAX_US = const(5000000)
# Reset causes of the board contract (runtime.watchdog): power-on (or any other), watchdog.
_RESET_POWER_ON = const(0)
_RESET_WATCHDOG = const(1)


class RtcClock:
    """Meter clock on machine.RTC: now() s and now_us() us since 2000-01-01 00:00:00 UTC.

    The RTC counts in 1/256 s; between RTC readings ticks_us supplies the microseconds,
    re-anchored on the RTC when they disagree by more than one RTC step or every minute.
    """

    def __init__(self, rtc):
        self._rtc = rtc
        self._base = None
        self._t0 = 0
        self._last = 0

    def _read(self):
        y, mo, d, _wd, h, mi, s, sub = self._rtc.datetime()
        sec = time.mktime((y, mo, d, h, mi, s, 0, 0)) - _EPOCH_2000
        return sec, (_RTC_PREDIV_S - sub) * 1000000 // (_RTC_PREDIV_S + 1)

    def now(self):
        """Whole seconds since 2000-01-01 00:00:00 UTC."""
        return self._read()[0]

    def now_us(self):
        """Microseconds since 2000-01-01 00:00:00 UTC, never decreasing."""
        sec, sub = self._read()
        t = time.ticks_us()
        rtc_us = sec * 1000000 + sub
        if self._base is not None:
            dt = time.ticks_diff(t, self._t0)
            est = self._base + dt
            if dt < _RESYNC_US and -_SUBSEC_US < est - rtc_us < 2 * _SUBSEC_US:
                rtc_us = est
            else:
                self._base, self._t0 = rtc_us, t
        else:
            self._base, self._t0 = rtc_us, t
        if rtc_us < self._last:
            rtc_us = self._last
        self._last = rtc_us
        return rtc_us

    def set(self, seconds, us=0):
        """Set the RTC to `seconds` since 2000-01-01 UTC (the RTC restarts the second at 0)."""
        if not isinstance(seconds, int) or seconds < 0:
            raise ValueError("clock set needs seconds >= 0, got %r" % (seconds,))
        tm = time.gmtime(seconds + _EPOCH_2000)  # (y, mo, d, h, mi, s, weekday 0..6, ...)
        self._rtc.datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))
        self._base = None
        self._last = 0


class FramNV:
    """NV memory on an I2C FRAM with 16-bit addressing: size, readinto, write, sync."""

    def __init__(self, i2c, addr=_FRAM_ADDR, size=_FRAM_SIZE):
        self._i2c = i2c
        self._addr = addr
        self.size = size

    def _check(self, offset, n):
        if offset < 0 or offset + n > self.size:
            raise ValueError("NV range %d+%d outside 0..%d" % (offset, n, self.size))

    def readinto(self, offset, buf):
        """Fill `buf` from `offset`."""
        self._check(offset, len(buf))
        self._i2c.readfrom_mem_into(self._addr, offset, buf, addrsize=16)

    def write(self, offset, buf):
        """Write `buf` at `offset`; FRAM stores each byte as it arrives."""
        self._check(offset, len(buf))
        self._i2c.writeto_mem(self._addr, offset, buf, addrsize=16)

    def sync(self):
        """Nothing is buffered."""


class PulseLed:
    """Metrology LED: pulse(t_us) lights it at meter time t_us + latency for a fixed width.

    The measurement layer reports pulse instants from blocks already processed, so the LED
    replays them a constant latency later: intervals between pulses stay exact. A compare
    channel of the shared free-running 1 MHz timer switches the pin in its interrupt.
    A pulse asked for while the previous one is still pending or lit is counted, not shown.
    """

    def __init__(self, pin, timer, channel, clock, width_us=_LED_WIDTH_US,
                 latency_us=_LED_LATENCY_US):
        self._pin = pin
        self._tim = timer
        self._clock = clock
        self._width = width_us
        self._latency = latency_us
        self._phase = 0  # 0 idle, 1 waiting to light, 2 lit
        self.count = 0
        pin.value(0)
        self._ch = timer.channel(channel, pyb.Timer.OC_TIMING, compare=0, callback=self._edge)

    def skip(self, n):
        """Account for `n` pulses too close together to flash."""
        self.count += n

    def pulse(self, t_us):
        """Account for one pulse at meter time `t_us` and schedule the LED."""
        self.count += 1
        if self._phase:
            return
        delay = t_us + self._latency - self._clock.now_us()
        if not _LED_MIN_US <= delay <= _LED_MAX_US:
            delay = _LED_MIN_US
        self._phase = 1
        self._ch.compare((self._tim.counter() + delay) & _TICK_MASK)

    def _edge(self, _tim):
        # Timer interrupt: no allocation.
        if self._phase == 1:
            self._pin.value(1)
            self._phase = 2
            self._ch.compare((self._ch.compare() + self._width) & _TICK_MASK)
        elif self._phase == 2:
            self._pin.value(0)
            self._phase = 0


class PowerMonitor:
    """Power-fail input (low = mains lost): ok() and an asyncio.Event `fail` that follows it.

    The pin interrupt only sets a ThreadSafeFlag (safe from an ISR, wakes the scheduler);
    a small task moves the level into the Event.
    """

    def __init__(self, pin):
        self._pin = pin
        self.fail = asyncio.Event()
        self._flag = asyncio.ThreadSafeFlag()
        if not self.ok():
            self.fail.set()
        pin.irq(handler=self._edge, trigger=machine.Pin.IRQ_FALLING | machine.Pin.IRQ_RISING,
                hard=True)
        asyncio.create_task(self._follow())

    def ok(self):
        """True while the mains supply is present."""
        return self._pin.value() == 1

    def _edge(self, _pin):
        self._flag.set()

    async def _follow(self):
        while True:
            await self._flag.wait()
            if self.ok():
                self.fail.clear()
            else:
                self.fail.set()


def _make_afe(model, opts):
    nch, names, chan_map, gains = MODELS[model]
    fs = opts.get("fs") or 4000
    pin = machine.Pin
    rst = pin(PINS["AFE_SYNC_RESET"], pin.OUT, value=1)
    cs = pin(PINS["AFE_CS"], pin.OUT, value=1)
    drdy = pin(PINS["AFE_DRDY"], pin.IN, pin.PULL_UP)
    spi = machine.SPI(_AFE_SPI, baudrate=_AFE_SPI_BAUD, polarity=0, phase=1, bits=8,
                      firstbit=machine.SPI.MSB)
    # SYNC/RESET low for more than 2048 CLKIN periods resets the chip whatever its word length.
    rst.value(0)
    time.sleep_ms(1)
    rst.value(1)
    time.sleep_ms(1)
    afe = ads131m0x.ADS131M0x(spi, cs, drdy, nch, fclkin=_CLKIN_HZ, irq_off=machine.disable_irq,
                              irq_on=machine.enable_irq, ticks_us=time.ticks_us,
                              ticks_diff=time.ticks_diff)
    afe.reset()
    afe.check_id()
    afe.configure(fs=fs, word_bits=opts.get("bits") or 24, gains=gains, enabled=chan_map,
                  crc_in=True)
    afe.u_peak_mv = U_PEAK_MV
    afe.i_peak_ma = I_PEAK_MA
    afe.start(names, chan_map, block_frames=opts.get("block_frames") or fs // 10,
              nblocks=opts.get("ring") or 4)
    return afe


class Board:
    """Everything the firmware touches on this board (see docs/architecture.md)."""

    def __init__(self, model, opts):
        if model not in MODELS:
            raise ValueError("unknown model %r: choose one of %s" % (model, ", ".join(MODELS)))
        self.model = model
        pin = machine.Pin
        self.clock = RtcClock(machine.RTC())
        if opts.get("start") is not None:
            self.clock.set(opts["start"])
        self.nv = FramNV(machine.I2C(_FRAM_I2C, freq=400000))
        tim = pyb.Timer(_LED_TIMER, prescaler=_LED_PRESCALER, period=_TICK_MASK)
        self.led_active = PulseLed(pin(PINS["LED_ACTIVE"], pin.OUT, value=0), tim, 1, self.clock)
        self.led_reactive = PulseLed(pin(PINS["LED_REACTIVE"], pin.OUT, value=0), tim, 2,
                                     self.clock)
        self.power = PowerMonitor(pin(PINS["POWER_FAIL"], pin.IN, pin.PULL_UP))
        aux = PINS.get("RELAY_AUX")
        if aux is not None:
            aux = pin(aux, pin.IN, pin.PULL_DOWN)
        self.relay = LatchingRelay(pin(PINS["RELAY_SET"], pin.OUT, value=0),
                                   pin(PINS["RELAY_RESET"], pin.OUT, value=0),
                                   pulse_ms=opts.get("relay_pulse_ms", 30), aux_pin=aux)
        self.afe = _make_afe(model, opts)

    def watchdog(self, timeout_ms):
        """Start the independent watchdog with `timeout_ms`; None where the port has no
        machine.WDT."""
        wdt = getattr(machine, "WDT", None)
        return wdt(timeout=timeout_ms) if wdt is not None else None

    def reset_cause(self):
        """_RESET_WATCHDOG if the watchdog reset the MCU, else _RESET_POWER_ON (also where the
        port cannot tell)."""
        cause = getattr(machine, "reset_cause", None)
        wdt_reset = getattr(machine, "WDT_RESET", None)
        if cause is not None and wdt_reset is not None and cause() == wdt_reset:
            return _RESET_WATCHDOG
        return _RESET_POWER_ON

    def close(self):
        """Stop the sampling interrupt."""
        self.afe.stop()
