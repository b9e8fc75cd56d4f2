"""End of billing period (application 7.3): register snapshots, counter, maximum demand reset.

`Billing(nreg, tariffs, demands, depth)` keeps the billing period counter (0-0:0.1.0, u32,
wraps), the time of the last reset (0-0:0.1.2) and the snapshots of the last `depth` periods,
newest first (F = 0 .. depth-1; depth 0 keeps none, for a meter whose billing profile holds
them). `end_of_billing(t, totals, regs, hook)` is script 1 of 0-0:10.0.1: it takes a snapshot,
calls `hook(snapshot)` (the billing profile captures there), then each `demand.Demand` adds its
maxima to the cumulative maximum demand and resets them. A snapshot is the tuple
    (counter, time, totals, regs, md)
with totals a list of nreg ints, regs a list of `tariffs` lists of nreg ints, and md one
(max_value, max_time, cum_value) triple of lists (index 0 total, 1..tariffs) per demand register:
the maxima of the period that ends and the cumulative values after adding them.

Triggers: `poll(t, totals, regs)` runs it when the `schedule.Schedule` (0-0:15.0.0, e.g.
`schedule.monthly`) is due, once for any number of missed executions; an explicit call is the
COSEM action.

`to_bytes()` / `load(data)` carry the state for an NV record: the counter, the last reset, the
instant up to which the schedule has handled executions (so an end of billing missed during an
outage still runs once after a reboot), the live maximum and cumulative demand of every demand
register and the history, with a version and a CRC-32. `load` refuses anything inconsistent with
`RecordError` naming the fault and changes nothing then.
"""
import struct
from binascii import crc32

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

VERSION = const(1)
_MAGIC = b"BL"
# magic, version, nreg, tariffs, demands, depth, count, counter, last reset, schedule done
_HDR = "<2sBBBBBBIII"
_NONE = const(0xFFFFFFFF)    # "no time" in a u32 time field
_TIME_END = 3155760000       # first second after 2099-12-31 23:59:59
_U32 = 0x100000000


class RecordError(ValueError):
    """The billing record cannot be loaded; the message says why."""


def _t(v):
    return _NONE if v is None else v


