"""Demand registers and end of billing on the running meter (docs/demand_billing.md).

Demand: one `core.demand.Demand` per quantity of QUANTITIES (A+, A-, R+, R-, S+, S-), fed at each
sub-period end with the energy register delta since the previous end, booked with the tariff in
force during the sub-period's last second. The Meter ticks the service at those ends
(`next_due`). A tick that comes later than the end (the first measured window ending after it, an
`advance` step not cut there) shares the energy measured since the last booking between the two
sub-periods in proportion to the time.

End of billing: the single action schedule 0-0:15.0.0 (default: 1st of every month 00:00 local)
executes script 1 of the script table 0-0:10.0.1; a COSEM ACTION on 0-0:10.0.1 executes it at
once. Script 1: counter + 1, time of the last billing, the "billing" notification (billing
profiles capture the maxima of the period that ends), cumulative maximum demand += maximum
demand, maxima reset, event 231. Script 2 resets the maximum demand alone (cumulated first).

NV: record "billing" (core.billing record: counter, last billing, schedule progress, maxima and
cumulative maxima), written at each end of billing and at the Meter's saves when a maximum
changed; record "billing_cfg" (demand periods, schedule type and execution times), written when
a client changes them. The running demand window is RAM state: after a boot its first sub-period
is flagged (power up) and sets no maximum. An end of billing missed while the meter was off runs
once at power-up.
"""
import struct
from binascii import crc32

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import billing, datepattern, demand, schedule
from cosem import demand_register, errors
from cosem import single_action_schedule as sas
from dlms import axdr
from measure.energy import NAMES, NREG
from runtime import log
from runtime.service import Service

KEY_BILLING = "billing"
KEY_SETTINGS = "billing_cfg"
QUANTITIES = ("A+", "A-", "R+", "R-", "S+", "S-")
TARIFFS = const(8)
# 0-0:0.1.1 counts the periods a monthly billing profile of this depth holds (F = 0..11).
PROFILE_DEPTH = const(12)
MAX_ENTRIES = const(16)          # execution times of 0-0:15.0.0 kept in NV
EVENT_BILLING_RESET = const(231)
SCRIPT_END_OF_BILLING = const(1)
SCRIPT_MD_RESET = const(2)
SCRIPTS_LN = b"\x00\x00\x0a\x00\x01\xff"      # 0-0:10.0.1
DEFAULT_PERIOD = const(900)
_EXECUTED_SCRIPT = (axdr.STRUCTURE, [(axdr.OCTET_STRING, SCRIPTS_LN),
                                     (axdr.LONG_UNSIGNED, SCRIPT_END_OF_BILLING)])

_CFG_VERSION = const(1)
_CFG_HDR = "<BBB"                # version, schedule type, number of execution times
_CFG_ENTRY = "<BBBHBBB"          # hour, minute, second, year, month, day, day of week
_CFG_DEMAND = "<HB"              # period, number of periods
_ANY = datepattern.ANY


def default_entries():
    """Execution time of the default end of billing: day 1 of every month, 00:00:00 local."""
    return [((0, 0, 0), (datepattern.ANY_YEAR, _ANY, 1, _ANY))]


def pack_settings(kind, entries, periods):
    """NV record of the settings: schedule type, execution times, (period, n) per quantity."""
    buf = bytearray(struct.calcsize(_CFG_HDR) + struct.calcsize(_CFG_ENTRY) * len(entries)
                    + struct.calcsize(_CFG_DEMAND) * len(periods) + 4)
    struct.pack_into(_CFG_HDR, buf, 0, _CFG_VERSION, kind, len(entries))
    pos = struct.calcsize(_CFG_HDR)
    for (h, mi, s), (y, mo, d, w) in entries:
        struct.pack_into(_CFG_ENTRY, buf, pos, h, mi, s, y, mo, d, w)
        pos += struct.calcsize(_CFG_ENTRY)
    for p, n in periods:
        struct.pack_into(_CFG_DEMAND, buf, pos, p, n)
        pos += struct.calcsize(_CFG_DEMAND)
    struct.pack_into("<I", buf, pos, crc32(memoryview(buf)[:pos]) & 0xFFFFFFFF)
    return bytes(buf)


