"""The COSEM service of the meter: the object model of its model bound to the live Meter, the
application server, and its transports (COSEM wrapper on TCP, HDLC on the optical port).

    servers = await cosem_service.start(meter, wrapper_port, optical_port)

Sources (see cosem.sources) come from the Meter: energy registers (mWh ...), the last measured
window (mV, mA, mW ...), the board clock shown in local time (CET/CEST by default, the EU rule),
identification, security setup and the communication settings (cosem_service.SETTINGS, in RAM).
Tariff registers (`energy.Q.tN`) read the Meter's live TariffRegisters; the activity calendar
(`tou.*`, class 20), the special days table (`special_days.*`, class 11) and the tariff in force
(`tariff.active`) read and change the Meter's TimeOfUse: a written passive calendar or special
day is validated by core.calendar (CalendarError: type-unmatched for a wrong shape, other-reason
for a wrong value) and kept in NV before it takes effect; nothing changes when it is refused.

Writing the clock's time sets the board clock (runtime.clock_settings); its time zone and DST
attributes build a new rule, kept in the NV clock record with the time-shift limit (1-0:0.9.11).
The clock's methods adjust_to_quarter / _measuring_period / _minute, preset_adjusting_time,
adjust_to_preset_time and shift_time set the board clock too; every change of the time raises
events 4 (old time) and 5 (new time). Security setup key transfer and activation
(runtime.key_transfer) rekey the server for new associations and keep the keys in the NV keys
record (EK, AK, policy) and keys_ext record (broadcast key, master key); a transferred master key
wraps the next transfers.
"""
import struct

from cosem import activity_calendar as ac
from cosem import errors
from cosem import special_days_table as sdt
from cosem.sources import DictSources
from core import calendar, dst, special_days
from dlms import acse, axdr, server
from measure.energy import NAMES
from models import common
from runtime import clock_settings, key_transfer, log
from runtime.auth_guard import AuthGuard
from runtime.meter import KEY_CLOCK, KEY_IC, KEY_KEYS, TARIFFS, load_rule
import models

# Green Book test keys of the management client until a key transfer sets real ones.
TEST_EK = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
TEST_AK = b"\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
MANUFACTURER = b"ISK"
DEFAULT_SERIAL = 1
FIRMWARE_ID = b"MX382-PY-1.0"
# Invocation counters are reserved in NV this far ahead: one NV write per IC_STEP messages, and
# after a power cut both counters restart above everything used before it.
IC_STEP = 1024
# adjust_to_measuring_period rounds to this period (s) unless a service that owns the load
# profile sets "clock.measuring_period" (the IDIS load profile 1 period: 15 minutes).
MEASURING_PERIOD_S = 900
_QUARTER_S = 900
_MINUTE_S = 60
_EVENT_OLD_TIME = 4
_EVENT_NEW_TIME = 5
_EVENT_KEYS_CHANGED = 48
_A_PLUS = NAMES.index("A+")
_A_MINUS = NAMES.index("A-")


def system_title(serial):
    """Our system title: "ISK" + the serial number in 5 octets (big-endian)."""
    return MANUFACTURER + bytes((serial >> 32 & 0xFF, serial >> 24 & 0xFF, serial >> 16 & 0xFF,
                                 serial >> 8 & 0xFF, serial & 0xFF))


def _pattern(p):
    # A dst.Rule begin/end pattern as the 12-octet clock attribute (wildcards as 0xFF..).
    f = [None if v == 0xFF else v for v in p[1:]]
    return axdr.pack_datetime(None if p[0] == 0xFFFF else p[0], f[0], f[1], f[2], f[3], f[4],
                              f[5], None, None, None)


_CLOCK_RULE_ATTRIBUTES = ("clock.time_zone", "clock.daylight_savings_begin",
                          "clock.daylight_savings_end", "clock.daylight_savings_deviation",
                          "clock.daylight_savings_enabled")


