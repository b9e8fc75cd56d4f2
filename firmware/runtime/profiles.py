"""Load and billing profiles of the running meter (docs/profiles.md).

Load profile 1 (1-0:99.1.0, every 15 minutes) and load profile 2 (1-0:99.2.0, daily) capture
at instants aligned to local time, each with its status register (0-0:96.10.1 / .2) whose bits
collect what happened in the interval; billing profile 1 (0-0:98.1.0) captures at every end of
billing (the Meter's "billing" notification), billing profile 2 (0-0:98.2.0) every local
midnight. Rows live in NV rings (runtime.nvlayout) through runtime.profile_buffer; capture
periods, profile_entries, the pending status bits and the load profile options (0-0:128.10.1 /
.2: extra rows at power-up, at a clock change, for the intervals an outage skipped) in the NV
record "profiles".
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import dst
from measure.energy import NAMES
from models import profiles as defs
from runtime import billing_service, log, service
from runtime.profile_buffer import ProfileBuffer, open_ring

# Profile status bits (application spec 7.2).
PDN = const(0x80)         # power down in the interval
PUP = const(0x40)         # power up in the interval
CLOCK_ADJUSTED = const(0x20)
BILLING_RESET = const(0x10)
DST_ACTIVE = const(0x08)
DATA_NOT_VALID = const(0x04)   # the interval was not measured whole (outage, clock set)
CLOCK_INVALID = const(0x02)    # the RTC lost its time in an outage and has not been set since

# Load profile option bits (0-0:128.10.1 / .2; our proposal, the manufacturer's table is lost).
OPT_POWER_UP = const(0x01)      # a row stamped with the power-up instant
OPT_CLOCK_CHANGE = const(0x02)  # a row stamped with the old time just before a clock set
OPT_FILL = const(0x04)          # at power-up, a row for each capture instant the outage skipped
OPTIONS = const(0x07)

KEY = "profiles"
_VERSION_1 = const(1)
_VERSION = const(2)
_REC_HEAD = "<B"
_REC_ITEM_1 = "<IIB"          # version 1: capture period, profile_entries, pending status
_ITEM_1 = const(9)
_REC_ITEM = "<IIBBI"          # version 2: then options and `since` (0: unknown)
_ITEM = const(14)
_MASK32 = const(0xFFFFFFFF)
_DAY = const(86400)
_LOAD_CLEARED = const(254)    # "E-meter load profile cleared" (standard event log)

# Column values, precomputed per column: (what, index)
_CLOCK = const(0)
_STATUS = const(1)
_TOTAL = const(2)
_TARIFF = const(3)
_MD = const(4)
_MD_TIME = const(5)

# Capture periods of the periodic profiles at first boot (0: event-driven).
PERIODS = {"lp1": 900, "lp2": _DAY, "billing1": 0, "billing2": _DAY}


def valid_period(p):
    """True for a capture period the meter can keep aligned to local time: a divisor of an hour
    or a whole number of hours dividing a day, at least a minute."""
    return isinstance(p, int) and 60 <= p <= _DAY and (3600 % p == 0 or (
        p % 3600 == 0 and _DAY % p == 0))


def next_capture(now_s, period, rule):
    """UTC second of the first capture instant after `now_s` for `period` (valid_period)
    aligned to local time with DST rule `rule`. Periods dividing an hour are aligned on the
    standard local time (DST moves the clock by whole hours), longer ones on the local wall
    clock, so a daily capture happens at local midnight whatever the season."""
    if 3600 % period == 0:
        off = (-rule.time_zone * 60) % period
        return now_s - (now_s + off) % period + period
    local = dst.local_from_utc(now_s, rule)[0]
    nxt = local - local % period + period
    for _ in range(3):      # a DST change moves a wall-clock instant by an hour at most
        best = None
        for fold in (0, 1):
            u = dst.utc_from_local(nxt, rule, fold)
            if u > now_s and (best is None or u < best):
                best = u
        if best is not None:
            return best
        nxt += period
    return now_s + period


def prev_capture(t_s, period, rule):
    """UTC second of the last capture instant before `t_s`: the step back of next_capture
    (next_capture of the result is at or after t_s)."""
    if 3600 % period == 0:
        off = (-rule.time_zone * 60) % period
        return t_s - 1 - (t_s - 1 + off) % period
    # Wall-clock periods: consecutive instants are period +- 1 h apart (a DST change), so the
    # chain of next_capture from a period and an hour back reaches t_s in a few steps.
    b = next_capture(t_s - period - 3601, period, rule)
    for _ in range(6):
        n = next_capture(b, period, rule)
        if n >= t_s:
            break
        b = n
    return b


def missed(since_s, up_s, period, rule, limit):
    """(first, count): the newest `limit` at most of the capture instants in since_s..up_s
    (since_s excluded), `first` the oldest of them, found from up_s backwards in `count` steps
    (an outage of years costs no more than `limit` steps)."""
    first = prev_capture(up_s + 1, period, rule)
    if first <= since_s:
        return first, 0
    count = 1
    for _ in range(limit - 1):
        b = prev_capture(first, period, rule)
        if b <= since_s:
            break
        first = b
        count += 1
    return first, count


class Profile:
    """One profile: its buffer, capture period, pending status, options and next capture
    instant."""

    def __init__(self, key, columns, buffer, status):
        self.key = key
        self.buffer = buffer
        self.period = PERIODS[key]
        self.status = 0 if status is not None else None
        self.options = 0
        # Every capture instant after `since` (UTC s) was captured while powered, up to the
        # newest row (None: unknown); set at power-up, clock set, period change and reset.
        self.since = None
        self.due = None
        plan = []
        for c in columns:
            v = c[4]
            if v == "clock":
                plan.append((_CLOCK, 0))
            elif v == "status":
                plan.append((_STATUS, 0))
            elif isinstance(v, tuple) and v[0] in ("md", "md_time"):
                plan.append((_MD if v[0] == "md" else _MD_TIME, v[1]))
            elif isinstance(v, tuple):
                plan.append((_TARIFF, (v[1] - 1) * 16 + NAMES.index(v[0])))
            else:
                plan.append((_TOTAL, NAMES.index(v)))
        self.plan = plan


class Profiles(service.Service):
    """The profiles service of a Meter."""

    def __init__(self, meter):
        self.meter = meter
        self.items = []
        self.by_key = {}
        rule = self._rule
        for key, _, status, columns in defs.PROFILES:
            ring = open_ring(meter.board.nv, "profile." + key)
            p = Profile(key, columns, ProfileBuffer(ring, defs.kinds(columns), rule), status)
            self.items.append(p)
            self.by_key[key] = p
        self._saved = None
        meter.listen("billing", self._billing)

    def _rule(self):
        return self.meter.tou.rule

    # -- NV record ----------------------------------------------------------------------------

    def _pack(self):
        out = bytearray(struct.calcsize(_REC_HEAD) + _ITEM * len(self.items))
        struct.pack_into(_REC_HEAD, out, 0, _VERSION)
        pos = 1
        for p in self.items:
            struct.pack_into(_REC_ITEM, out, pos, p.period, p.buffer.limit, p.status or 0,
                             p.options, p.since or 0)
            pos += _ITEM
        return bytes(out)

    def _load(self):
        raw = self.meter.store.read(KEY)
        if raw is None:
            return False
        n = len(self.items)
        if raw and raw[0] == _VERSION_1 and len(raw) == 1 + _ITEM_1 * n:
            fmt, size = _REC_ITEM_1, _ITEM_1        # older firmware: no options
        elif raw and raw[0] == _VERSION and len(raw) == 1 + _ITEM * n:
            fmt, size = _REC_ITEM, _ITEM
        else:
            log.error("profiles record unusable: default settings")
            return False
        pos = 1
        for p in self.items:
            item = struct.unpack_from(fmt, raw, pos)
            period, limit, status = item[:3]
            pos += size
            if len(item) > 3 and p.status is not None and not item[3] & ~OPTIONS:
                p.options = item[3]
                p.since = item[4] or None
            if (period == 0) == (PERIODS[p.key] == 0) and (period == 0 or valid_period(period)):
                p.period = period
            try:
                p.buffer.set_limit(limit)
            except ValueError:
                p.buffer.set_limit(p.buffer.capacity)
            if p.status is not None:
                p.status = status
        return True

    def _write(self):
        raw = self._pack()
        if raw != self._saved:
            self.meter.store.write(KEY, raw)
            self._saved = raw

    # -- capture ------------------------------------------------------------------------------

    def _values(self, p, t, status):
        e = self.meter.energy_regs.total
        regs = self.meter.tariff_regs.regs
        out = []
        for what, k in p.plan:
            if what == _CLOCK:
                out.append(t)
            elif what == _STATUS:
                out.append(status | (DST_ACTIVE if dst.is_dst(t, self._rule()) else 0))
            elif what == _TOTAL:
                out.append(e[k] // 1000 & _MASK32)
            elif what == _TARIFF:
                out.append(regs[k >> 4][k & 15] // 1000 & _MASK32)
            else:
                out.append(self._max_demand(k, what == _MD_TIME, t))
        return out

    def _max_demand(self, name, when, t):
        # The maximum demand (total) of the billing period that ended at t, or its time, from
        # the billing service's snapshot of that end of billing; 0 when there is none.
        for s in self.meter.services:
            if isinstance(s, billing_service.BillingService):
                snap = s.snapshot
                if snap is not None and snap[1] == t:
                    md = snap[4][billing_service.QUANTITIES.index(name)]
                    v = md[1][0] if when else md[0][0]
                    return v & _MASK32 if v else 0
        return 0

    def capture(self, p, t, clear=True):
        """Append a row of profile `p` stamped `t` (UTC s); the pending status restarts."""
        p.buffer.append(self._values(p, t, p.status))
        if clear and p.status is not None:
            p.status = self._clock_invalid()
            self._write()

    def _fill(self, p, up_s):
        # Option OPT_FILL: the instants after both `since` and the newest row up to the boot
        # passed while the meter was off. A cut during the fill loses nothing: the next boot
        # starts after the newest row written.
        since = p.since
        n = len(p.buffer)
        if n:
            last = p.buffer.instant(n - 1)
            if since is None or last > since:
                since = last
        if since is None:
            return
        rule = self._rule()
        t, count = missed(since, up_s, p.period, rule, p.buffer.limit)
        status = PDN | DATA_NOT_VALID | self._clock_invalid()
        for _ in range(count):
            p.buffer.append(self._values(p, t, status))
            t = next_capture(t, p.period, rule)

    def _clock_invalid(self):
        valid = getattr(self.meter.board.clock, "valid", None)
        return 0 if valid is None or valid() else CLOCK_INVALID

    def _billing(self, t_s):
        if not self.meter.powered:
            return
        self.capture(self.by_key["billing1"], t_s)
        for p in self.items:
            if p.status is not None:
                p.status |= BILLING_RESET
        self._write()

    def _schedule(self, now):
        rule = self._rule()
        for p in self.items:
            p.due = next_capture(now, p.period, rule) if p.period else None

    # -- service protocol ---------------------------------------------------------------------

    def power_on(self, now_s):
        known = self._load()
        for p in self.items:
            if p.status is not None:
                p.status |= PUP | DATA_NOT_VALID | (PDN if known else 0) | self._clock_invalid()
                # Rows in time order: the outage's instants, then the power-up instant.
                if p.options & OPT_FILL:
                    self._fill(p, now_s)
                if p.options & OPT_POWER_UP:
                    self.capture(p, now_s)
                p.since = now_s
        self._schedule(now_s)
        self._write()

    def next_due(self, now_s):
        if not self.meter.powered:
            return None
        due = None
        for p in self.items:
            if p.due is not None and (due is None or p.due < due):
                due = p.due
        return due

    def tick(self, now_s):
        rule = self._rule()
        for p in self.items:
            if p.due is not None and p.due <= now_s:
                self.capture(p, p.due)
                p.due = next_capture(now_s, p.period, rule)

    def save(self):
        self._write()

    def clock_set(self, old_s, new_s):
        powered = self.meter.powered
        for p in self.items:
            if p.status is None:
                continue
            if powered and p.options & OPT_CLOCK_CHANGE:
                # The row closes the interval the set ends early: it was not measured whole.
                p.status |= CLOCK_ADJUSTED | DATA_NOT_VALID
                self.capture(p, old_s)
            p.status |= CLOCK_ADJUSTED | DATA_NOT_VALID
            if powered:
                p.since = new_s     # the instants a set forward skips are not missed
        if powered:
            self._schedule(new_s)
            self._write()

    # -- COSEM --------------------------------------------------------------------------------

    def bind(self, sources):
        for p in self.items:
            self._bind(sources, p)

    def _bind(self, sources, p):
        g, s, a = sources.getters, sources.setters, sources.actions
        k = p.key
        g[k + ".buffer"] = lambda: p.buffer
        g[k + ".capture_period"] = lambda: p.period
        g[k + ".entries_in_use"] = lambda: len(p.buffer)
        g[k + ".profile_entries"] = lambda: p.buffer.limit
        if p.status is not None:
            g[k + ".status"] = lambda: p.status
            g[k + ".options"] = lambda: p.options

        def set_period(v):
            # Only the load profiles change period; the billing profiles keep theirs.
            if p.status is None or not valid_period(v):
                if v != p.period:
                    raise ValueError("capture period not supported")
                return
            # The certification row first: a power cut never leaves a change without its row.
            self.meter.notify("certification", k + ".capture_period", p.period, v)
            p.period = v
            if self.meter.powered:
                now = self.meter.board.clock.now()
                p.due = next_capture(now, v, self._rule())
                p.since = now       # the instants of the new period before now were not due
            self._write()

        def set_entries(v):
            p.buffer.set_limit(v)
            self._write()

        def set_options(v):
            if not isinstance(v, int) or v & ~OPTIONS:
                raise ValueError("load profile option bits are 0x%02x" % OPTIONS)
            p.options = v
            self._write()

        def reset(arg):
            p.buffer.reset()
            if p.status is not None and self.meter.powered:
                p.since = self.meter.board.clock.now()      # no fill for the rows erased
                self._write()
            if k.startswith("lp"):
                self.meter.events.raise_event(_LOAD_CLEARED, self.meter.board.clock.now(),
                                              "standard")

        def capture(arg):
            if not self.meter.powered:
                raise ValueError("meter not measuring")
            self.capture(p, self.meter.board.clock.now(), False)

        s[k + ".capture_period"] = set_period
        s[k + ".profile_entries"] = set_entries
        if p.status is not None:
            s[k + ".options"] = set_options
        a[k + ".reset"] = reset
        a[k + ".capture"] = capture


def make(meter):
    """The profiles service of `meter`."""
    return Profiles(meter)
