"""Switching service: the disconnector relay, disconnect control (class 70), the disconnector
scripts, the limiter (class 71), the supervision and overvoltage monitors (class 21), fraud
detection and the input/output state registers, wired into the Meter (docs/disconnect.md).

Every change of the control state is written to NV (record "switching") before the relay is
commanded, and the relay driver writes its target (record "relay") before it pulses; at
power-up the relay is driven to the output the stored control state asks for. A cut between
the two writes therefore ends in the stored control state, a cut before the first in the old
one: never a mix.

Settings (limiter, monitors) live in record "switch_cfg" as one A-XDR structure of the
attribute values; a write is checked, put in force and stored (a refused write changes
nothing).
The limiter, monitors and fraud inputs are evaluated at every tick (next_due = now: every
measuring window, every advance step).
"""
import asyncio
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import dst, fraud, schedule
from core import disconnect as dcl
from core.limiter import OVER, Limiter
from core.monitor import MAX_THRESHOLDS, UP, Monitor
from cosem import errors
from cosem import single_action_schedule as sas
from dlms import axdr
from measure import rating
from runtime import log
from runtime.relay import RelayDriver
from runtime.service import Service

KEY_STATE = "switching"
KEY_SETTINGS = "switch_cfg"
SETTINGS_MAX = 800

SCRIPTS_LN = b"\x00\x00\x0a\x00\x6a\xff"        # disconnector script table 0-0:10.0.106
NO_LN = bytes(6)
SCRIPT_DISCONNECT = const(1)
SCRIPT_RECONNECT = const(2)
REMOTE = const(0)
LOCAL = const(1)

_S, _A = axdr.STRUCTURE, axdr.ARRAY
_LU, _DLU, _OS = axdr.LONG_UNSIGNED, axdr.DOUBLE_LONG_UNSIGNED, axdr.OCTET_STRING

# Monitored values (class id, logical name, attribute).
LIMITER_VALUE = (3, b"\x01\x00\x01\x07\x00\xff", 2)             # active power import 1-0:1.7.0
CURRENT_VALUES = ((3, b"\x01\x00\x1f\x07\x00\xff", 2), (3, b"\x01\x00\x33\x07\x00\xff", 2),
                  (3, b"\x01\x00\x47\x07\x00\xff", 2))          # 1-0:31/51/71.7.0, 0.01 A
VOLTAGE_VALUE = (3, b"\x01\x00\x0c\x07\x00\xff", 2)             # 1-0:12.7.0 any phase, 0.1 V

# Defaults (docs/disconnect.md).
LIMIT_W = 999000                # 999 kW, as the ME382 shows it: no limitation
MIN_OVER_S = 60
MIN_UNDER_S = 60
OVERVOLTAGE_DV = 2650           # 265.0 V
OVERVOLTAGE_UP_S = 5
OVERVOLTAGE_DOWN_S = 60
# Supervision monitor events (exceeded, ok) of L1..L3.
MONITOR_EVENTS = ((70, 71), (72, 73), (74, 75))
EVENT_LIMIT_OVER = const(65)
EVENT_LIMIT_UNDER = const(66)
EVENT_LIMIT_CHANGED = const(67)

# Settings structure: indices of the limiter's attributes, of the disconnect control scheduler's
# (script selector, type, execution times), then (thresholds, actions) per monitor.
_MONITORED, _NORMAL, _EMERGENCY, _MIN_OVER, _MIN_UNDER, _PROFILE, _GROUPS, _ACTIONS = range(8)
_SCHED_SCRIPT, _SCHED_TYPE, _SCHED_TIMES = 8, 9, 10
_MONITORS_AT = 11
_PLAIN = (_NORMAL, _EMERGENCY, _MIN_OVER, _MIN_UNDER)
MAX_EXECUTIONS = const(8)
# control mode, control state, limiter exceeded, monitor thresholds the value is above (bits),
# scheduler executions handled up to (UTC s, 0xFFFFFFFF: none yet)
_STATE_FORMAT = "<BBBHI"
_NO_DONE = const(0xFFFFFFFF)


def _value_def(v):
    return _S, [(_LU, v[0]), (_OS, v[1]), (axdr.INTEGER, v[2])]


def _action(ln, selector):
    return _S, [(_OS, ln), (_LU, selector)]


DISCONNECT_ACTIONS = (_S, [_action(SCRIPTS_LN, SCRIPT_DISCONNECT),
                           _action(SCRIPTS_LN, SCRIPT_RECONNECT)])