class MeterSources(DictSources):
    """Sources over a running Meter (getters read it live) and the settings dict."""

    def __init__(self, meter, serial, title):
        DictSources.__init__(self, values=dict(common.SETTINGS))
        self.meter = meter
        self.rule = load_rule(meter.store)
        self.suite = None       # the management Suite0 (answers, pushes), once the server exists
        self.app = None         # the Server, once it exists (key transfer rekeys it)
        self.kek = key_transfer.DEFAULT_KEK     # master key: unwraps the next key transfer
        # Global broadcast key (None until transferred): stored only, the server takes no
        # broadcast requests.
        self.bk = None
        self.keys = (TEST_EK, TEST_AK)      # (EK, AK) of the management key set
        self._staged = None     # passive calendar tables written but not yet consistent
        g = self.getters
        ldn = MANUFACTURER + ("%013d" % serial).encode()
        self.values.update({
            "id.ldn": ldn, "id.serial": str(serial).encode(), "id.equipment": ldn,
            "fw.core.id": FIRMWARE_ID, "fw.core.signature": b"", "fw.module.id": FIRMWARE_ID,
            "fw.module.signature": b"",
            "clock.clock_base": 1, "sec0.security_policy": 3, "sec0.security_suite": 0,
            "sec0.client_system_title": b"", "sec0.server_system_title": title,
        })
        g["clock.time"] = self._time
        g["clock.status"] = self._clock_status
        g["sec0.invocation_counter"] = self._invocation_counter
        self.values.update(self._rule_values(self.rule))
        self.values["clock.measuring_period"] = MEASURING_PERIOD_S
        self.shift_limit = _load_shift_limit(meter.store)
        self._preset = None     # (preset, validity start, validity end) of preset_adjusting_time
        self.setters["clock.time"] = self._set_time
        for name in _CLOCK_RULE_ATTRIBUTES:
            self.setters[name] = self._rule_setter(name[6:])
        g["clock.shift_limit"] = lambda: self.shift_limit
        self.setters["clock.shift_limit"] = self._set_shift_limit
        self._clock_methods()
        self.actions["sec0.security_activate"] = self._security_activate
        self.actions["sec0.global_key_transfer"] = self._key_transfer
        for k in range(len(NAMES)):
            g["energy." + NAMES[k]] = self._energy(k, None)
            for p in range(meter.nphases if meter.nphases > 1 else 0):
                g["energy.%s.L%d" % (NAMES[k], p + 1)] = self._energy(k, p)
        g["energy.ABS"] = self._energy_abs(None)
        g["energy.NET"] = self._energy_net
        for p in range(meter.nphases if meter.nphases > 1 else 0):
            g["energy.ABS.L%d" % (p + 1)] = self._energy_abs(p)
        self._instantaneous()
        # A meter without time of use (the bare meters of transport tests) leaves the tariff
        # sources unbound: tariff registers read 0, the calendar objects fail.
        if getattr(meter, "tou", None) is not None:
            self.rule = meter.tou.rule
            self._time_of_use()
        for service in getattr(meter, "services", ()):
            service.bind(self)

    def call(self, name, argument):
        """Run the method behind source `name` (ValueError, answered other-reason, for one this
        meter does not have)."""
        f = self.actions.get(name)
        if f is None:
            raise ValueError("method not supported by this meter")
        return f(argument)

    # -- clock -------------------------------------------------------------------------------

    def _rule_values(self, r):
        # The clock attributes showing rule r (raises before anything changes if one cannot).
        return {
            "clock.time_zone": r.time_zone,
            "clock.daylight_savings_begin": _pattern(r.begin),
            "clock.daylight_savings_end": _pattern(r.end),
            "clock.daylight_savings_deviation": r.deviation,
            "clock.daylight_savings_enabled": r.enabled,
        }

    def _set_time(self, raw):
        utc, us = clock_settings.time_to_utc(raw, self.rule)
        self._change_time(utc, us, "set")

    def _change_time(self, utc, us, how):
        # The one way the COSEM server changes the time: events 4 and 5 around the change (a
        # meter without an event path, as in unit tests, only sets the clock).
        events = getattr(self.meter, "events", None) is not None
        if events:
            self.meter.raise_event(_EVENT_OLD_TIME)
        self.meter.set_time(utc, us)
        if events:
            self.meter.raise_event(_EVENT_NEW_TIME)
        log.info("clock %s to %d s UTC (since 2000)", how, utc)

    def _clock_methods(self):
        a = self.actions
        a["clock.adjust_to_quarter"] = self._adjust(lambda: _QUARTER_S)
        a["clock.adjust_to_minute"] = self._adjust(lambda: _MINUTE_S)
        a["clock.adjust_to_measuring_period"] = self._adjust(
            lambda: self.read("clock.measuring_period"))
        a["clock.adjust_to_preset_time"] = self._adjust_to_preset
        a["clock.preset_adjusting_time"] = self._preset_adjusting_time
        a["clock.shift_time"] = self._shift_time

    def _adjust(self, period):
        # adjust_to_quarter / _minute / _measuring_period: data ::= integer(0).
        def run(argument):
            _no_argument(argument)
            now = self.meter.board.clock.now()
            self._change_time(clock_settings.nearest(now, self.rule, period()), 0, "adjusted")
        return run

    def _preset_adjusting_time(self, argument):
        # Kept in RAM until used: a preset that a power cut loses is simply not applied.
        self._preset = clock_settings.preset(argument, self.rule)

    def _adjust_to_preset(self, argument):
        _no_argument(argument)
        p = self._preset
        if p is None:
            raise ValueError("no preset adjusting time")
        now = self.meter.board.clock.now()
        if not p[1][0] <= now <= p[2][0]:
            raise ValueError("outside the validity interval of the preset time")
        self._preset = None
        self._change_time(p[0][0], p[0][1], "set to the preset time")

    def _shift_time(self, seconds):
        now = self.meter.board.clock.now()
        self._change_time(clock_settings.shifted(now, seconds, self.shift_limit), 0,
                          "shifted by %d s" % seconds)

    def _set_shift_limit(self, seconds):
        clock_settings.check_shift_limit(seconds)
        # The certification row first: a power cut never leaves a change without its row (a
        # meter stand-in without services has no notify).
        if getattr(self.meter, "notify", None) is not None:
            self.meter.notify("certification", "clock.shift_limit", self.shift_limit, seconds)
        self.meter.store.write(KEY_CLOCK, clock_settings.pack(self.rule, seconds))
        self.shift_limit = seconds

    def _rule_setter(self, attribute):
        def write(value):
            # The new rule is complete and valid before anything changes (dst.Rule checks it).
            rule = clock_settings.with_attribute(self.rule, attribute, value)
            shown = self._rule_values(rule)
            self.meter.store.write(KEY_CLOCK, clock_settings.pack(rule, self.shift_limit))
            self.rule = rule
            self.values.update(shown)
            if getattr(self.meter, "tou", None) is not None:
                self.meter.set_rule(rule)
        return write

    def _time(self):
        y, mo, d, wd, h, mi, s, deviation, active = dst.clock_fields(
            self.meter.board.clock.now(), self.rule)
        return axdr.pack_datetime(y, mo, d, wd, h, mi, s, 0, deviation,
                                  (axdr.STATUS_DST if active else 0) | self._invalid())

    def _clock_status(self):
        dst_bit = axdr.STATUS_DST if dst.is_dst(self.meter.board.clock.now(), self.rule) else 0
        return dst_bit | self._invalid()

    def _invalid(self):
        # The RTC lost its time (backup supply exhausted) and nobody has set it since.
        valid = getattr(self.meter.board.clock, "valid", None)
        return 0 if valid is None or valid() else axdr.STATUS_INVALID

    # -- security setup ----------------------------------------------------------------------

    def _security_activate(self, policy):
        old = self.values["sec0.security_policy"]
        new = key_transfer.raise_policy(old, policy)
        if new != old:
            self.meter.store.write(KEY_KEYS, key_transfer.pack(new, self.keys[0], self.keys[1]))
            self.values["sec0.security_policy"] = new
            self.app.policy = key_transfer.POLICY_SC[new]
        return None

    def _key_transfer(self, items):
        got = key_transfer.unwrap_all(self.kek, items)
        # One NV record per transfer (unwrap_all refuses a mix): the record store replaces it
        # atomically, so a power cut leaves all the old keys or all the new ones. NV first: if
        # the write fails nothing has changed.
        if key_transfer.KEY_BK in got or key_transfer.KEY_MK in got:
            bk = got.get(key_transfer.KEY_BK, self.bk)
            mk = got.get(key_transfer.KEY_MK, self.kek)
            self.meter.store.write(key_transfer.KEY_EXT, key_transfer.pack_ext(bk, mk))
            self.bk = bk
            self.kek = mk
        else:
            ek = got.get(key_transfer.KEY_EK, self.keys[0])
            ak = got.get(key_transfer.KEY_AK, self.keys[1])
            self.meter.store.write(KEY_KEYS, key_transfer.pack(
                self.values["sec0.security_policy"], ek, ak))
            self.suite = self.app.rekey(common.CLIENTS[common.MANAGEMENT].sap, ek, ak)
            # The answer to this transfer still goes out under the old keys with the next
            # counter: the new keys (pushes, new associations) start after it, not on it.
            self.suite.tx_ic += 1
            self.keys = (ek, ak)
        if getattr(self.meter, "events", None) is not None:
            self.meter.raise_event(_EVENT_KEYS_CHANGED)
        log.info("key transfer: key ids %s set", sorted(got))
        return None

    def _invocation_counter(self):
        # The last counter the management client used: its next request must be above it.
        return max(self.suite.rx_ic, 0) if self.suite is not None else 0

    # -- energy and instantaneous values ------------------------------------------------------

    def _registers(self):
        # The energy registers themselves: Meter.energy() would build every total, tariff and
        # phase dict (and evaluate the tariff in force) for each value read.
        e = self.meter.energy_regs
        if e is None:
            raise KeyError("meter powered off")
        return e

    def _energy(self, k, phase):
        def read():
            e = self._registers()
            return e.total[k] if phase is None else e.phase[phase][k]
        return read

    def _energy_abs(self, phase):
        def read():
            e = self._registers()
            t = e.total if phase is None else e.phase[phase]
            return t[_A_PLUS] + t[_A_MINUS]
        return read

    def _energy_net(self):
        t = self._registers().total
        return t[_A_PLUS] - t[_A_MINUS]

    def _tariff(self, k, t):
        def read():
            r = self.meter.tariff_regs
            if r is None:
                raise errors.TemporaryFailure("meter powered off")
            return r.regs[t][k]
        return read

    def _tariff_combined(self, t, sign):
        # ABS (sign 1) and NET (sign -1) of tariff t from its A+ and A- registers.
        def read():
            r = self.meter.tariff_regs
            if r is None:
                raise errors.TemporaryFailure("meter powered off")
            return r.regs[t][_A_PLUS] + sign * r.regs[t][_A_MINUS]
        return read

    # -- time of use -------------------------------------------------------------------------

    def _time_of_use(self):
        g = self.getters
        for t in range(TARIFFS):
            for k in range(len(NAMES)):
                g["energy.%s.t%d" % (NAMES[k], t + 1)] = self._tariff(k, t)
            g["energy.ABS.t%d" % (t + 1)] = self._tariff_combined(t, 1)
            g["energy.NET.t%d" % (t + 1)] = self._tariff_combined(t, -1)
        g["tariff.active"] = self.meter.active_tariff
        for n in range(4):
            g["tou.%s_active" % _PARTS[n]] = self._active_part(n)
            g["tou.%s_passive" % _PARTS[n]] = self._passive_part(n)
            self.setters["tou.%s_passive" % _PARTS[n]] = self._passive_setter(n)
        g["tou.activate_passive_calendar_time"] = lambda: ac.pattern_octets(
            self.meter.tou.activity.activation_time)
        self.setters["tou.activate_passive_calendar_time"] = self._set_activation_time
        self.actions["tou.activate_passive_calendar"] = self._activate_passive
        g["special_days.entries"] = lambda: sdt.entries_data(self.meter.tou.special_days)
        self.setters["special_days.entries"] = self._special_days(
            lambda sd, v: sd.set_entries(sdt.entries_from(v)))
        self.actions["special_days.insert"] = self._special_days(
            lambda sd, v: sd.insert(sdt.entry_from(v)))
        self.actions["special_days.delete"] = self._special_days(lambda sd, v: sd.delete(v))

    def _active_part(self, n):
        return lambda: _calendar_parts(self.meter.tou.activity.active)[n]

    def _passive_part(self, n):
        return lambda: (self._staged or _calendar_parts(self.meter.tou.activity.passive))[n]

    def _passive_setter(self, n):
        # Each attribute is checked on its own; the passive calendar changes (in NV first) once
        # the four tables fit together. Until then the written tables wait here (RAM), so a
        # client may write them in any order.
        def write(value):
            _checked(lambda: ac.check_part(n, value))
            a = self.meter.tou.activity
            parts = list(self._staged or _calendar_parts(a.passive))
            parts[n] = value
            try:
                cal = ac.calendar_from(*parts)
            except calendar.CalendarError:
                self._staged = parts
                return
            new = calendar.ActivityCalendar(a.active, cal)
            new.activation_time = a.activation_time
            self.meter.set_activity(new)
            self._staged = None
            log.info("passive calendar written (passive TOU programmed)")
        return write

    def _set_activation_time(self, raw):
        a = self.meter.tou.activity
        new = calendar.ActivityCalendar(a.active, a.passive)
        _checked(lambda: new.set_activation_time(ac.pattern_from(raw)))
        self.meter.set_activity(new)

    def _activate_passive(self, _):
        if self._staged is not None:
            raise errors.OtherReason("the passive tables do not fit together")
        passive = self.meter.tou.activity.passive
        self.meter.set_activity(calendar.ActivityCalendar(passive, passive))
        log.info("passive calendar activated (TOU activated)")

    def _special_days(self, change):
        # A change applied to a copy of the table, which replaces it once it is in NV.
        def run(value):
            new = special_days.SpecialDays(self.meter.tou.special_days.entries)
            _checked(lambda: change(new, value))
            self.meter.set_special_days(new)
        return run

    def _phases(self):
        v = self.meter.values()
        if not v:
            raise KeyError("meter powered off")
        return v

    def _instantaneous(self):
        g = self.getters
        n = self.meter.nphases
        for p in range(n):
            s = ".%d" % (p + 1)
            g["inst.u" + s] = self._phase_value(p, "u_mv")
            g["inst.i" + s] = self._phase_value(p, "i_ma")
            g["inst.pf" + s] = self._phase_value(p, "pf")
            for q, key, sign in (("p+", "p_mw", 1), ("p-", "p_mw", -1), ("q+", "q_mvar", 1),
                                 ("q-", "q_mvar", -1)):
                g["inst." + q + s] = self._directed(p, key, sign)
            g["inst.s+" + s] = self._apparent(p, 1)
            g["inst.s-" + s] = self._apparent(p, -1)
        everything = range(n)
        g["inst.i"] = lambda: sum(ph["i_ma"] for ph in self._phases()["phases"])
        g["inst.i.n"] = lambda: self._phases()["in_ma"]
        g["inst.f"] = lambda: self._phases()["f_chz"]
        g["inst.pf"] = self._total_pf
        for q, key, sign in (("p+", "p_mw", 1), ("p-", "p_mw", -1), ("q+", "q_mvar", 1),
                             ("q-", "q_mvar", -1)):
            g["inst." + q] = self._sum(everything, key, sign)
        g["inst.s+"] = lambda: sum(self._apparent(p, 1)() for p in everything)
        g["inst.s-"] = lambda: sum(self._apparent(p, -1)() for p in everything)
        g["inst.abs"] = lambda: sum(abs(ph["p_mw"]) for ph in self._phases()["phases"])
        g["inst.net"] = lambda: sum(ph["p_mw"] for ph in self._phases()["phases"])

    def _phase_value(self, p, key):
        return lambda: self._phases()["phases"][p][key]

    def _directed(self, p, key, sign):
        # The part of a signed quantity flowing in one direction (import +, export -).
        def read():
            v = self._phases()["phases"][p][key] * sign
            return v if v > 0 else 0
        return read

    def _apparent(self, p, sign):
        # S is counted as imported or exported with the direction of P.
        def read():
            ph = self._phases()["phases"][p]
            return ph["s_mva"] if ph["p_mw"] * sign > 0 or (sign > 0 and ph["p_mw"] == 0) else 0
        return read

    def _sum(self, phases, key, sign):
        def read():
            total = 0
            for p in phases:
                v = self._phases()["phases"][p][key] * sign
                total += v if v > 0 else 0
            return total
        return read

    def _total_pf(self):
        ph = self._phases()["phases"]
        p = sum(x["p_mw"] for x in ph)
        s = sum(x["s_mva"] for x in ph)
        return 1000 if s == 0 else p * 1000 // s


