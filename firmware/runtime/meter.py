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

from core import dst, events, special_days, tariff
from core.tariff_registers import TariffRegisters
from runtime import clock_settings, log, records
from runtime.nvlayout import open_store
from runtime.time_of_use import SwitchCache, TariffFeed, default_calendar
from measure import rating
from measure.calibration import Calibration, CalibrationError
from measure.energy import NAMES, NREG
from measure.metrology import Metrology

# NV record keys (runtime.nvlayout.RECORDS gives their sizes and fixes the layout).
KEY_CAL = "cal"
KEY_ENERGY = "energy"
KEY_IC = "ic"
KEY_CLOCK = "clock"
KEY_KEYS = "keys"
KEY_REGISTERS = "registers"
KEY_CALENDAR = "calendar"
KEY_SPECIAL_DAYS = "special"
CALENDAR_MAX = 1024
SPECIAL_DAYS_MAX = 512
TARIFFS = 8

# Periodic save interval in meter seconds: bounds what a hard power cut can lose (see docs).
SAVE_PERIOD_S = 300
# Longest analytic step of `advance`.
ADVANCE_STEP_S = 900

# Services plugged into the Meter (runtime.service), made in this order by `make(meter)`.
SERVICES = (
    "logs",
    "profiles",
    "billing_service",
    "alarms",
    "push",
    "power_quality",
    "error_service",
    "switching",
    "tariff_service",
    "watchdog",
)

current = None  # the running Meter, for REPL diagnostics


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


def _service(name):
    # The service module `runtime.<name>`.
    return getattr(__import__("runtime." + name), name)


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
        self._listeners = {}
        self.events = events.Events()
        self.services = [_service(name).make(self) for name in SERVICES]
        self._due = None    # earliest next_due of the services (None: nothing due)
        self._cut = None    # earliest next_due after now: where `advance` ends its step
        current = self

    # -- services ----------------------------------------------------------------------------------

    def listen(self, name, fn):
        """Call `fn(*args)` on every `notify(name, *args)`."""
        self._listeners.setdefault(name, []).append(fn)

    def notify(self, name, *args):
        """Tell the listeners of `name` that it happened."""
        for fn in self._listeners.get(name, ()):
            fn(*args)

    def raise_event(self, code, log_key=None):
        """Raise event `code` now through the one event path (core.events)."""
        return self.events.raise_event(code, self.board.clock.now(), log_key)

    def _schedule(self, now):
        # A service due at every window (next_due == now) must not hide the later instants
        # of the others from `advance`: those are kept apart in _cut.
        due = cut = None
        for s in self.services:
            d = s.next_due(now)
            if d is None:
                continue
            if due is None or d < due:
                due = d
            if d > now and (cut is None or d < cut):
                cut = d
        self._due = due
        self._cut = cut

    def _tick(self, now):
        # Every service whose due time has come runs (one that is not due is not disturbed).
        for s in self.services:
            d = s.next_due(now)
            if d is not None and d <= now:
                s.tick(now)
        self._schedule(now)

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
        self.metrology.energy = TariffFeed(energy, regs, self.switches)
        self._last_save_s = now = self.board.clock.now()
        self.powered = True
        for s in self.services:
            s.power_on(now)
        self._schedule(now)
        self._tasks = [asyncio.create_task(self._sampling()),
                       asyncio.create_task(self._power_watch())]

    def power_off(self, hard=False):
        """Power-fail path: save (unless `hard`: the supply vanished at once), then stop every task."""
        if not self.powered:
            return
        if not hard:
            self.save()
        now = self.board.clock.now()
        for s in self.services:
            s.power_off(now, hard)
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
        for s in self.services:
            s.save()
        self._saves += 1
        self._last_save_s = self.board.clock.now()

    def set_time(self, seconds, us=0):
        """Set the board clock (seconds since 2000 UTC); the periodic save counts from now on, so a
        clock set backwards does not hold the next save back by the size of the step."""
        old = self.board.clock.now()
        if us:
            self.board.clock.set(seconds, us)
        else:
            self.board.clock.set(seconds)   # the ARM board clock takes whole seconds only
        self._last_save_s = now = self.board.clock.now()
        for s in self.services:
            s.clock_set(old, now)
        if self.powered:
            self._schedule(now)

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
            now = clock.now()
            # The registers are saved before the services run: a cut during their NV writes
            # never costs more energy than one save period.
            if now - self._last_save_s >= SAVE_PERIOD_S:
                self.save()
            if self._due is not None and now >= self._due:
                self._tick(now)

    async def _power_watch(self):
        await self.board.power.fail.wait()
        self.power_off()

    async def advance(self, seconds):
        """Jump meter time forward, applying the present load analytically in bounded steps."""
        clock = self.board.clock
        while seconds > 0 and self.powered:
            # Read each step: a service (the disconnector) may have changed the load.
            ideal = self.board.afe.ideal()
            # q1: the meter's Q is the fundamental reactive power when the voltage is sinusoidal.
            p = [ph["p"] for ph in ideal]
            q = [ph["q1"] for ph in ideal]
            s = [ph["s"] for ph in ideal]
            step = min(seconds, ADVANCE_STEP_S)
            due = self._cut
            if due is not None and clock.now() < due < clock.now() + step:
                step = due - clock.now()    # services see their due instant exactly
            t0 = clock.now_us()
            clock.advance(step * 1000000)
            self.tariff_regs.step(self.energy_regs, self.switches, p, q, s, step * 1000000,
                                  clock.now_us(), t0 // 1000000, t0 % 1000000)
            seconds -= step
            now = clock.now()
            # The registers are saved before the services run: a cut during their NV writes
            # never costs more energy than one save period.
            if now - self._last_save_s >= SAVE_PERIOD_S:
                self.save()
            if self._due is not None and now >= self._due:
                self._tick(now)
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
