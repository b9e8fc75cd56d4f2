"""TI ADS131M04 / ADS131M08 simultaneous-sampling delta-sigma ADC: SPI driver and sample ring.

The driver receives its bus and pins (no `machine` import): `spi` with `write_readinto`, `cs` and
`drdy` with `value()`, and `drdy.irq(handler=, trigger=, hard=)` for the data-ready interrupt.

SPI mode 1. Every frame is (1 + channels + 1) words: the response word (STATUS after NULL, or
the answer to the command of the previous frame), one word per ADC channel and a CRC word.
Words are 16, 24 or 32 bits; commands, responses, registers and CRCs are 16 bits, MSB-aligned
and zero-padded. The output CRC (CRC-16-CCITT, poly 0x1021, seed 0xFFFF) covers every word
before it, padding included. Register writes, MODE (word length, input CRC) among them, take
effect from the next frame.

Streaming: the DRDY falling edge runs `_isr`, which clocks one frame into a preallocated buffer,
checks the CRC and status word and decodes the channels into the next slot of a ring of
preallocated `array('i')` blocks; a full block sets a ThreadSafeFlag and `read()` returns the
oldest. The ISR allocates nothing (heap_lock test); its per-sample loops are viper on MicroPython.
"""
import array
import sys

import asyncio

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# Commands and their acknowledgements (response word in the following frame).
CMD_NULL = const(0x0000)
CMD_RESET = const(0x0011)
CMD_STANDBY = const(0x0022)
CMD_WAKEUP = const(0x0033)
CMD_LOCK = const(0x0555)
CMD_UNLOCK = const(0x0655)
_CMD_RREG = const(0xA000)     # 101a aaaa annn nnnn: read n+1 registers from a
_CMD_WREG = const(0x6000)     # 011a aaaa annn nnnn: write n+1 registers from a
_ACK_RREG_N = const(0xE000)   # 111a aaaa annn nnnn: header of a multi-register read
_ACK_WREG = const(0x4000)     # 010a aaaa ammm mmmm: m+1 registers written
_ACK_RESET = const(0xFF20)    # | channel count

# Register map (addresses).
REG_ID = const(0x00)
REG_STATUS = const(0x01)
REG_MODE = const(0x02)
REG_CLOCK = const(0x03)
REG_GAIN1 = const(0x04)
REG_GAIN2 = const(0x05)       # ADS131M08 only (channels 4..7)
REG_CFG = const(0x06)
REG_CH0_CFG = const(0x09)     # CHn_CFG = 0x09 + 5 n, then OCAL_MSB, OCAL_LSB, GCAL_MSB, GCAL_LSB

# STATUS bits.
ST_LOCK = const(0x8000)
ST_F_RESYNC = const(0x4000)
ST_REG_MAP = const(0x2000)
ST_CRC_ERR = const(0x1000)
ST_CRC_TYPE = const(0x0800)
ST_RESET = const(0x0400)
ST_DRDY = const(0x00FF)

# MODE bits.
_MODE_RX_CRC_EN = const(0x1000)
_MODE_TIMEOUT = const(0x0010)
_WLEN = {16: 0, 24: 1, 32: 3}  # 32-bit words: ADC data sign-extended in the MSB (WLENGTH 11b)

# CLOCK fields.
_CLOCK_TBM = const(0x0020)    # ADS131M04 turbo: OSR 64
_CLOCK_PWR_HR = const(0x0002)
_OSR = (128, 256, 512, 1024, 2048, 4096, 8192, 16256)

_GAINS = (1, 2, 4, 8, 16, 32, 64, 128)
_CNT = const(0x3FFFFFFF)      # counters wrap below 2**30 so the ISR never makes a big int


class ADS131Error(Exception):
    """The chip answered something the datasheet does not allow here."""


class CRCError(ADS131Error):
    """Output CRC mismatch on a command frame, or the chip rejected our input CRC."""


def _crc_table():
    t = array.array("H", bytes(512))
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        t[i] = c & 0xFFFF
    return t


_TABLE = _crc_table()


def crc16(buf, n, table=_TABLE):
    """CRC-16-CCITT (poly 0x1021, seed 0xFFFF, no reflection) of buf[0:n]."""
    crc = 0xFFFF
    for i in range(n):
        crc = ((crc << 8) ^ table[((crc >> 8) ^ buf[i]) & 0xFF]) & 0xFFFF
    return crc