_PARTS = ("calendar_name", "season_profile", "week_profile_table", "day_profile_table")


def _calendar_parts(cal):
    # Attributes 2..5 (or 6..9) of a core Calendar.
    return (cal.name, ac.seasons_data(cal), ac.weeks_data(cal), ac.days_data(cal))


def _checked(f):
    """f() with a CalendarError answered type-unmatched (wrong shape) or other-reason."""
    try:
        return f()
    except calendar.CalendarError as e:
        if e.type_unmatched:
            raise errors.TypeUnmatched(str(e))
        raise errors.OtherReason(str(e))


def _no_argument(argument):
    # The adjust methods take integer(0); no parameter at all is accepted as well.
    if argument is not None and argument != (axdr.INTEGER, 0):
        raise errors.TypeUnmatched("the method takes integer(0)")


def _load_shift_limit(store):
    # The time-shift limit of the NV clock record (the default without a usable one: the rule
    # loader has already logged why).
    raw = store.read(KEY_CLOCK)
    if raw is not None:
        try:
            return clock_settings.unpack_shift_limit(raw)
        except ValueError:
            pass
    return clock_settings.SHIFT_LIMIT_DEFAULT


def _load_keys(store):
    # (policy, EK, AK) from NV, or policy 3 with the Green Book test keys.
    raw = store.read(KEY_KEYS)
    if raw is not None:
        try:
            return key_transfer.unpack(raw)
        except ValueError as e:
            log.error("%s: test keys in use", e)
    return 3, TEST_EK, TEST_AK


