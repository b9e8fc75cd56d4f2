"""The Meter: the one object that wires the board to the services and runs their asyncio tasks.

Power model: `power_on` is a boot (RAM state rebuilt from the NV record store), `power_off` is the
power-fail path (registers saved within the hold-up budget, then every task stops). A hard cut skips the
save, as a supply that vanishes without warning would; what was consumed since the last periodic save is
then lost, nothing else.
"""
import asyncio

from runtime import log, nvstore, records
from measure import rating
from measure.calibration import Calibration, CalibrationError
from measure.energy import NAMES, NREG
from measure.metrology import Metrology

# NV record keys and their maximum sizes; registration order fixes the NV layout: append only.
KEY_CAL = "cal"
KEY_ENERGY = "energy"
KEY_IC = "ic"
KEY_CLOCK = "clock"     # time zone and DST rule (runtime.clock_settings)
KEY_KEYS = "keys"       # security policy and suite 0 keys (runtime.key_transfer)
_CAL_MAX = 256
_ENERGY_MAX = 512

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
    return store


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
        raw = self.store.read(KEY_ENERGY)
        if raw is not None:
            try:
                total, phase = records.unpack_energy(raw, self.nphases, NREG)
                self.metrology.energy.restore(total, phase)
            except ValueError as e:
                log.error("energy record unusable (%s): registers start at zero", e)
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

    def save(self):
        """Write the energy registers to NV (periodic and power-fail saves)."""
        self.store.write(KEY_ENERGY, records.pack_energy(self.metrology.energy))
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
            clock.advance(step * 1000000)
            self.metrology.energy.accumulate(p, q, s, step * 1000000, clock.now_us())
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
        """Energy registers (mWh, mvarh, mVAh): totals by name, and per phase on MT382."""
        m = self.metrology
        if m is None:
            return {}
        e = m.energy
        out = {"total": dict(zip(NAMES, e.total))}
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
