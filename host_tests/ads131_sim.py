"""Register-level simulation of a TI ADS131M04 / ADS131M08 on an SPI bus (CPython and MicroPython).

Written from the datasheet, independently of the driver: it parses the frames the host clocks in
(chip select low ... high), keeps the register map, answers each command in the following frame,
applies word length (16/24/32 bits), input CRC (RX_CRC_EN), output CRC-16-CCITT, STATUS bits,
PGA gain, channel enables, LOCK, STANDBY and RESET. `tick()` makes one conversion from
`signal(n, ch)` (code at gain 1) and drives DRDY low, which runs the host's interrupt handler.

Faults: `corrupt_output(k)` flips a data bit after the output CRC of the next k frames,
`corrupt_input(k)` flips a command bit of the next k host frames, `drop_drdy(k)` converts k times
without a falling edge reaching the host (a missed interrupt).
"""

ID_M04 = 0x2420
ID_M08 = 0x2820
_FULL = 0x7FFFFF


def crc_ccitt(data, n=None):
    """CRC-16-CCITT, polynomial 0x1021, seed 0xFFFF, bitwise (reference for the simulation)."""
    crc = 0xFFFF
    for i in range(len(data) if n is None else n):
        crc ^= data[i] << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


class Pin:
    """GPIO stand-in: value(), calling, irq(handler, trigger, hard); the IRQ fires on drive()."""

    IRQ_RISING = 1
    IRQ_FALLING = 2

    def __init__(self, value=1):
        self._v = value
        self.handler = None
        self.trigger = 0
        self.hard = None
        self.history = []

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = 1 if v else 0
        self.history.append(self._v)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, hard=False):
        self.handler = handler
        self.trigger = trigger
        self.hard = hard

    def drive(self, v, notify=True):
        """Set the level from outside; run the handler on a matching edge if `notify`."""
        old = self._v
        self._v = 1 if v else 0
        if not notify or self.handler is None or old == self._v:
            return
        if (self._v == 0 and self.trigger & self.IRQ_FALLING) or \
                (self._v == 1 and self.trigger & self.IRQ_RISING):
            self.handler(self)


class _ChipSelect(Pin):
    def __init__(self, chip):
        Pin.__init__(self, 1)
        self._chip = chip

    def value(self, v=None):
        if v is None:
            return self._v
        v = 1 if v else 0
        if v != self._v:
            self._v = v
            if v:
                self._chip._deselect()
            else:
                self._chip._select()


