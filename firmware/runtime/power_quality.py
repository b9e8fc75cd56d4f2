"""Power quality of the running meter (docs/power_quality.md): core.power_quality fed with the
newest measured window once a meter second, its events raised through the one event path, its
objects as COSEM sources.

Events: 76-78 sag, 79-81 swell, 82-84 voltage missing, 85-87 voltage normal (L1-L3), 90 voltage
asymmetry (MT382), 89 missing neutral, 88 wrong phase sequence (MT382: the metrology's sequence
check says reversed for `fault_s`). During an analytic `advance` (no window is measured) the
phase voltages are the front end's analytic values when it has them (host board), held since the
last instant evaluated, and the service is due on the quarter hours; the neutral check waits for
measured windows.

On the MT382 each phase's presence goes to runtime.logs (per-phase power failures) with
meter.notify("phase_voltage", phase, missing, t_s): missing when the level is MISSING, present
again when it leaves MISSING; after a boot, once the phase is seen present or missing.

NV: the thresholds in the record "pq" (written when a client changes one), the sag and swell
counters, magnitudes and durations in the record "pq_state" (written at each level change, which
is rare). Daily maximum / minimum and average voltages are RAM values: a power cut restarts them.
"""
import struct

from core import dst
from core import power_quality as pq
from runtime import log
from runtime.service import Service

KEY_SETTINGS = "pq"
KEY_STATE = "pq_state"
AVERAGE_PERIOD_S = 600      # average voltage: IEC 61000-4-30 10-minute aggregation
_SETTINGS = "<3I3H"         # sag, swell, missing (mV); sag, swell, missing time (s)
_PHASE_STATE = "<6I"        # sags, swells, last sag mV, s, last swell mV, s
_GAP_S = 1                  # no window for longer than this: an analytic step
_ANALYTIC_S = 900           # during analytic steps: due on the quarter hours (no extra cuts)

# Events per level, phase L1 (L2, L3: + 1, + 2).
_LEVEL_EVENT = {pq.SAG: 76, pq.SWELL: 79, pq.MISSING: 82, pq.NORMAL: 85}
_ASYMMETRY = 90
_MISSING_NEUTRAL = 89
_WRONG_SEQUENCE = 88
_COUNT_MAX = 0xFFFF

# Setting source name -> Settings attribute.
SETTING_NAMES = (
    ("pq.sag_threshold", "sag_mv"), ("pq.swell_threshold", "swell_mv"),
    ("pq.missing_threshold", "missing_mv"), ("pq.sag_time", "sag_s"),
    ("pq.swell_time", "swell_s"), ("pq.missing_time", "missing_s"),
)


def pack_settings(s):
    """The "pq" record of a core.power_quality.Settings."""
    return struct.pack(_SETTINGS, s.sag_mv, s.swell_mv, s.missing_mv, s.sag_s, s.swell_s,
                       s.missing_s)


def unpack_settings(raw):
    """Settings from a "pq" record; ValueError if it is not one."""
    if len(raw) != struct.calcsize(_SETTINGS):
        raise ValueError("power quality record of %d octets" % len(raw))
    s = pq.Settings()
    (s.sag_mv, s.swell_mv, s.missing_mv, s.sag_s, s.swell_s,
     s.missing_s) = struct.unpack(_SETTINGS, raw)
    s.check()
    return s


