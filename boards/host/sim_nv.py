"""Non-volatile memory of the host board (byte-writable, like FRAM) with fault injection.

NvMem keeps the image in RAM; NvFile also mirrors every write to a file in the state directory so
the contents survive a restart. Erased memory reads 0xFF. Faults:
  cut_after(n)            the supply fails after n more bytes: the write in progress stops there and
                          raises PowerCut; later writes raise PowerCut until restore()
  cut_after(n, torn=True) as above, but the rest of the page holding the cut lands partially:
                          each of its remaining bytes is new or old at random (seeded)
  flip(offset, bit)       a stored bit flips (retention error)
"""
import os

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

# Default size: the record store (32 KiB) and the profile and log rings (runtime.nvlayout).
SIZE = const(262144)
_LCG_A = const(1103515245)
_LCG_C = const(12345)


class PowerCut(Exception):
    """The simulated supply failed during an NV write."""


class NvError(Exception):
    """The NV state file or directory cannot be used."""


class NvMem:
    """`size` bytes of NV memory in RAM; `page` is the tear granularity."""

    def __init__(self, size=SIZE, page=256):
        if not isinstance(size, int) or size <= 0 or not isinstance(page, int) or page <= 0:
            raise ValueError("size and page must be positive integers, got %r, %r" % (size, page))
        self.size = size
        self.page = page
        self.writes = 0
        self.bytes_written = 0
        self.down = False  # True after a power cut, until restore()
        self._mem = bytearray(size)
        self._mv = memoryview(self._mem)
        ff = b"\xff" * min(size, 4096)     # erased state, filled without a size-long temporary
        for off in range(0, size, len(ff)):
            n = min(len(ff), size - off)
            self._mv[off:off + n] = ff[:n]
        self._budget = -1  # bytes that may still be written before the cut; -1: no cut armed
        self._torn = False
        self._seed = 1

    def _range(self, offset, n):
        if offset < 0 or offset + n > self.size:
            raise ValueError("NV access %d+%d outside 0..%d" % (offset, n, self.size))

    def readinto(self, offset, buf):
        """Fill `buf` from `offset`."""
        n = len(buf)
        self._range(offset, n)
        buf[:] = self._mv[offset:offset + n]

    def write(self, offset, buf):
        """Store `buf` at `offset` (raises PowerCut if the supply fails on the way)."""
        n = len(buf)
        self._range(offset, n)
        if self.down:
            raise PowerCut("NV write while the supply is down")
        self.writes += 1
        if self._budget < 0 or self._budget >= n:
            self._mv[offset:offset + n] = buf
            self.bytes_written += n
            self._persist(offset, n)
            if self._budget >= 0:
                self._budget -= n
            return
        k = self._budget
        self._mv[offset:offset + k] = buf[:k]
        end = offset + k
        if self._torn:
            end = min(offset + n, (offset + k) // self.page * self.page + self.page)
            seed = self._seed
            for a in range(offset + k, end):
                seed = (seed * _LCG_A + _LCG_C) & 0x7FFFFFFF
                if seed & 0x10000:
                    self._mem[a] = buf[a - offset]
        self.bytes_written += k
        self._persist(offset, end - offset)
        self.down = True
        self._budget = -1
        raise PowerCut("power cut after %d of %d bytes written at %d" % (k, n, offset))

    def sync(self):
        """Make earlier writes durable (nothing to do in RAM)."""

    def cut_after(self, n, torn=False, seed=1):
        """Arm a power cut after `n` more bytes written (optionally tearing the page; see module)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError("cut_after needs n >= 0, got %r" % (n,))
        self._budget = n
        self._torn = bool(torn)
        self._seed = seed

    def restore(self):
        """The supply is back: writes work again and no cut is armed."""
        self.down = False
        self._budget = -1

    def flip(self, offset, bit):
        """Invert bit `bit` (0..7) of the byte at `offset`."""
        self._range(offset, 1)
        if not 0 <= bit <= 7:
            raise ValueError("bit must be 0..7, got %r" % (bit,))
        self._mem[offset] ^= 1 << bit
        self._persist(offset, 1)

    def close(self):
        """Release the backing store (RAM has none)."""

    def _persist(self, offset, n):
        """Hook for a backing store; RAM has none."""


class NvFile(NvMem):
    """NV memory mirrored to `state_dir`/`name` (created filled with 0xFF when missing)."""

    def __init__(self, state_dir, size=SIZE, page=256, name="nv.bin"):
        NvMem.__init__(self, size, page)
        self.path = state_dir + "/" + name
        try:
            os.stat(state_dir)
        except OSError:
            try:
                os.mkdir(state_dir)
            except OSError as e:
                raise NvError("cannot create NV state directory %r: %s" % (state_dir, e))
        try:
            try:
                os.stat(self.path)
            except OSError:
                with open(self.path, "wb") as f:
                    f.write(self._mem)
            self._f = open(self.path, "r+b")
            n = self._f.readinto(self._mem)
        except OSError as e:
            raise NvError("cannot use NV file %r: %s" % (self.path, e))
        if n != size or self._f.read(1):
            self._f.close()
            raise NvError("NV file %r does not hold %d bytes (delete it to start afresh)"
                          % (self.path, size))

    def _persist(self, offset, n):
        self._f.seek(offset)
        self._f.write(self._mv[offset:offset + n])
        self._f.flush()

    def sync(self):
        """Flush the file and, where the OS call exists, force it to disk."""
        self._f.flush()
        fsync = getattr(os, "fsync", None)
        if fsync:
            fsync(self._f.fileno())

    def close(self):
        """Close the backing file."""
        self._f.close()
