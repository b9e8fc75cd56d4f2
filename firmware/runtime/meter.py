"""The Meter: the one object that wires the board to the services and runs their asyncio tasks.

Power model: `power_on` is a boot (RAM state rebuilt from the NV record store), `power_off` is the
power-fail path (registers saved within the hold-up budget, then every task stops). A hard cut skips the
save, as a supply that vanishes without warning would; what was consumed since the last periodic save is
then lost, nothing else.

Time of use (docs/tariffs.md): the Meter owns the TimeOfUse (calendar and special days from NV) and,
while powered, the tariff registers; every measured window and every `advance` step is booked to
the tariff in force, split at the exact switch instant, so the tariffs always sum to the totals.
"""
import asyncio

from core import calendar, dst, special_days, tariff
from core.tariff_registers import TariffRegisters
from runtime import clock_settings, log, nvstore, records
from measure import rating
from measure.calibration import Calibration, CalibrationError
from measure.energy import NAMES, NREG
from measure.metrology import Metrology

# NV record keys and their maximum sizes; registration order fixes the NV layout: append only.
KEY_CAL = "cal"
KEY_ENERGY = "energy"   # energy record version 1 of older firmware: only read, to refuse it
KEY_IC = "ic"
KEY_CLOCK = "clock"     # time zone and DST rule (runtime.clock_settings)
KEY_KEYS = "keys"       # security policy and suite 0 keys (runtime.key_transfer)
KEY_REGISTERS = "registers"     # energy record version 2: totals, phases and tariff registers
KEY_CALENDAR = "calendar"       # activity calendar, active and passive (records.pack_calendar)
KEY_SPECIAL_DAYS = "special"    # special days table (records.pack_special_days)
_CAL_MAX = 256
_ENERGY_MAX = 512
_REGISTERS_MAX = 1024
CALENDAR_MAX = 1024
SPECIAL_DAYS_MAX = 512
TARIFFS = 8
# How far SwitchCache looks for the next tariff switch: bounds the work of one look-up on a
# calendar without switches.
_LOOKAHEAD_S = 35 * 86400

# Periodic save interval in meter seconds: bounds what a hard power cut can lose (see docs).
SAVE_PERIOD_S = 300
# Longest analytic step of `advance`, so time-driven services see every demand/profile period.
ADVANCE_STEP_S = 900

current = None  # the running Meter, for REPL diagnostics


def open_store(nv):
    """The NV record store with every record of the meter registered (fixed layout)."""
    store = nvstore.NvStore(nv)
    store.register(KEY_CAL, _CAL_MAX)
    store.register(KEY_ENERGY, _ENERGY_MAX)
    store.register(KEY_IC, 8)
    store.register(KEY_CLOCK, 32)
    store.register(KEY_KEYS, 48)
    store.register(KEY_REGISTERS, _REGISTERS_MAX)
    store.register(KEY_CALENDAR, CALENDAR_MAX)
    store.register(KEY_SPECIAL_DAYS, SPECIAL_DAYS_MAX)
    return store


def load_rule(store):
    """The clock's DST rule from NV, or the EU rule for CET when there is none (or it is
    unusable)."""
    raw = store.read(KEY_CLOCK)
    if raw is not None:
        try:
            return clock_settings.unpack(raw)
        except ValueError as e:
            log.error("clock record unusable (%s): CET with the EU rule", e)
    return dst.eu_rule(-60)


# The default calendar (docs/tariffs.md): tariff 2 (day) 06:00-22:00 Monday to Friday, tariff 1
# (night) otherwise and all weekend, the whole year.
_SCRIPTS = b"\x00\x00\x0a\x00\x64\xff"     # 0-0:10.0.100, tariffication script table


def default_calendar():
    """The activity calendar of a meter that has never been given one."""
    days = [(1, [((6, 0, 0), _SCRIPTS, 2), ((22, 0, 0), _SCRIPTS, 1)]),
            (2, [((0, 0, 0), _SCRIPTS, 1)])]
    weeks = [(b"WEEK", (1, 1, 1, 1, 1, 2, 2))]
    seasons = [(b"YEAR", (0xFFFF, 1, 1, 0xFF, 0, 0, 0), b"WEEK")]
    return calendar.ActivityCalendar(calendar.Calendar(b"DAYNIGHT", seasons, weeks, days))