def unpack(rx, step, off, cmap, nout, dst, wide):
    """Decode channel words of frame `rx` into dst[0:nout] (signed).

    Channel j is ADC channel cmap[j], word 1 + cmap[j]; its data starts `off` bytes into the word
    (1 for 32-bit sign-extended words). `wide`: 24-bit data, else 16-bit.
    """
    for j in range(nout):
        p = (1 + cmap[j]) * step + off
        if wide:
            v = (rx[p] << 16) | (rx[p + 1] << 8) | rx[p + 2]
            if v & 0x800000:
                v -= 0x1000000
        else:
            v = (rx[p] << 8) | rx[p + 1]
            if v & 0x8000:
                v -= 0x10000
        dst[j] = v


def copy_frame(src, dst, pos, n):
    """dst[pos:pos + n] = src[0:n] for int arrays, without allocating."""
    for j in range(n):
        dst[pos + j] = src[j]


if sys.implementation.name == "micropython":
    import micropython

    @micropython.viper
    def _crc16_v(buf: ptr8, n: int, table: ptr16) -> int:
        crc = 0xFFFF
        for i in range(n):
            crc = ((crc << 8) ^ table[((crc >> 8) ^ buf[i]) & 0xFF]) & 0xFFFF
        return crc

    @micropython.viper
    def _unpack_v(rx: ptr8, step: int, off: int, cmap: ptr8, nout: int, dst: ptr32, wide: int):
        for j in range(nout):
            p = (1 + cmap[j]) * step + off
            if wide:
                v = (rx[p] << 16) | (rx[p + 1] << 8) | rx[p + 2]
                if v & 0x800000:
                    v -= 0x1000000
            else:
                v = (rx[p] << 8) | rx[p + 1]
                if v & 0x8000:
                    v -= 0x10000
            dst[j] = v

    @micropython.viper
    def _copy_v(src: ptr32, dst: ptr32, pos: int, n: int):
        for j in range(n):
            dst[pos + j] = src[j]

    _crc, _unpack, _copy = _crc16_v, _unpack_v, _copy_v
else:
    _crc, _unpack, _copy = crc16, unpack, copy_frame

try:
    _Flag = asyncio.ThreadSafeFlag
except AttributeError:
    class _Flag:
        """CPython stand-in for ThreadSafeFlag: the host simulation runs the ISR in-thread."""

        def __init__(self):
            self._set = False

        def set(self):
            self._set = True

        def clear(self):
            self._set = False

        async def wait(self):
            while not self._set:
                await asyncio.sleep(0)
            self._set = False


def _irq_off():
    return 0


def _irq_on(_state):
    pass


def osr_for(fs, fclkin, turbo):
    """Return (OSR code, TBM bit) giving `fs` samples/s from CLKIN `fclkin` Hz (HR mode)."""
    fmod = fclkin // 2
    for code in range(len(_OSR)):
        if _OSR[code] * fs == fmod:
            return code, 0
    if turbo and 64 * fs == fmod:
        return 0, 1
    raise ValueError("no OSR gives %d SPS from a %d Hz CLKIN" % (fs, fclkin))