def _load_ext_keys(store):
    # (broadcast key or None, master key) from NV, or none and the Green Book test KEK.
    raw = store.read(key_transfer.KEY_EXT)
    if raw is not None:
        try:
            return key_transfer.unpack_ext(raw)
        except ValueError as e:
            log.error("%s: test master key in use", e)
    return None, key_transfer.DEFAULT_KEK


def build(meter, serial=DEFAULT_SERIAL, keys=None, guard=None):
    """(Server, sources) of the meter's model; `keys` {client SAP: (EK, AK)} defaults to the
    keys of the NV keys record (the Green Book test keys until a key transfer) for the
    management and pre-established clients; `guard` (an AuthGuard) defaults to a new one."""
    title = system_title(serial)
    src = MeterSources(meter, serial, title)
    model = models.load(meter.model, src)
    src.model = model   # services that read objects as GET would (push) reach it through the sources
    policy, ek, ak = _load_keys(meter.store)
    if keys is None:
        keys = {c.sap: (ek, ak) for c in common.CLIENTS
                if c.context == acse.CONTEXT_LN_CIPHERED}
    msap = common.CLIENTS[common.MANAGEMENT].sap
    if msap in keys:
        src.keys = keys[msap]
    src.values["sec0.security_policy"] = policy
    src.bk, src.kek = _load_ext_keys(meter.store)
    app = server.Server(model, title, keys, key_transfer.POLICY_SC[policy],
                        guard=AuthGuard() if guard is None else guard)
    if getattr(meter, "events", None) is not None:
        app.on_event = meter.raise_event        # 46, 49, 50 in the fraud detection log
    src.app = app
    src.suite = app.suites.get(msap)
    if src.suite is not None:
        _persist_counters(meter.store, src.suite)
    return app, src