def unpack_settings(data, nq):
    """(kind, entries, periods) of a settings record; ValueError if it is not a valid one."""
    hdr = struct.calcsize(_CFG_HDR)
    if len(data) < hdr + 4:
        raise ValueError("settings record truncated")
    ver, kind, count = struct.unpack_from(_CFG_HDR, data, 0)
    if ver != _CFG_VERSION:
        raise ValueError("settings record version %d" % ver)
    size = hdr + struct.calcsize(_CFG_ENTRY) * count + struct.calcsize(_CFG_DEMAND) * nq + 4
    if len(data) != size:
        raise ValueError("settings record length %d, expected %d" % (len(data), size))
    if struct.unpack_from("<I", data, size - 4)[0] != crc32(memoryview(data)[:size - 4]) \
            & 0xFFFFFFFF:
        raise ValueError("settings record CRC mismatch")
    pos = hdr
    entries = []
    for _ in range(count):
        h, mi, s, y, mo, d, w = struct.unpack_from(_CFG_ENTRY, data, pos)
        entries.append(((h, mi, s), (y, mo, d, w)))
        pos += struct.calcsize(_CFG_ENTRY)
    periods = []
    for _ in range(nq):
        p, n = struct.unpack_from(_CFG_DEMAND, data, pos)
        demand_register.check_period(p, n)
        periods.append((p, n))
        pos += struct.calcsize(_CFG_DEMAND)
    schedule.check(kind, entries)
    return kind, entries, periods