NO_ACTIONS = (_S, [_action(NO_LN, 0), _action(NO_LN, 0)])
_NO_TIME = axdr.pack_datetime()


def _script(action):
    # Script selector an action {ln, selector} runs (0: none); ValueError for an unsupported one.
    ln, sel = action[1][0][1], action[1][1][1]
    if ln == NO_LN and sel == 0:
        return 0
    if ln == SCRIPTS_LN and sel in (SCRIPT_DISCONNECT, SCRIPT_RECONNECT):
        return sel
    raise ValueError("actions may only run disconnector scripts 1 and 2 (or nothing)")


class Switching(Service):
    """The service; see the module documentation."""

    def __init__(self, meter):
        self.meter = meter
        board = meter.board
        self.relay = getattr(board, "relay", None)
        self.inputs = getattr(board, "inputs", None)
        self.driver = None
        if self.relay is not None:
            self.driver = RelayDriver(self.relay, board.power, meter.store,
                                      lambda code: meter.raise_event(code))
        self.dc = dcl.Disconnect()
        self.manual = dcl.Manual()
        self.tamper = fraud.Tamper()
        self.unexpected = fraud.Unexpected()
        self.phases = meter.nphases
        self._task = None
        self._seq = self._last = -1     # window and second last evaluated
        self._saved = None
        self._done = None
        self.plan = None
        self.cfg = self._default_settings()
        self._apply(self.cfg)
        self._load_settings()
        self._load_state()

    # -- settings ------------------------------------------------------------------------------

    def _default_settings(self):
        imax = rating.for_model(self.meter.model).imax_ma // 10
        cfg = [_value_def(LIMITER_VALUE), (_DLU, LIMIT_W), (_DLU, LIMIT_W), (_DLU, MIN_OVER_S),
               (_DLU, MIN_UNDER_S), (_S, [(_LU, 0), (_OS, _NO_TIME), (_DLU, 0)]), (_A, []),
               DISCONNECT_ACTIONS, (_LU, SCRIPT_DISCONNECT), (axdr.ENUM, 1), (_A, [])]
        for _ in range(self.phases):
            cfg += [(_A, [(_DLU, imax)]), (_A, [NO_ACTIONS])]
        cfg += [(_A, [(_LU, OVERVOLTAGE_DV)]), (_A, [DISCONNECT_ACTIONS])]
        return cfg

    def _apply(self, cfg):
        # Build the limiter and monitors of a settings list (ValueError if it is unusable).
        lim = Limiter(cfg[_NORMAL][1], cfg[_EMERGENCY][1], cfg[_MIN_OVER][1], cfg[_MIN_UNDER][1])
        pid, when, duration = (x[1] for x in cfg[_PROFILE][1])
        lim.profile_id = pid
        lim.activation_s = self._utc(when)
        lim.duration_s = duration
        lim.groups = tuple(g[1] for g in cfg[_GROUPS][1])
        lim_scripts = tuple(_script(a) for a in cfg[_ACTIONS][1])
        sel = cfg[_SCHED_SCRIPT][1]
        if sel not in (SCRIPT_DISCONNECT, SCRIPT_RECONNECT):
            raise ValueError("the scheduler runs disconnector script 1 or 2")
        entries = sas.entries_from(cfg[_SCHED_TIMES])
        if len(entries) > MAX_EXECUTIONS:
            raise ValueError("at most %d execution times" % MAX_EXECUTIONS)
        plan = None
        if entries:
            plan = schedule.Schedule(cfg[_SCHED_TYPE][1], entries, self._rule())
        elif not 1 <= cfg[_SCHED_TYPE][1] <= 5:
            raise ValueError("schedule type outside 1..5")
        monitors = []
        for k in range(self.phases + 1):
            thr, acts = cfg[_MONITORS_AT + 2 * k], cfg[_MONITORS_AT + 2 * k + 1]
            if len(acts[1]) != len(thr[1]):
                raise ValueError("one action pair per threshold")
            scripts = tuple(tuple(_script(a) for a in pair[1]) for pair in acts[1])
            delays = (OVERVOLTAGE_UP_S, OVERVOLTAGE_DOWN_S) if k == self.phases else (0, 0)
            monitors.append((Monitor([t[1] for t in thr[1]], *delays), scripts))
        old = getattr(self, "limiter", None)
        if old is not None:
            lim.exceeded = old.exceeded
        self.limiter = lim
        self.lim_scripts = lim_scripts
        done = None
        old = getattr(self, "plan", None)
        if old is not None:
            done = old.done
        if plan is not None:
            plan.resume(done if done is not None else self._done)
        self.plan = plan
        prev = getattr(self, "monitors", None)
        if prev is not None:
            for (new, _), (was, _) in zip(monitors, prev):
                if new.thresholds == was.thresholds:
                    new.above = was.above
        self.monitors = monitors

    def _utc(self, raw):
        f = axdr.unpack_datetime(raw)
        if None in (f[0], f[1], f[2], f[4], f[5], f[6]):
            return None     # not a definite instant: the profile never activates
        dev = 0x8000 if f[8] is None else f[8]
        return dst.utc_from_clock(f[0], f[1], f[2], f[4], f[5], f[6], dev, self._rule())

    def _rule(self):
        tou = getattr(self.meter, "tou", None)
        return tou.rule if tou is not None else dst.eu_rule(-60)

    def _write(self, index, data):
        # Check, apply, store a changed setting; _apply changes nothing when it refuses.
        cfg = list(self.cfg)
        cfg[index] = data
        raw = axdr.encode((_S, cfg))
        if len(raw) > SETTINGS_MAX:
            raise errors.OtherReason("settings do not fit their record")
        try:
            self._apply(cfg)
        except (ValueError, axdr.DecodeError) as e:
            raise errors.OtherReason(str(e))
        self.meter.store.write(KEY_SETTINGS, raw)
        self.cfg = cfg

    def _load_settings(self):
        raw = self.meter.store.read(KEY_SETTINGS)
        if raw is None:
            return
        try:
            data = axdr.decode_all(raw)
            cfg = list(data[1])
            if data[0] != _S or len(cfg) != len(self.cfg):
                raise ValueError("wrong shape")
            self._apply(cfg)
            self.cfg = cfg
        except (ValueError, TypeError, IndexError, axdr.DecodeError) as e:
            log.error("switching settings unusable (%s): defaults", e)
            self._apply(self.cfg)

    # -- disconnect control ----------------------------------------------------------------

    def operate(self, op):
        """Carry out a disconnect control operation (core.disconnect): the transition made, or
        None (refused: nothing changed)."""
        t = self.dc.step(op)
        if t is None:
            return None
        self._save_state()
        if self.driver is not None:
            self.driver.command(self.dc.output())
        self.meter.raise_event(dcl.EVENTS[t])
        log.info("disconnect control: transition %s, state %d", t, self.dc.state)
        return t

    def _save_state(self):
        bits = 0
        n = 0
        for mon, _ in self.monitors:
            for above in mon.above:
                if above:
                    bits |= 1 << n
                n += 1
        done = self.plan.done if self.plan is not None else self._done
        raw = struct.pack(_STATE_FORMAT, self.dc.mode, self.dc.state, int(self.limiter.exceeded),
                          bits, _NO_DONE if done is None else done)
        if raw != self._saved:
            self.meter.store.write(KEY_STATE, raw)
            self._saved = raw

    def _load_state(self):
        raw = self.meter.store.read(KEY_STATE)
        if raw is None:
            return
        try:
            if len(raw) != struct.calcsize(_STATE_FORMAT):
                raise ValueError("wrong size")
            mode, state, exceeded, bits, done = struct.unpack(_STATE_FORMAT, raw)
            self.dc = dcl.Disconnect(mode, state)
        except ValueError as e:
            log.error("disconnect control record unusable (%s): defaults", e)
            return
        self._saved = raw
        self._done = None if done == _NO_DONE else done
        if self.plan is not None:
            self.plan.resume(self._done)
        self.limiter.exceeded = bool(exceeded)
        n = 0
        for mon, _ in self.monitors:
            for i in range(len(mon.above)):
                mon.above[i] = bool(bits >> n & 1)
                n += 1

    def execute(self, script, origin):
        """Run disconnector script 1 (disconnect) or 2 (reconnect) as a remote or local
        operation: the transition made or None."""
        if script == SCRIPT_DISCONNECT:
            op = dcl.REMOTE_DISCONNECT if origin == REMOTE else dcl.LOCAL_DISCONNECT
        elif script == SCRIPT_RECONNECT:
            op = dcl.REMOTE_RECONNECT if origin == REMOTE else dcl.LOCAL_RECONNECT
        else:
            return None
        return self.operate(op)

    def output_state(self):
        """The contact as the relay reports it (the commanded output while unknown)."""
        d = self.driver
        if d is not None and d.closed is not None:
            return d.closed
        return self.dc.output()

    def press(self, name):
        """A button press (scroll or external button): the manual operation."""
        text, op = self.manual.press(self.dc, self.meter.board.clock.now())
        t = self.operate(op) if op is not None else None
        if text is not None:
            log.info("LCD: %s", text)
        return {"display": text, "transition": t, "control_state": self.dc.state}

    # -- Meter protocol ----------------------------------------------------------------------

    def power_on(self, now_s):
        self._saved = None
        self._load_settings()
        self._load_state()
        self._seq = self._last = -1
        if self.driver is not None:
            self.driver.restore(self.dc.output())
            if self.driver.target != self.dc.output():
                self.driver.command(self.dc.output())
            self._task = asyncio.create_task(self.driver.run())
        if self.inputs is not None:
            self.inputs.on_press(self.press)

    def power_off(self, now_s, hard):
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.inputs is not None:
            self.inputs.on_press(None)

    def next_due(self, now_s):
        # Every measuring window (and every advance step): the limiter, the monitors and the
        # inputs look at the last window; tick() skips a window it has already seen.
        return now_s if self.meter.powered else None

    def clock_set(self, old_s, new_s):
        self.limiter.restart()
        self._apply(self.cfg)

    def tick(self, now_s):
        m = self.meter.metrology
        if m is None:
            return
        w = m.last
        if w.seq == self._seq and now_s == self._last:
            return
        self._seq = w.seq
        self._last = now_s
        if w.seq:
            self._limit(w, now_s)
            self._supervise(w, now_s)
        self._fraud(w, now_s)
        plan = self.plan
        if plan is not None and plan.due(now_s):
            if self.execute(self.cfg[_SCHED_SCRIPT][1], REMOTE) is None:
                log.warning("disconnect control scheduler: script %d refused",
                            self.cfg[_SCHED_SCRIPT][1])
            self._save_state()

    def _limit(self, w, now_s):
        p = 0
        for v in w.p_mw:
            if v > 0:
                p += v
        r = self.limiter.update((p + 500) // 1000, now_s)
        if r is None:
            return
        if r == OVER:
            self.meter.raise_event(EVENT_LIMIT_OVER)
            script = self.lim_scripts[0]
        else:
            self.meter.raise_event(EVENT_LIMIT_UNDER)
            script = self.lim_scripts[1]
        self.execute(script, LOCAL)
        self._save_state()

    def _supervise(self, w, now_s):
        n = self.phases
        for k in range(n + 1):
            mon, scripts = self.monitors[k]
            if k < n:
                value = (w.i_ma[k] + 5) // 10
            else:
                value = (max(w.u_mv) + 50) // 100
            for idx, way in mon.update(value, now_s):
                if k < n:
                    self.meter.raise_event(MONITOR_EVENTS[k][0 if way == UP else 1])
                self.execute(scripts[idx][0 if way == UP else 1], LOCAL)
                self._save_state()

    def _fraud(self, w, now_s):
        if self.inputs is not None:
            raw = [self.inputs.value(name) for name, _, _, _ in fraud.INPUTS]
            for code in self.tamper.update(raw, now_s):
                self.meter.raise_event(code)
        d = self.driver
        off = self.dc.state != dcl.CONNECTED and (d is None or not d.busy)
        if self.unexpected.update(off, w.p_mw if w.seq else (), now_s):
            self.meter.raise_event(fraud.EVENT_UNEXPECTED_CONSUMPTION)

    # -- COSEM ---------------------------------------------------------------------------------

    def bind(self, sources):
        g, s, a = sources.getters, sources.setters, sources.actions
        g["disconnect.output_state"] = self.output_state
        g["disconnect.control_state"] = lambda: self.dc.state
        g["disconnect.control_mode"] = lambda: self.dc.mode
        s["disconnect.control_mode"] = self._set_mode
        a["disconnect.remote_disconnect"] = self._remote(dcl.REMOTE_DISCONNECT)
        a["disconnect.remote_reconnect"] = self._remote(dcl.REMOTE_RECONNECT)
        a["disconnector_scripts.execute"] = self._execute_script
        names = ("monitored_value", "threshold_normal", "threshold_emergency",
                 "min_over_threshold_duration", "min_under_threshold_duration",
                 "emergency_profile", "emergency_profile_group_id_list", "actions")
        for i in range(len(names)):
            g["limiter." + names[i]] = self._setting(i)
            s["limiter." + names[i]] = self._limiter_setter(i)
        g["limiter.threshold_active"] = lambda: self.limiter.threshold(self._now())
        g["limiter.emergency_profile_active"] = \
            lambda: self.limiter.emergency_active(self._now())
        for k in range(self.phases + 1):
            b = "supervision_l%d." % (k + 1) if k < self.phases else "overvoltage."
            at = _MONITORS_AT + 2 * k
            g[b + "thresholds"] = self._setting(at)
            s[b + "thresholds"] = self._thresholds_setter(at)
            g[b + "actions"] = self._setting(at + 1)
            s[b + "actions"] = lambda data, at=at: self._write(at + 1, data)
            v = CURRENT_VALUES[k] if k < self.phases else VOLTAGE_VALUE
            g[b + "monitored_value"] = lambda v=v: _value_def(v)
        g["disconnect_schedule.executed_script"] = \
            lambda: _action(SCRIPTS_LN, self.cfg[_SCHED_SCRIPT][1])
        s["disconnect_schedule.executed_script"] = self._set_scheduled_script
        g["disconnect_schedule.type"] = lambda: self.cfg[_SCHED_TYPE][1]
        s["disconnect_schedule.type"] = \
            lambda kind: self._write_schedule(_SCHED_TYPE, (axdr.ENUM, kind))
        g["disconnect_schedule.execution_time"] = lambda: self.cfg[_SCHED_TIMES]
        s["disconnect_schedule.execution_time"] = \
            lambda data: self._write_schedule(_SCHED_TIMES, data)
        g["io.inputs"] = self.tamper.bits
        g["io.outputs"] = lambda: 1 if self.output_state() else 0

    def _now(self):
        return self.meter.board.clock.now()

    def _set_mode(self, mode):
        old = self.dc.mode
        self.dc.set_mode(mode)      # ValueError: other-reason, nothing changed
        if mode != old:
            self._save_state()

    def _remote(self, op):
        def run(arg):
            if self.operate(op) is None:
                raise errors.OtherReason("transition not allowed in this state or mode")
        return run

    def _execute_script(self, sid):
        if self.execute(sid, REMOTE) is None:
            raise errors.OtherReason("transition not allowed in this state or mode")

    def _set_scheduled_script(self, data):
        ln, sel = data[1][0][1], data[1][1][1]
        if bytes(ln) != SCRIPTS_LN:
            raise errors.OtherReason("the scheduler runs the disconnector script table")
        self._write_schedule(_SCHED_SCRIPT, (_LU, sel))

    def _write_schedule(self, index, data):
        self._write(index, data)
        if self.plan is not None and self.plan.done is None:
            self.plan.resume(self._now())   # executions count from now on, across power cuts
        self._save_state()

    def _setting(self, i):
        # Simple values travel as plain ints, structures and arrays as Data tuples.
        if i in _PLAIN:
            return lambda: self.cfg[i][1]
        return lambda: self.cfg[i]

    def _limiter_setter(self, i):
        def write(data):
            if i in _PLAIN:
                data = (_DLU, data)
            if i == _MONITORED and data != _value_def(LIMITER_VALUE):
                raise errors.OtherReason("the limiter monitors active power import 1-0:1.7.0")
            self._write(i, data)
            if i in (_NORMAL, _EMERGENCY):
                self.meter.raise_event(EVENT_LIMIT_CHANGED)
            self.limiter.restart()
        return write

    def _thresholds_setter(self, at):
        def write(data):
            if len(data[1]) > MAX_THRESHOLDS:
                raise errors.OtherReason("at most %d thresholds" % MAX_THRESHOLDS)
            # Thresholds and actions are written one after the other: the action list follows
            # a changed number of thresholds (new thresholds get no action).
            acts = list(self.cfg[at + 1][1][:len(data[1])])
            while len(acts) < len(data[1]):
                acts.append(NO_ACTIONS)
            saved = self.cfg
            self.cfg = list(saved)
            self.cfg[at + 1] = (_A, acts)
            try:
                self._write(at, data)
            except errors.AccessError:
                self.cfg = saved
                raise
        return write


def make(meter):
    """The switching service of `meter`."""
    return Switching(meter)