class Billing:
    """Billing state for `nreg` quantities, `tariffs` tariffs and the `demands` registers."""

    def __init__(self, nreg, tariffs, demands, depth=12, schedule=None):
        if nreg < 1 or nreg > 255 or tariffs < 1 or tariffs > 8 or depth < 0 or depth > 255:
            raise ValueError("nreg 1..255, tariffs 1..8, depth 0..255 required")
        for d in demands:
            if d.tariffs != tariffs:
                raise ValueError("demand register with another number of tariffs")
        self.nreg = nreg
        self.tariffs = tariffs
        self.demands = demands
        self.depth = depth
        self.schedule = schedule
        self.counter = 0
        self.last_reset = None
        self.history = []

    def end_of_billing(self, t, totals, regs, hook=None):
        """Close the billing period at UTC second `t`; returns the new snapshot. `hook(snap)`,
        if given, runs once the counter and the last reset time are updated but before the
        maximum demand registers are reset (a billing profile captures there)."""
        if len(totals) != self.nreg or len(regs) != self.tariffs:
            raise ValueError("register shape differs from the billing configuration")
        md = []
        for d in self.demands:
            md.append((d.max_value[:], d.max_time[:],
                       [d.cum_value[k] + d.max_value[k] for k in range(self.tariffs + 1)]))
        self.counter = (self.counter + 1) % _U32
        self.last_reset = t
        snap = (self.counter, t, list(totals), [list(r) for r in regs], md)
        self.history.insert(0, snap)
        del self.history[self.depth:]
        if hook is not None:
            hook(snap)
        for d in self.demands:
            d.end_of_billing()
        return snap

    def poll(self, t, totals, regs, hook=None):
        """Run the end of billing if the schedule is due at `t`; returns the snapshot or None."""
        if self.schedule is not None and self.schedule.due(t):
            return self.end_of_billing(t, totals, regs, hook)
        return None

    # NV record

    def _done(self):
        return None if self.schedule is None else self.schedule.done

    def _demand_fmt(self):
        return "<" + "IIQ" * (self.tariffs + 1)

    def _snap_fmt(self):
        n = self.nreg
        return "<II" + "Q" * (n + n * self.tariffs) + self._demand_fmt()[1:] * len(self.demands)

    def _size(self, count):
        return (struct.calcsize(_HDR) + struct.calcsize(self._demand_fmt()) * len(self.demands)
                + struct.calcsize(self._snap_fmt()) * count + 4)

    def _md_values(self, md):
        out = []
        for values, times, cum in md:
            for k in range(self.tariffs + 1):
                out.extend((values[k], _t(times[k]), cum[k]))
        return out

    def to_bytes(self):
        """The state as an NV record payload (versioned, CRC-32 at the end)."""
        count = len(self.history)
        buf = bytearray(self._size(count))
        struct.pack_into(_HDR, buf, 0, _MAGIC, VERSION, self.nreg, self.tariffs,
                         len(self.demands), self.depth, count, self.counter, _t(self.last_reset),
                         _t(self._done()))
        pos = struct.calcsize(_HDR)
        fmt = self._demand_fmt()
        for d in self.demands:
            struct.pack_into(fmt, buf, pos,
                             *self._md_values([(d.max_value, d.max_time, d.cum_value)]))
            pos += struct.calcsize(fmt)
        fmt = self._snap_fmt()
        for counter, t, totals, regs, md in self.history:
            vals = [counter, t] + list(totals)
            for r in regs:
                vals += r
            struct.pack_into(fmt, buf, pos, *(vals + self._md_values(md)))
            pos += struct.calcsize(fmt)
        struct.pack_into("<I", buf, pos, crc32(memoryview(buf)[:pos]) & 0xFFFFFFFF)
        return bytes(buf)

    def _md_from(self, vals, i):
        # Rebuild the per-demand (values, times, cum) triples from a flat field list at i.
        md = []
        for _ in self.demands:
            values, times, cum = [], [], []
            for _ in range(self.tariffs + 1):
                v, tm, c = vals[i], vals[i + 1], vals[i + 2]
                if tm != _NONE and tm >= _TIME_END:
                    raise RecordError("maximum demand time out of range")
                values.append(v)
                times.append(None if tm == _NONE else tm)
                cum.append(c)
                i += 3
            md.append((values, times, cum))
        return md

    def load(self, data):
        """Restore the state from `to_bytes` output; RecordError (nothing changed) if invalid."""
        hdr = struct.calcsize(_HDR)
        if len(data) < hdr + 4:
            raise RecordError("record truncated: %d bytes" % len(data))
        magic, ver, nreg, tariffs, nd, depth, count, counter, last, done = \
            struct.unpack_from(_HDR, data, 0)
        if magic != _MAGIC:
            raise RecordError("not a billing record (magic)")
        if ver != VERSION:
            raise RecordError("unsupported billing record version %d" % ver)
        if nreg != self.nreg or tariffs != self.tariffs or nd != len(self.demands):
            raise RecordError("record shape %d/%d/%d differs from the configuration"
                              % (nreg, tariffs, nd))
        if count > depth or count > self.depth:
            raise RecordError("record holds %d periods, depth %d" % (count, min(depth, self.depth)))
        size = self._size(count)
        if len(data) != size:
            raise RecordError("record length %d, expected %d" % (len(data), size))
        if struct.unpack_from("<I", data, size - 4)[0] != crc32(memoryview(data)[:size - 4]) \
                & 0xFFFFFFFF:
            raise RecordError("record CRC mismatch")
        if last != _NONE and last >= _TIME_END:
            raise RecordError("last reset time out of range")
        if done != _NONE and done >= _TIME_END:
            raise RecordError("schedule time out of range")
        pos = hdr
        fmt = self._demand_fmt()
        live = self._md_from(struct.unpack_from("<" + fmt[1:] * nd, data, pos), 0)
        pos += struct.calcsize(fmt) * nd
        fmt = self._snap_fmt()
        history = []
        n = self.nreg
        for k in range(count):
            vals = struct.unpack_from(fmt, data, pos)
            pos += struct.calcsize(fmt)
            if vals[0] != (counter - k) % _U32:
                raise RecordError("snapshot counters not consecutive")
            if vals[1] >= _TIME_END:
                raise RecordError("snapshot time out of range")
            regs = [list(vals[2 + n * (j + 1):2 + n * (j + 2)]) for j in range(self.tariffs)]
            history.append((vals[0], vals[1], list(vals[2:2 + n]), regs,
                            self._md_from(vals, 2 + n * (self.tariffs + 1))))
        for d, (values, times, cum) in zip(self.demands, live):
            d.max_value[:] = values
            d.max_time[:] = times
            d.cum_value[:] = cum
        self.counter = counter
        self.last_reset = None if last == _NONE else last
        self.history = history
        if self.schedule is not None:
            self.schedule.resume(None if done == _NONE else done)