class ADS131Sim:
    """The chip: pass `sim` as the SPI bus, `sim.cs` as chip select, `sim.drdy` as data ready."""

    def __init__(self, nch=4, signal=None, fclkin=8192000):
        if nch not in (4, 8):
            raise ValueError("nch must be 4 or 8")
        self.nch = nch
        self.signal = signal or (lambda n, ch: 0)
        self.fclkin = fclkin
        self.cs = _ChipSelect(self)
        self.drdy = Pin(1)
        self.n = 0
        self.t_us = 0
        self.frames = 0
        self.commands = []
        self.rejected = 0
        self._corrupt_out = 0
        self._corrupt_in = 0
        self._drop = 0
        self._selected = False
        self.power_on()

    # ---- state ------------------------------------------------------------------------------

    def power_on(self):
        """Registers to their reset values; the first frame answers with the reset word."""
        nch = self.nch
        r = [0] * 64
        r[0x00] = ID_M04 if nch == 4 else ID_M08
        r[0x02] = 0x0510
        r[0x03] = ((1 << nch) - 1) << 8 | 0x0E
        r[0x06] = 0x0600
        for ch in range(nch):
            r[0x0C + 5 * ch] = 0x8000
        self.regs = r
        self.data = [0] * nch
        self.drdy_bits = 0
        self.crc_err = False
        self.locked = False
        self.standby = False
        self._next = [0xFF20 | nch]
        self.drdy.drive(1, notify=False)

    def _valid(self, addr):
        last = 0x09 + 5 * self.nch - 1
        return addr <= last and not (addr == 0x05 and self.nch == 4) or addr == 0x3E

    def _writable(self, addr):
        return self._valid(addr) and addr >= 0x02 and addr != 0x3E

    def wbytes(self):
        """Current word size in bytes from MODE.WLENGTH."""
        return (2, 3, 4, 4)[(self.regs[0x02] >> 8) & 3]

    def gain(self, ch):
        return 1 << ((self.regs[0x04 + ch // 4] >> (4 * (ch % 4))) & 7)

    def enabled(self):
        return (self.regs[0x03] >> 8) & ((1 << self.nch) - 1)

    def fs(self):
        """Output data rate from CLOCK.OSR (and TBM on the 4-channel chip)."""
        clock = self.regs[0x03]
        if self.nch == 4 and clock & 0x20:
            osr = 64
        else:
            osr = (128, 256, 512, 1024, 2048, 4096, 8192, 16256)[(clock >> 2) & 7]
        return self.fclkin // 2 // osr

    def status(self):
        mode = self.regs[0x02]
        s = mode & 0x0F00  # CRC_TYPE, RESET and WLENGTH mirror MODE
        if self.locked:
            s |= 0x8000
        if self.crc_err:
            s |= 0x1000
        return s | self.drdy_bits

    # ---- faults -----------------------------------------------------------------------------

    def corrupt_output(self, k=1):
        self._corrupt_out += k

    def corrupt_input(self, k=1):
        self._corrupt_in += k

    def drop_drdy(self, k=1):
        self._drop += k

    # ---- conversions ------------------------------------------------------------------------

    def tick(self, k=1):
        """Make k conversions, each announced by a DRDY falling edge."""
        for _ in range(k):
            self.t_us += 1000000 // self.fs()
            if self.standby:
                continue
            self.n += 1
            en = self.enabled()
            for ch in range(self.nch):
                if en & (1 << ch):
                    v = self.signal(self.n, ch) * self.gain(ch)
                    self.data[ch] = max(-_FULL - 1, min(_FULL, v))
                else:
                    self.data[ch] = 0
            self.drdy_bits = en
            if self.drdy.value() == 0:
                self.drdy.drive(1, notify=False)  # unread data: DRDY pulses high first
            if self._drop:
                self._drop -= 1
                self.drdy.drive(0, notify=False)
            else:
                self.drdy.drive(0)

    def ticks_us(self):
        """Virtual microsecond clock advanced by tick(), wrapping like time.ticks_us."""
        return self.t_us & 0x3FFFFFFF

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    # ---- SPI --------------------------------------------------------------------------------

    def _put(self, out, value, nbytes):
        for i in range(nbytes):
            out.append((value >> (8 * (nbytes - 1 - i))) & 0xFF)

    def _select(self):
        wb = self.wbytes()
        wl = (self.regs[0x02] >> 8) & 3
        out = bytearray()
        nxt = self._next
        self._next = None
        if nxt is None:
            nxt = [self.status()]
            self.crc_err = False  # cleared once STATUS has been output
        for w in nxt:
            self._put(out, w << (8 * (wb - 2)), wb)
        if len(nxt) == 1:
            for ch in range(self.nch):
                v = self.data[ch]
                if wl == 0:
                    v = (v >> 8) & 0xFFFF
                elif wl == 1:
                    v &= 0xFFFFFF
                elif wl == 2:
                    v = (v & 0xFFFFFF) << 8
                else:
                    v &= 0xFFFFFFFF
                self._put(out, v, wb)
        self._put(out, crc_ccitt(out) << (8 * (wb - 2)), wb)
        if self._corrupt_out:
            self._corrupt_out -= 1
            out[wb] ^= 0x01
        self._out = out
        self._pos = 0
        self._in = bytearray()
        self._wb = wb
        self._selected = True

    def _deselect(self):
        self._selected = False
        self.frames += 1
        wb = self._wb
        rx = self._in
        nwords = len(rx) // wb
        if nwords >= self.nch + 2 and len(self._out) >= (self.nch + 2) * wb:
            self.drdy_bits = 0  # all conversion data shifted out
            self.drdy.drive(1, notify=False)
        if nwords < 1:
            return
        if self._corrupt_in:
            self._corrupt_in -= 1
            rx[0] ^= 0x80
        words = [(rx[i * wb] << 8) | rx[i * wb + 1] for i in range(nwords)]
        cmd = words[0]
        ndata = (cmd & 0x7F) + 1 if cmd & 0xE000 == 0x6000 else 0
        if self.regs[0x02] & 0x1000:
            at = 1 + ndata
            if at >= nwords or crc_ccitt(rx, at * wb) != words[at]:
                self.crc_err = True
                self.rejected += 1
                if cmd & 0xE000 == 0x6000 and not self.locked:
                    self._wreg(cmd, words)
                return  # answered like NULL
        self._execute(cmd, words, nwords)

    def _reg(self, addr):
        if addr == 0x01:
            return self.status()
        return self.regs[addr] if addr < 64 and self._valid(addr) else 0

    def _wreg(self, cmd, words):
        a = (cmd >> 7) & 0x3F
        n = (cmd & 0x7F) + 1
        for i in range(n):
            if 1 + i < len(words) and self._writable(a + i):
                self.regs[a + i] = words[1 + i]
        return 0x4000 | (cmd & 0x1FFF)

    def _execute(self, cmd, words, nwords):
        self.commands.append(cmd)
        if self.locked and cmd not in (0x0000, 0x0655) and cmd & 0xE000 != 0xA000:
            return
        if cmd == 0x0011:
            if nwords >= self.nch + 2:  # a reset needs a full frame
                self.power_on()
        elif cmd in (0x0022, 0x0033, 0x0555, 0x0655):
            self.standby = {0x0022: True, 0x0033: False}.get(cmd, self.standby)
            self.locked = {0x0555: True, 0x0655: False}.get(cmd, self.locked)
            self._next = [cmd]
        elif cmd & 0xE000 == 0xA000:
            a = (cmd >> 7) & 0x3F
            n = (cmd & 0x7F) + 1
            vals = [self._reg(a + i) for i in range(n)]
            self._next = vals if n == 1 else [0xE000 | (cmd & 0x1FFF)] + vals
        elif cmd & 0xE000 == 0x6000:
            self._next = [self._wreg(cmd, words)]

    def write_readinto(self, tx, rx):
        if not self._selected:
            raise OSError("SPI transfer with chip select high")
        if len(tx) != len(rx):
            raise ValueError("tx and rx differ in length")
        self._in.extend(tx)
        for i in range(len(rx)):
            p = self._pos + i
            rx[i] = self._out[p] if p < len(self._out) else 0
        self._pos += len(rx)

    def write(self, buf):
        self.write_readinto(buf, bytearray(len(buf)))

    def readinto(self, buf, write=0):
        self.write_readinto(bytes([write]) * len(buf), buf)