class PowerQuality(Service):
    """Voltage levels, daily and average voltages, asymmetry and neutral checks."""

    def __init__(self, meter):
        self.meter = meter
        n = meter.nphases
        self.settings = self._load_settings()
        self.levels = [pq.Level(self.settings) for _ in range(n)]
        self._load_state()
        self.daily = [pq.Daily() for _ in range(n)]
        self.average = [pq.Average(AVERAGE_PERIOD_S) for _ in range(n)]
        self.asymmetry = pq.Persistent()
        self.neutral = pq.Persistent()
        self.sequence = pq.Persistent()
        self._u = [0] * n
        self._missing = [None] * n      # per phase as last told (None: not since the boot)
        self._seq = -1
        self._t_window = self._t_tick = 0
        self._due = None
        self._day = 0
        self._day_start = self._day_end = 0
        self._rule = None

    # -- NV --------------------------------------------------------------------------------------

    def _load_settings(self):
        raw = self.meter.store.read(KEY_SETTINGS)
        if raw is not None:
            try:
                return unpack_settings(raw)
            except ValueError as e:
                log.error("%s: default power quality thresholds", e)
        return pq.Settings()

    def _load_state(self):
        raw = self.meter.store.read(KEY_STATE)
        size = struct.calcsize(_PHASE_STATE)
        if raw is None:
            return
        if len(raw) != size * len(self.levels):
            log.error("power quality state record of %d octets: counters start at 0", len(raw))
            return
        for p in range(len(self.levels)):
            lv = self.levels[p]
            (lv.sags, lv.swells, lv.last_sag_mv, lv.last_sag_s, lv.last_swell_mv,
             lv.last_swell_s) = struct.unpack_from(_PHASE_STATE, raw, p * size)

    def _save_state(self):
        out = b""
        for lv in self.levels:
            out += struct.pack(_PHASE_STATE, lv.sags, lv.swells, lv.last_sag_mv, lv.last_sag_s,
                               lv.last_swell_mv, lv.last_swell_s)
        self.meter.store.write(KEY_STATE, out)

    # -- meter time --------------------------------------------------------------------------------

    def power_on(self, now_s):
        for lv in self.levels:
            lv.reset()
        self.asymmetry = pq.Persistent()
        self.neutral = pq.Persistent()
        self.sequence = pq.Persistent()
        self.daily = [pq.Daily() for _ in self.levels]
        self.average = [pq.Average(AVERAGE_PERIOD_S) for _ in self.levels]
        self._seq = -1
        self._t_window = self._t_tick = now_s
        self._due = now_s
        self._day_end = 0
        self._missing = [None] * len(self.levels)

    def next_due(self, now_s):
        if not self.meter.powered:
            return None
        m = self.meter.metrology
        if m is not None and m.last.seq != self._seq and now_s - self._t_window > _GAP_S:
            return now_s                # windows again after an analytic jump: at once
        return self._due

    def _plan(self, now_s):
        # While windows flow every one is evaluated (the Meter's `advance` cuts its steps only
        # at due instants after now, so this hides no other service's instant).
        if now_s - self._t_window <= _GAP_S:
            self._due = now_s
        else:
            self._due = (now_s // _ANALYTIC_S + 1) * _ANALYTIC_S

    def clock_set(self, old_s, new_s):
        for lv in self.levels:
            lv.resync()
        self.asymmetry.resync()
        self.neutral.resync()
        self.sequence.resync()
        self._t_window = self._t_tick = new_s
        self._due = new_s
        self._day_end = 0

    def _local_day(self, now):
        rule = self.meter.tou.rule
        if not self._day_start <= now < self._day_end or rule is not self._rule:
            self._rule = rule
            self._day = dst.local_from_utc(now, rule)[0] // 86400
            self._day_start = dst.utc_from_local(self._day * 86400, rule)
            self._day_end = dst.utc_from_local((self._day + 1) * 86400, rule)
        return self._day

    def tick(self, now_s):
        m = self.meter.metrology
        if m is None:
            return
        self._evaluate(m.last, now_s)
        self._plan(now_s)

    def _evaluate(self, w, now_s):
        measured = w.seq != 0 and w.seq != self._seq    # 0: no window closed since power up
        u = self._u
        if measured:
            self._seq = w.seq
            self._t_window = now_s
            u[:] = w.u_mv
        elif now_s - self._t_window > _GAP_S:
            ideal = getattr(self.meter.board.afe, "ideal", None)
            if ideal is None:
                return
            ph = ideal()
            for p in range(len(u)):
                u[p] = ph[p]["u"]
            # The analytic load held since the last window (the advance began there).
            self._voltages(u, self._t_tick)
        else:
            return
        self._t_tick = now_s
        self._voltages(u, now_s)
        if measured:
            if self.neutral.update(pq.neutral_fault(
                    pq.expected_neutral(w.i_ma, w.p_mw, w.q_mvar, w.s_mva), w.in_ma,
                    self.settings), now_s, self.settings.fault_s):
                self._raise(_MISSING_NEUTRAL, self.neutral.at)
            if len(u) == 3 and self.sequence.update(w.sequence < 0, now_s,
                                                    self.settings.fault_s):
                self._raise(_WRONG_SEQUENCE, self.sequence.at)

    def _voltages(self, u, now_s):
        changed = False
        day = self._local_day(now_s)
        for p in range(len(u)):
            lv = self.levels[p]
            level = lv.update(u[p], now_s)
            if level is not None:
                changed = True
                self._raise(_LEVEL_EVENT[level] + p, lv.at)
            if len(u) > 1:
                self._presence(p, u[p], lv.at if level is not None else now_s)
            self.daily[p].update(u[p], day)
            self.average[p].update(u[p], now_s)
        if changed:
            self._save_state()
        if len(u) > 1 and self.asymmetry.update(
                pq.asymmetry(u) > self.settings.asymmetry_pct, now_s, self.settings.fault_s):
            self._raise(_ASYMMETRY, self.asymmetry.at)

    def _presence(self, p, u, t_s):
        missing = self.levels[p].state == pq.MISSING
        # After a boot the level starts NORMAL: a low voltage waits for its time threshold.
        if missing == self._missing[p] or (self._missing[p] is None and not missing and
                                            u < self.settings.missing_mv):
            return
        self._missing[p] = missing
        self.meter.notify("phase_voltage", p, missing, t_s)

    def _raise(self, code, t_s):
        self.meter.events.raise_event(code, t_s)

    # -- COSEM -------------------------------------------------------------------------------------

    def bind(self, sources):
        g = sources.getters
        for name, field in SETTING_NAMES:
            g[name] = self._setting(field)
            sources.setters[name] = self._set_setting(field)
        for p in range(len(self.levels)):
            s = ".L%d" % (p + 1)
            lv = self.levels[p]
            g["pq.sags" + s] = self._level_value(lv, "sags", True)
            g["pq.swells" + s] = self._level_value(lv, "swells", True)
            for key in ("last_sag_mv", "last_sag_s", "last_swell_mv", "last_swell_s"):
                g["pq.%s%s" % (key, s)] = self._level_value(lv, key, False)
            g["pq.daily_max" + s] = self._daily(p, "prev_max")
            g["pq.daily_min" + s] = self._daily(p, "prev_min")
            g["pq.average" + s] = self._average(p)

    def _setting(self, field):
        return lambda: getattr(self.settings, field)

    def _set_setting(self, field):
        def write(value):
            new = pq.Settings()
            for _, f in SETTING_NAMES:
                setattr(new, f, getattr(self.settings, f))
            setattr(new, field, value)
            new.check()
            self.meter.store.write(KEY_SETTINGS, pack_settings(new))
            setattr(self.settings, field, value)
        return write

    @staticmethod
    def _level_value(lv, key, count):
        if count:
            return lambda: min(getattr(lv, key), _COUNT_MAX)
        return lambda: getattr(lv, key)

    def _daily(self, p, key):
        return lambda: getattr(self.daily[p], key)

    def _average(self, p):
        return lambda: self.average[p].last


def make(meter):
    """The power quality service of the meter."""
    return PowerQuality(meter)