class ADS131M0x:
    """One ADS131M04 (`nch`=4) or ADS131M08 (`nch`=8) on `spi`, chip select `cs`, data ready `drdy`.

    Register access (`read_reg`, `write_reg`, `reset`, `configure` ...) is for set-up with the
    stream stopped. `start()` arms the DRDY interrupt; `async read()` then returns blocks.
    Front-end contract attributes: fs, bits, block_frames, channels, u_peak_mv, i_peak_ma (the
    last two are set by the board, which knows the dividers), overruns.
    Diagnostics: crc_errors, missed, stale, chip_reset, status.

    `irq_off`/`irq_on` (machine.disable_irq/enable_irq on a board) guard the ring hand-over
    between `read()` and the ISR. `ticks_us`/`ticks_diff` (time module) let the ISR count
    missed data-ready edges from the spacing of interrupts.
    """

    def __init__(self, spi, cs, drdy, nch=4, fclkin=8192000, irq_off=None, irq_on=None,
                 ticks_us=None, ticks_diff=None):
        if nch not in (4, 8):
            raise ValueError("nch must be 4 (ADS131M04) or 8 (ADS131M08), got %r" % (nch,))
        self._spi = spi
        self._cs = cs
        self._drdy = drdy
        self.nch = nch
        self.fclkin = fclkin
        self._irq_off = irq_off or _irq_off
        self._irq_on = irq_on or _irq_on
        self._ticks = ticks_us
        self._tdiff = ticks_diff
        self._set_format(1, False)
        self.fs = fclkin // 2 // 1024  # the chip's reset OSR
        self.bits = 24
        self.block_frames = 0
        self.channels = ()
        self.u_peak_mv = 0
        self.i_peak_ma = 0
        self.overruns = 0
        self.crc_errors = 0
        self.missed = 0
        self.stale = 0
        self.chip_reset = False
        self.status = 0
        self._drdy_mask = (1 << nch) - 1
        self._running = False
        cs.value(1)

    # ---- frames -----------------------------------------------------------------------------

    def _set_format(self, wlength, crc_in):
        # MODE.WLENGTH: 0 16-bit, 1 24-bit, 2 32-bit zero-padded, 3 32-bit sign-extended data.
        self.word_bits = (16, 24, 32, 32)[wlength]
        self._wb = self.word_bits // 8
        self._off = 1 if wlength == 3 else 0
        self._crc_in = crc_in

    def _frame(self, words, nwords):
        """Clock one frame: `words` (command, data) in, `nwords` words long; return the rx bytes."""
        if self._running:
            raise ADS131Error("register access while streaming: stop() first")
        wb = self._wb
        n = len(words)
        if self._crc_in:
            n += 1
        nbytes = max(n, nwords) * wb
        tx = bytearray(nbytes)
        for i in range(len(words)):
            tx[i * wb] = words[i] >> 8
            tx[i * wb + 1] = words[i] & 0xFF
        if self._crc_in:
            p = len(words) * wb
            c = crc16(tx, p)
            tx[p] = c >> 8
            tx[p + 1] = c & 0xFF
        rx = bytearray(nbytes)
        self._cs.value(0)
        self._spi.write_readinto(tx, rx)
        self._cs.value(1)
        return rx

    def _word(self, rx, i):
        p = i * self._wb
        return (rx[p] << 8) | rx[p + 1]

    def _check_crc(self, rx, crc_word):
        p = crc_word * self._wb
        if crc16(rx, p) != (rx[p] << 8) | rx[p + 1]:
            raise CRCError("output CRC mismatch")

    def _exchange(self, words, reply_words=1):
        """Send a command frame, then a NULL frame; return the rx bytes holding the answer.

        `reply_words` > 1 for a multi-register read, whose answer replaces the channel data.
        """
        full = self.nch + 2
        self._frame(words, full)
        if reply_words > 1:
            rx = self._frame((CMD_NULL,), max(full, reply_words + 1))
            self._check_crc(rx, reply_words)
        else:
            rx = self._frame((CMD_NULL,), full)
            self._check_crc(rx, self.nch + 1)
        return rx

    def _expect(self, got, want, what):
        if got == want:
            return
        if self._crc_in and got & ST_CRC_ERR:
            raise CRCError("%s: the chip rejected the input CRC (status 0x%04x)" % (what, got))
        raise ADS131Error("%s: expected 0x%04x, got 0x%04x" % (what, want, got))

    # ---- commands ---------------------------------------------------------------------------

    def command(self, cmd):
        """Send NULL/STANDBY/WAKEUP/LOCK/UNLOCK; return the response word (STATUS for NULL)."""
        rx = self._exchange((cmd,))
        got = self._word(rx, 0)
        if cmd != CMD_NULL:
            self._expect(got, cmd, "command 0x%04x" % cmd)
        return got

    def read_status(self):
        """STATUS register, as returned for a NULL command."""
        return self.command(CMD_NULL)

    def standby(self):
        """Stop conversions (register map kept)."""
        self.command(CMD_STANDBY)

    def wakeup(self):
        """Resume conversions after standby()."""
        self.command(CMD_WAKEUP)

    def lock(self):
        """Lock the interface: only NULL, UNLOCK and RREG are accepted afterwards."""
        self.command(CMD_LOCK)

    def unlock(self):
        """Undo lock()."""
        self.command(CMD_UNLOCK)

    def reset(self):
        """RESET command; the chip returns to defaults (24-bit words, no input CRC)."""
        full = self.nch + 2
        self._frame((CMD_RESET,), full)  # a reset needs a full frame
        self._set_format(1, False)
        rx = self._frame((CMD_NULL,), full)
        self._check_crc(rx, self.nch + 1)
        self._expect(self._word(rx, 0), _ACK_RESET | self.nch, "reset")

    def read_regs(self, addr, n):
        """Read `n` consecutive registers from `addr`; return a list of ints."""
        if not 1 <= n <= 128 or not 0 <= addr < 64:
            raise ValueError("register range out of bounds: %r, %r" % (addr, n))
        head = (addr << 7) | (n - 1)
        rx = self._exchange((_CMD_RREG | head,), n + 1 if n > 1 else 1)
        if n == 1:
            return [self._word(rx, 0)]
        self._expect(self._word(rx, 0), _ACK_RREG_N | head, "read registers")
        return [self._word(rx, 1 + i) for i in range(n)]

    def read_reg(self, addr):
        """Read one register."""
        return self.read_regs(addr, 1)[0]

    def write_regs(self, addr, values):
        """Write consecutive registers from `addr`; checks the acknowledgement."""
        n = len(values)
        if not 1 <= n <= 128 or not 0 <= addr < 64:
            raise ValueError("register range out of bounds: %r, %r" % (addr, n))
        head = (addr << 7) | (n - 1)
        words = [_CMD_WREG | head] + [v & 0xFFFF for v in values]
        full = self.nch + 2
        self._frame(words, full)
        if addr <= REG_MODE < addr + n:
            mode = values[REG_MODE - addr]
            self._set_format((mode >> 8) & 3, bool(mode & _MODE_RX_CRC_EN))
        rx = self._frame((CMD_NULL,), full)
        self._check_crc(rx, self.nch + 1)
        self._expect(self._word(rx, 0), _ACK_WREG | head, "write registers")

    def write_reg(self, addr, value):
        """Write one register."""
        self.write_regs(addr, (value,))

    # ---- configuration ----------------------------------------------------------------------

    def configure(self, fs=4000, word_bits=24, gains=None, enabled=None, crc_in=False):
        """Set word length, input CRC, PGA gains, channel enables and data rate; verify by reading.

        `gains`: one of 1, 2 ... 128 per ADC channel (default all 1). `enabled`: ADC channel
        numbers to convert (default all). Raises ValueError for impossible settings and
        ADS131Error if the read-back differs.
        """
        if word_bits not in _WLEN:
            raise ValueError("word_bits must be 16, 24 or 32, got %r" % (word_bits,))
        nch = self.nch
        gains = gains or (1,) * nch
        if len(gains) != nch:
            raise ValueError("need %d gains, got %d" % (nch, len(gains)))
        gain_regs = [0] * (nch // 4)
        for ch in range(nch):
            if gains[ch] not in _GAINS:
                raise ValueError("PGA gain must be a power of two 1..128, got %r" % (gains[ch],))
            gain_regs[ch // 4] |= _GAINS.index(gains[ch]) << (4 * (ch % 4))
        en = 0
        for ch in (range(nch) if enabled is None else enabled):
            if not 0 <= ch < nch:
                raise ValueError("no ADC channel %r on a %d-channel chip" % (ch, nch))
            en |= 1 << ch
        osr, tbm = osr_for(fs, self.fclkin, nch == 4)
        clock = (en << 8) | (_CLOCK_TBM if tbm else 0) | (osr << 2) | _CLOCK_PWR_HR
        # RESET bit written as 0 acknowledges the reset flag; DRDY_SEL 00, DRDY_FMT 0 (level).
        mode = (_MODE_RX_CRC_EN if crc_in else 0) | (_WLEN[word_bits] << 8) | _MODE_TIMEOUT
        self.write_reg(REG_MODE, mode)
        self.write_regs(REG_GAIN1, gain_regs)
        self.write_reg(REG_CLOCK, clock)
        want = [mode, clock] + gain_regs
        got = self.read_regs(REG_MODE, 2) + self.read_regs(REG_GAIN1, nch // 4)
        if got != want:
            raise ADS131Error("register read-back %r, wrote %r" % (got, want))
        self.fs = fs
        self.bits = 16 if word_bits == 16 else 24
        self.chip_reset = False
        self._drdy_mask = en

    def check_id(self):
        """Read ID; raise ADS131Error unless its channel count matches `nch`."""
        ident = self.read_reg(REG_ID)
        if (ident >> 8) & 0x0F != self.nch:
            raise ADS131Error("ID 0x%04x is not an ADS131M0%d" % (ident, self.nch))
        return ident

    # ---- streaming --------------------------------------------------------------------------

    def start(self, channels, chan_map, block_frames=80, nblocks=4):
        """Preallocate the ring and arm the DRDY interrupt.

        `channels`: names in block order; `chan_map`: the ADC channel of each name.
        `nblocks` >= 3: one block held by the reader, one being filled, the rest queued.
        """
        if len(channels) != len(chan_map) or not channels:
            raise ValueError("channels and chan_map must have the same non-zero length")
        for ch in chan_map:
            if not 0 <= ch < self.nch:
                raise ValueError("no ADC channel %r on a %d-channel chip" % (ch, self.nch))
        if block_frames < 1 or nblocks < 3:
            raise ValueError("need block_frames >= 1 and nblocks >= 3")
        self.stop()
        nout = len(channels)
        self.channels = tuple(channels)
        self.block_frames = block_frames
        self._nout = nout
        self._blen = block_frames * nout
        self._cmap = bytearray(chan_map)
        for ch in chan_map:
            if not self._drdy_mask & (1 << ch):
                raise ValueError("ADC channel %d is disabled" % ch)
        self._blocks = [array.array("i", bytes(4 * self._blen)) for _ in range(nblocks)]
        self._last = array.array("i", bytes(4 * nout))
        # Ring of nblocks-1 positions naming blocks; the block the reader holds is outside it.
        self._m = nblocks - 1
        self._slots = bytearray(range(self._m))
        self._held = self._m
        self._r = 0
        self._w = 0
        self._pending = 0
        self._wbuf = self._blocks[0]
        self._wpos = 0
        wb = self._wb
        size = (self.nch + 2) * wb
        tx = bytearray(size)
        if self._crc_in:  # a NULL command followed by its CRC word
            c = crc16(tx, wb)
            tx[wb] = c >> 8
            tx[wb + 1] = c & 0xFF
        self._tx = memoryview(tx)
        self._rx = memoryview(bytearray(size))
        self._crc_at = (self.nch + 1) * wb
        self._wide = 0 if self.word_bits == 16 else 1
        self._period = 1000000 // self.fs
        self._gap = self._period + self._period // 2
        self._tlast = 0
        self._tvalid = False
        self._flag = _Flag()
        self._isr_ref = self._isr  # a bound method allocates: make it once
        self._running = True
        self._drdy.irq(handler=self._isr_ref, trigger=self._drdy.IRQ_FALLING, hard=True)

    def stop(self):
        """Disarm the DRDY interrupt."""
        if self._running:
            self._drdy.irq(handler=None)
            self._running = False

    def _isr(self, _pin):
        # Hard interrupt: no allocation, ints stay below 2**30.
        cs = self._cs
        rx = self._rx
        cs.value(0)
        self._spi.write_readinto(self._tx, rx)
        cs.value(1)
        if self._ticks is not None:
            t = self._ticks()
            if self._tvalid:
                dt = self._tdiff(t, self._tlast)
                if dt > self._gap:
                    lost = (dt + self._period // 2) // self._period - 1
                    self.missed = (self.missed + lost) & _CNT
            self._tlast = t
            self._tvalid = True
        n = self._crc_at
        if _crc(rx, n, _TABLE) != (rx[n] << 8) | rx[n + 1]:
            # Keep the sample count: repeat the last good frame.
            self.crc_errors = (self.crc_errors + 1) & _CNT
        else:
            st = (rx[0] << 8) | rx[1]
            self.status = st
            if st & ST_RESET:
                self.chip_reset = True
            if not st & self._drdy_mask:
                self.stale = (self.stale + 1) & _CNT
                return
            _unpack(rx, self._wb, self._off, self._cmap, self._nout, self._last, self._wide)
        _copy(self._last, self._wbuf, self._wpos, self._nout)
        self._wpos += self._nout
        if self._wpos < self._blen:
            return
        # Block full: queue it and move to the next ring position, dropping the oldest
        # queued block if the reader has fallen a whole ring behind.
        m = self._m
        self._pending += 1
        w = self._w + 1
        if w == m:
            w = 0
        if self._pending == m:
            r = self._r + 1
            self._r = 0 if r == m else r
            self._pending -= 1
            self.overruns = (self.overruns + 1) & _CNT
        self._w = w
        self._wbuf = self._blocks[self._slots[w]]
        self._wpos = 0
        self._flag.set()

    async def read(self):
        """Return the oldest full block: array('i') of block_frames * len(channels) codes.

        The block stays valid until the next call, which hands it back to the ring.
        """
        while True:
            st = self._irq_off()
            if self._pending:
                r = self._r
                b = self._slots[r]
                self._slots[r] = self._held
                self._held = b
                r += 1
                self._r = 0 if r == self._m else r
                self._pending -= 1
                self._irq_on(st)
                return self._blocks[b]
            self._irq_on(st)
            await self._flag.wait()