def _persist_counters(store, suite):
    """Restore the suite's counters from the NV reservation and keep reserving ahead.

    The stored pair (tx, rx + 1) is a limit nothing before a power cut went past, so the server
    sends above it and accepts only counters above it after a restart (clients read the frame
    counter object before associating, as IDIS clients do).

    A key transfer does not reset the counters: the new suite continues them (Server.rekey) and
    shares this reservation, which never goes down, even while an association opened under the
    old keys keeps counting on the old suite.
    """
    raw = store.read(KEY_IC)
    reserved = [0, -1]
    if raw is not None and len(raw) == 8:
        tx, rx1 = struct.unpack("<II", raw)
        suite.tx_ic = tx
        suite.rx_ic = rx1 - 1
        reserved = [tx, rx1 - 1]

    def reserve(s, tx, rx):
        tx_limit = max(tx, s.tx_ic, reserved[0]) + IC_STEP
        rx_limit = max(rx, s.rx_ic, reserved[1]) + IC_STEP
        store.write(KEY_IC, struct.pack("<II", tx_limit, rx_limit + 1))
        reserved[0] = tx_limit
        reserved[1] = rx_limit
        s.tx_limit = tx_limit
        s.rx_limit = rx_limit

    suite.on_limit = reserve
    suite.tx_limit = suite.tx_ic  # reserve before the first counter after boot is used
    suite.rx_limit = suite.rx_ic


async def start(meter, wrapper_port, optical_port=0, serial=DEFAULT_SERIAL):
    """Start the COSEM transports on 127.0.0.1 (a port of 0 leaves that one off); return the
    list of asyncio servers (close() them to stop)."""
    from links import tcp_wrapper
    app, _ = build(meter, serial)
    servers = []
    if wrapper_port:
        servers.append(await tcp_wrapper.serve(app, wrapper_port))
    if optical_port:
        from links import optical
        servers.append(await optical.serve(app, optical_port,
                                           ("%s-%d" % (meter.model.upper(), serial)).encode()))
    return servers