class BillingService(Service):
    """Demand registers of QUANTITIES, maximum demand, end of billing."""

    def __init__(self, meter):
        self.meter = meter
        self.index = [NAMES.index(q) for q in QUANTITIES]
        self.kind = 1
        self.entries = default_entries()
        self.periods = [(DEFAULT_PERIOD, 1)] * len(QUANTITIES)
        self.demands = []
        self.billing = None
        self.snapshot = None        # the snapshot of the last end of billing since boot
        self._last = [0] * len(QUANTITIES)     # energy totals booked so far, per quantity
        self._at = [0] * len(QUANTITIES)       # ... and the instant they were measured up to
        self._due = None
        self._rule = None
        self._dirty = False

    # -- state -------------------------------------------------------------------------------

    def _offset(self):
        # Local standard time - UTC (s): periods end on the local quarter hours.
        return -60 * self.meter.tou.rule.time_zone

    def _schedule(self, done=None):
        self._rule = self.meter.tou.rule
        return schedule.Schedule(self.kind, self.entries, self._rule, done)

    def _load_settings(self):
        raw = self.meter.store.read(KEY_SETTINGS)
        if raw is None:
            return
        try:
            self.kind, self.entries, self.periods = unpack_settings(raw, len(QUANTITIES))
        except (ValueError, struct.error) as e:
            log.error("billing settings unusable (%s): defaults", e)

    def _totals(self):
        return self.meter.energy_regs.total

    def _pending(self, i):
        if self.meter.energy_regs is None:
            return 0
        return self._totals()[self.index[i]] - self._last[i]

    def _new_demand(self, i, now, flags):
        p, n = self.periods[i]
        d = demand.Demand(p, n, TARIFFS, self._offset())
        d.start(now, flags)
        return d

    def power_on(self, now_s):
        """Boot: settings and billing record from NV, new demand windows (flagged power up),
        a missed end of billing carried out once."""
        self._load_settings()
        raw = self.meter.store.read(KEY_BILLING)
        flags = demand.STATUS_POWER_UP if raw is not None else 0
        self.demands[:] = [self._new_demand(i, now_s, flags) for i in range(len(QUANTITIES))]
        self.billing = billing.Billing(NREG, TARIFFS, self.demands, 0, self._schedule())
        if raw is not None:
            try:
                self.billing.load(raw)
            except billing.RecordError as e:
                log.error("billing record unusable (%s): maxima start at zero", e)
        totals = self._totals()
        self._last = [totals[k] for k in self.index]
        self._at = [now_s] * len(QUANTITIES)
        # A first boot saves its starting point: an end of billing due while the meter is off
        # after it must still run at the next power-up.
        self._dirty = raw is None
        self._poll(now_s)
        self._plan()

    def save(self):
        """Write the billing record if a maximum or the schedule's progress changed."""
        if self._dirty and self.billing is not None:
            self._write()

    def _write(self):
        self.meter.store.write(KEY_BILLING, self.billing.to_bytes())
        self._dirty = False

    def power_off(self, now_s, hard):
        """Power failure: the running windows are RAM state and end here."""
        self.billing = None
        self._due = None

    # -- time --------------------------------------------------------------------------------

    def next_due(self, now_s):
        """The earliest sub-period end and end of billing execution."""
        return self._due

    def _plan(self):
        # The Meter asks next_due several times per tick: work it out once per change.
        if self.billing is None:
            self._due = None
            return
        due = self.billing.schedule.pending()
        for d in self.demands:
            b = d.next_boundary()
            if due is None or b < due:
                due = b
        self._due = due

    def tick(self, now_s):
        """Close the sub-periods that ended, then run a due end of billing."""
        if self.billing is None:
            return
        self._feed(now_s)
        self._poll(now_s)
        self._plan()

    def _feed(self, now):
        totals = self._totals()
        switches = self.meter.switches
        tb = None
        for i in range(len(self.demands)):
            d = self.demands[i]
            b = d.next_boundary()
            if b > now:
                continue
            k = self.index[i]
            while b <= now:
                # A tick later than the boundary (a window or a step ending after it): the
                # energy since the last booking is shared in proportion to the time.
                e = totals[k] - self._last[i]
                t0 = self._at[i]
                if now > b and b > t0:
                    e = e * (b - t0) // (now - t0)
                elif b <= t0:
                    e = 0
                self._last[i] += e
                self._at[i] = b
                if b != tb:
                    tb = b
                    tariff = switches.active_tariff(b - 1)
                d.feed(e, b, tariff)
                if d.max_time[0] == b or d.max_time[tariff] == b:
                    self._dirty = True
                b = d.next_boundary()

    def _poll(self, now):
        if self.meter.tou.rule is not self._rule:
            self._rule_changed(now)
        regs = self.meter.tariff_regs.regs
        if self.billing.poll(now, self._totals(), regs, self._notify) is not None:
            self._ended(now)

    def _rule_changed(self, now):
        # A new time zone / DST rule: windows realigned (flagged clock), executions re-planned.
        self.billing.schedule = self._schedule(self.billing.schedule.done)
        off = self._offset()
        for i in range(len(self.demands)):
            d = self.demands[i]
            if d.offset_s != off:
                self._book(i, now)
                d.offset_s = off
                d.clock_changed(now, now)

    def _notify(self, snap):
        self.snapshot = snap
        self.meter.notify("billing", snap[1])

    def _ended(self, now):
        self._write()
        try:
            self.meter.raise_event(EVENT_BILLING_RESET)
        except ValueError as e:
            log.warning("billing: event %d not raised: %s", EVENT_BILLING_RESET, e)
        log.info("end of billing %d at %d", self.billing.counter, now)

    def clock_set(self, old_s, new_s):
        """Close the running sub-periods at the old time, go on from the new one."""
        if self.billing is None:
            return
        self._feed(old_s)
        for i in range(len(self.demands)):
            self._book(i, old_s)
            self._at[i] = new_s
            self.demands[i].clock_changed(old_s, new_s)
        self._dirty = True
        self._plan()

    def _book(self, i, t):
        # Feed register i the energy measured since its last booking, at t (sub-periods ending
        # at or before t already closed by _feed).
        k = self.index[i]
        total = self._totals()[k]
        self.demands[i].feed(total - self._last[i], t, self.meter.switches.active_tariff(t))
        self._last[i] = total
        self._at[i] = t

    # -- scripts and methods ----------------------------------------------------------------

    def end_of_billing(self):
        """Script 1 of 0-0:10.0.1 now."""
        now = self.meter.board.clock.now()
        self.billing.end_of_billing(now, self._totals(), self.meter.tariff_regs.regs,
                                    self._notify)
        self._ended(now)

    def md_reset(self):
        """Script 2 of 0-0:10.0.1: cumulate and reset the maximum demand registers."""
        for d in self.demands:
            d.end_of_billing()
        self._write()

    def _execute(self, script):
        if self.billing is None:
            raise errors.TemporaryFailure("meter powered off")
        if script == SCRIPT_END_OF_BILLING:
            self.end_of_billing()
        elif script == SCRIPT_MD_RESET:
            self.md_reset()
        else:
            raise ValueError("no such script")

    def _running(self, i):
        if self.billing is None:
            raise errors.TemporaryFailure("meter powered off")
        return self.demands[i]

    def set_period(self, i, period, n):
        """New period / number_of_periods of quantity i: kept in NV, its window restarts now
        (flagged clock); maxima and cumulative values stay."""
        demand_register.check_period(period, n)
        old = self._running(i)
        periods = self.periods[:]
        periods[i] = (period, n)
        self.meter.store.write(KEY_SETTINGS, pack_settings(self.kind, self.entries, periods))
        self.periods = periods
        now = self.meter.board.clock.now()
        self._feed(now)
        d = self._new_demand(i, now, demand.STATUS_CLOCK)
        d.max_value[:] = old.max_value
        d.max_time[:] = old.max_time
        d.cum_value[:] = old.cum_value
        self.demands[i] = d
        self._last[i] = self._totals()[self.index[i]]
        self._at[i] = now
        self._plan()

    def set_schedule(self, kind, entries):
        """New type and execution times of 0-0:15.0.0 (checked first; kept in NV); executions
        already handled are not repeated."""
        schedule.check(kind, entries)
        if len(entries) > MAX_ENTRIES:
            raise ValueError("at most %d execution times" % MAX_ENTRIES)
        if self.billing is None:
            raise errors.TemporaryFailure("meter powered off")
        self.meter.store.write(KEY_SETTINGS, pack_settings(kind, entries, self.periods))
        self.kind = kind
        self.entries = list(entries)
        s = self.billing.schedule
        self.billing.schedule = self._schedule(s.done)
        self._dirty = True
        self._plan()

    # -- COSEM ---------------------------------------------------------------------------------

    def bind(self, sources):
        """Sources of the demand objects, the billing objects, 0-0:10.0.1 and 0-0:15.0.0."""
        g = sources.getters
        for i in range(len(QUANTITIES)):
            name = QUANTITIES[i]
            g.update(demand_register.getters(name, self._getter(i), self._pending_of(i),
                                              self._clock_rule, TARIFFS))
            b = "demand." + name
            sources.setters[b + ".period"] = self._period_setter(i, True)
            sources.setters[b + ".number_of_periods"] = self._period_setter(i, False)
            sources.actions[b + ".reset"] = self._method(i, True)
            sources.actions[b + ".next_period"] = self._method(i, False)
        g["billing.counter"] = lambda: self._billing().counter
        g["billing.available"] = lambda: min(self._billing().counter, PROFILE_DEPTH)
        g["billing.last"] = lambda: demand_register.datetime_octets(self._billing().last_reset,
                                                                     self._clock_rule())
        sources.actions["billing_scripts.execute"] = self._execute
        g["billing_schedule.executed_script"] = lambda: _EXECUTED_SCRIPT
        g["billing_schedule.type"] = lambda: self.kind
        g["billing_schedule.execution_time"] = lambda: sas.entries_data(self.entries)
        sources.setters["billing_schedule.type"] = lambda k: self.set_schedule(k, self.entries)
        sources.setters["billing_schedule.execution_time"] = \
            lambda data: self.set_schedule(self.kind, sas.entries_from(data))

    def _billing(self):
        if self.billing is None:
            raise errors.TemporaryFailure("meter powered off")
        return self.billing

    def _clock_rule(self):
        return self.meter.tou.rule

    def _getter(self, i):
        return lambda: self._running(i)

    def _pending_of(self, i):
        return lambda: self._pending(i)

    def _period_setter(self, i, is_period):
        def write(value):
            p, n = self.periods[i]
            if is_period:
                # The certification row first: a power cut never leaves a change without it.
                demand_register.check_period(value, n)
                self.meter.notify("certification", "demand.%s.period" % QUANTITIES[i], p,
                                  value)
                self.set_period(i, value, n)
            else:
                self.set_period(i, p, value)
        return write

    def _method(self, i, is_reset):
        def run(_):
            d = self._running(i)
            now = self.meter.board.clock.now()
            self._feed(now)
            self._book(i, now)
            if is_reset:
                d.reset(now)
            else:
                d.next_period(now)
            self._plan()
            return None
        return run


def make(meter):
    """The billing service of `meter`."""
    return BillingService(meter)