class SwitchCache:
    """A tariff.TimeOfUse seen through a cache: the active tariff and the next switch are worked
    out once per tariff period, not on every measurement step. `invalidate()` after every change
    of the configuration (calendar, special days, DST rule, switch source)."""

    def __init__(self, tou):
        self.tou = tou
        self._lo = None     # the answers below hold for lo <= t < hi
        self._hi = 0
        self._tariff = 0
        self._switch = None

    def invalidate(self):
        """Forget the cached period."""
        self._lo = None

    def _at(self, t):
        lo = self._lo
        if lo is None or t < lo or t >= self._hi:
            tou = self.tou
            self._tariff = tou.active_tariff(t)
            limit = t + _LOOKAHEAD_S
            sw = tou.next_switch(t, limit)
            self._lo = t
            self._switch = sw
            # Without a switch in the look-ahead the tariff holds up to its end (inclusive).
            self._hi = sw if sw is not None else limit + 1

    def active_tariff(self, utc_s):
        """Tariff in force at a UTC instant."""
        self._at(utc_s)
        return self._tariff

    def next_switch(self, utc_s, limit):
        """As TimeOfUse.next_switch (limit required)."""
        self._at(utc_s)
        sw = self._switch
        if sw is None and limit >= self._hi:    # past the look-ahead: ask directly (rare)
            return self.tou.next_switch(utc_s, limit)
        return sw if sw is not None and sw <= limit else None


class _TariffFeed:
    """Stands for the Energy in the Metrology: each window's energy goes through the tariff
    registers (split exactly at a tariff switch inside the window)."""

    def __init__(self, energy, regs, switches):
        self.energy = energy
        self.regs = regs
        self.switches = switches

    def accumulate(self, p_uw, q_uvar, s_uva, dt_us, t_end_us):
        t0 = t_end_us - dt_us
        self.regs.step(self.energy, self.switches, p_uw, q_uvar, s_uva, dt_us, t_end_us,
                       t0 // 1000000, t0 % 1000000)


class Meter:
    """Board + services + tasks of one meter."""

    def __init__(self, board, opts):
        global current
        self.board = board
        self.model = opts["model"]
        self.nphases = 3 if self.model == "mt382" else 1
        self.opts = opts
        self.store = open_store(board.nv)
        self.powered = False
        self.metrology = None
        self.energy_regs = None         # measure.energy.Energy of the running meter
        self.tariff_regs = None         # its TariffRegisters
        self.tou = None
        self.switches = None
        self._load_tou()
        self._tasks = []
        self._stop = asyncio.Event()
        self._blocks = 0
        self._saves = 0
        self._last_save_s = 0
        current = self

    # -- power -----------------------------------------------------------------------------------

    def _load_calibration(self):
        raw = self.store.read(KEY_CAL)
        try:
            return Calibration.load(raw, self.nphases)
        except CalibrationError as e:
            # The stored record stays untouched so a service tool can still read and repair it.
            log.error("calibration record unusable (%s): using factory defaults", e)
            return Calibration(self.nphases)

    def _load_tou(self):
        # Time of use from NV: the calendar and special days records, the clock's DST rule.
        activity = sd = None
        raw = self.store.read(KEY_CALENDAR)
        if raw is not None:
            try:
                activity = records.unpack_calendar(raw)
            except ValueError as e:
                log.error("calendar record unusable (%s): default calendar", e)
        raw = self.store.read(KEY_SPECIAL_DAYS)
        if raw is not None:
            try:
                sd = records.unpack_special_days(raw)
            except ValueError as e:
                log.error("special days record unusable (%s): no special days", e)
        self.tou = tariff.TimeOfUse(activity or default_calendar(),
                                    sd or special_days.SpecialDays(), load_rule(self.store))
        self.switches = SwitchCache(self.tou)

    def _load_registers(self, energy, regs):
        raw = self.store.read(KEY_REGISTERS)
        if raw is None:
            raw = self.store.read(KEY_ENERGY)   # only an older firmware's record can be there
        if raw is None:
            return
        try:
            total, phase, rows = records.unpack_energy(raw, self.nphases, NREG, TARIFFS)
        except ValueError as e:
            log.error("energy record unusable (%s): registers start at zero", e)
            return
        energy.restore(total, phase)
        for t in range(TARIFFS):
            regs.regs[t][:] = rows[t]

    def power_on_sync(self):
        """Boot: rebuild the RAM state from NV and start the tasks."""
        afe = self.board.afe
        r = rating.for_model(self.model)
        if tuple(afe.channels) != r.channels:
            raise ValueError("front end channels %r do not match model %s %r"
                             % (afe.channels, self.model, r.channels))
        self.metrology = Metrology(
            r, afe.fs, afe.bits, afe.u_peak_mv, afe.i_peak_ma,
            self._load_calibration(), self.board.led_active, self.board.led_reactive)
        self._load_tou()
        energy = self.metrology.energy
        regs = TariffRegisters(NREG, TARIFFS)
        self._load_registers(energy, regs)
        regs.sync(energy.total)
        self.energy_regs = energy
        self.tariff_regs = regs
        # From here on every window's energy is booked to the tariff in force.
        self.metrology.energy = _TariffFeed(energy, regs, self.switches)
        self._last_save_s = self.board.clock.now()
        self.powered = True
        self._tasks = [asyncio.create_task(self._sampling()),
                       asyncio.create_task(self._power_watch())]

    def power_off(self, hard=False):
        """Power-fail path: save (unless `hard`: the supply vanished at once), then stop every task."""
        if not self.powered:
            return
        if not hard:
            self.save()
        self._halt()

    def _halt(self):
        self.powered = False
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        self.metrology = None
        self.energy_regs = None
        self.tariff_regs = None

    def save(self):
        """Write the energy and tariff registers to NV (periodic and power-fail saves); carry out
        a passive calendar activation that has fallen due."""
        now = self.board.clock.now()
        if self.tou.activate_passive(now):
            log.info("passive calendar activated (TOU activated)")
            self.set_activity(self.tou.activity)
        self.store.write(KEY_REGISTERS, records.pack_energy(self.energy_regs, self.tariff_regs))
        self._saves += 1
        self._last_save_s = self.board.clock.now()

    def set_time(self, seconds, us=0):
        """Set the board clock (seconds since 2000 UTC); the periodic save counts from now on, so a
        clock set backwards does not hold the next save back by the size of the step."""
        if us:
            self.board.clock.set(seconds, us)
        else:
            self.board.clock.set(seconds)   # the ARM board clock takes whole seconds only
        self._last_save_s = self.board.clock.now()

    # -- time of use ------------------------------------------------------------------------------

    def set_activity(self, activity):
        """Install a new core ActivityCalendar (passive calendar or activation time written,
        passive activated). ValueError, with nothing changed, if it does not fit its record."""
        raw = records.pack_calendar(activity)
        if len(raw) > CALENDAR_MAX:
            raise ValueError("calendar needs %d octets, %d available" % (len(raw), CALENDAR_MAX))
        self.store.write(KEY_CALENDAR, raw)
        self.tou.activity = activity
        self.switches.invalidate()

    def set_special_days(self, table):
        """Install a new core SpecialDays table; ValueError, nothing changed, if it does not fit
        its record."""
        raw = records.pack_special_days(table)
        if len(raw) > SPECIAL_DAYS_MAX:
            raise ValueError("special days need %d octets, %d available"
                             % (len(raw), SPECIAL_DAYS_MAX))
        self.store.write(KEY_SPECIAL_DAYS, raw)
        self.tou.special_days = table
        self.switches.invalidate()

    def set_rule(self, rule):
        """Use a new DST rule (the clock's time zone or DST attributes were written)."""
        self.tou.rule = rule
        self.switches.invalidate()

    def active_tariff(self):
        """The tariff in force now (1..8)."""
        return self.switches.active_tariff(self.board.clock.now())

    # -- tasks -------------------------------------------------------------------------------------

    async def _sampling(self):
        afe = self.board.afe
        clock = self.board.clock
        m = self.metrology
        block_us = afe.block_frames * 1000000 // afe.fs
        while True:
            block = await afe.read()
            # Taken after the read: a real-time read that skipped lost blocks moved the clock on.
            m.feed(block, clock.now_us() - block_us)
            self._blocks += 1
            if clock.now() - self._last_save_s >= SAVE_PERIOD_S:
                self.save()

    async def _power_watch(self):
        await self.board.power.fail.wait()
        self.power_off()

    async def advance(self, seconds):
        """Jump meter time forward, applying the present load analytically in bounded steps."""
        clock = self.board.clock
        ideal = self.board.afe.ideal()
        # q1: the meter's Q is the fundamental reactive power when the voltage is sinusoidal.
        p = [ph["p"] for ph in ideal]
        q = [ph["q1"] for ph in ideal]
        s = [ph["s"] for ph in ideal]
        while seconds > 0 and self.powered:
            step = min(seconds, ADVANCE_STEP_S)
            t0 = clock.now_us()
            clock.advance(step * 1000000)
            self.tariff_regs.step(self.energy_regs, self.switches, p, q, s, step * 1000000,
                                  clock.now_us(), t0 // 1000000, t0 % 1000000)
            seconds -= step
            if clock.now() - self._last_save_s >= SAVE_PERIOD_S:
                self.save()
            await asyncio.sleep_ms(0)

    def request_stop(self):
        """Ask run_until_stopped to save and return."""
        self._stop.set()

    async def run_until_stopped(self, duration_s=None):
        """Run until request_stop() or, if given, until `duration_s` meter seconds have passed."""
        clock = self.board.clock
        if duration_s is None:
            await self._stop.wait()
        else:
            end = clock.now() + duration_s
            while not self._stop.is_set() and clock.now() < end:
                await asyncio.sleep_ms(10)
        if self.powered:
            self.save()
            self._halt()

    # -- live state --------------------------------------------------------------------------------

    def values(self):
        """Live measured values of the last window: frequency, neutral current, and per phase
        u (mV), i (mA), p (mW), q (mvar), s (mVA), pf (1/1000, signed by the direction of P)."""
        m = self.metrology
        if m is None:
            return {}
        w = m.last
        return {"f_chz": w.f_chz, "in_ma": w.in_ma, "t_us": w.t_us,
                "phases": [{"u_mv": w.u_mv[n], "i_ma": w.i_ma[n], "p_mw": w.p_mw[n],
                            "q_mvar": w.q_mvar[n], "s_mva": w.s_mva[n], "pf": w.pf[n]}
                           for n in range(self.nphases)]}

    def energy(self):
        """Energy registers (mWh, mvarh, mVAh): totals by name, the tariff in force, the tariff
        registers (list, tariff 1 first), and per phase on MT382."""
        e = self.energy_regs
        if e is None:
            return {}
        out = {"total": dict(zip(NAMES, e.total)), "tariff": self.active_tariff(),
               "tariffs": [dict(zip(NAMES, row)) for row in self.tariff_regs.regs]}
        if e.phase is not None:
            out["phases"] = [dict(zip(NAMES, row)) for row in e.phase]
        return out

    def task_stats(self):
        """Run counts of the services, for diagnostics."""
        return {"blocks": self._blocks, "saves": self._saves, "tasks": len(self._tasks),
                "windows": self.metrology.last.seq if self.metrology else 0}

    def status(self):
        """The JSON-friendly status of the control channel."""
        try:
            import gc
            heap = {"free": gc.mem_free(), "alloc": gc.mem_alloc()}
        except AttributeError:
            heap = {}
        b = self.board
        return {
            "time": b.clock.now(),
            "model": self.model,
            "powered": self.powered,
            "values": self.values(),
            "energy": self.energy(),
            "led": {"active": b.led_active.count, "reactive": b.led_reactive.count},
            "overruns": b.afe.overruns,
            "blocks": self._blocks,
            "heap": heap,
        }
