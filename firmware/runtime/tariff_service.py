"""Tariffication control (application 12, docs/tariffs.md): the tariffication script table
0-0:10.0.100, the tariff switch source 0-0:96.14.128 and the active masks of the register
activation objects 0-0:14.0.1 / 0-0:14.0.2, over the Meter's TimeOfUse.

Executing script n (1..8) is the manual activation of tariff n (`TimeOfUse.execute_script`): under
the activity calendar (source 0) tariff n holds until the calendar's next switch; under manual
control (source 1) it holds until the next script. Switching to manual control keeps the tariff in
force until a script runs. The energy and demand of the meter go to the tariff in force through
the Meter's SwitchCache, invalidated at every change.

NV record "tariff_ctl": version u8 | source u8 | manual tariff u8 | override tariff u8 (0: none) |
override start u32 | override end u32 (0xFFFFFFFF: none), written before a change takes effect;
the time of use is rebuilt at every boot, so the state goes back into it at power on.
"""
import struct

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from core import calendar, tariff
from cosem import errors
from runtime import log
from runtime.service import Service

KEY = "tariff_ctl"
_FMT = "<BBBBII"
_VERSION = const(1)
_NO_END = 0xFFFFFFFF
# Sources a client may select: the meter has no external tariff input.
_SOURCES = (tariff.SOURCE_CALENDAR, tariff.SOURCE_MANUAL)


def pack(state):
    """The NV record of a TimeOfUse.manual_state()."""
    source, manual, ov = state
    if ov is None:
        return struct.pack(_FMT, _VERSION, source, manual, 0, 0, _NO_END)
    return struct.pack(_FMT, _VERSION, source, manual, ov[0], ov[1],
                       _NO_END if ov[2] is None else ov[2])


def unpack(raw):
    """(source, manual tariff, override) of a record; ValueError if unusable."""
    if len(raw) != struct.calcsize(_FMT):
        raise ValueError("tariff control record of %d octets" % len(raw))
    version, source, manual, t, start, end = struct.unpack(_FMT, raw)
    if version != _VERSION:
        raise ValueError("tariff control record version %d" % version)
    if source not in _SOURCES:
        raise ValueError("tariff switch source %d" % source)
    return source, manual, None if t == 0 else (t, start, None if end == _NO_END else end)


class TariffService(Service):
    """Manual tariff activation and the switch source of one Meter."""

    def __init__(self, meter):
        self.meter = meter

    def bind(self, sources):
        g = sources.getters
        g["activation.energy.active_mask"] = self._active_mask
        g["activation.demand.active_mask"] = self._active_mask
        g["tariff_switch.source"] = lambda: self.meter.tou.source
        sources.setters["tariff_switch.source"] = self.set_source
        sources.actions["tariff_scripts.execute"] = self.execute

    def power_on(self, now_s):
        raw = self.meter.store.read(KEY)
        if raw is None:
            return
        try:
            self.meter.tou.restore_manual(*unpack(raw))
        except ValueError as e:
            log.error("tariff control record unusable (%s): the activity calendar rules", e)
            return
        self.meter.switches.invalidate()

    def _active_mask(self):
        # Mask "Tn" of the tariff in force (models.tariff_control names them so).
        return ("T%d" % self.meter.active_tariff()).encode()

    def execute(self, script):
        """Script `script` of 0-0:10.0.100: manual activation of that tariff now."""
        now = self.meter.board.clock.now()
        self._change(lambda tou: tou.execute_script(script, now))
        log.info("tariff %d activated by script", script)

    def set_source(self, source):
        """Select the tariff switch source (0 activity calendar, 1 manual scripts only)."""
        if source not in _SOURCES:
            raise errors.OtherReason("no such tariff switch source on this meter")
        tou = self.meter.tou
        if source == tou.source:
            return
        now = self.meter.board.clock.now()
        held = tou.active_tariff(now)

        def change(t):
            t.set_source(source)
            if source == tariff.SOURCE_MANUAL:
                t.execute_script(held, now)     # the tariff in force stays until a script runs
        self._change(change)

    def _change(self, apply):
        # Apply to the time of use, keep it in NV; on any failure the old state comes back.
        tou = self.meter.tou
        old = tou.manual_state()
        try:
            apply(tou)
            self.meter.store.write(KEY, pack(tou.manual_state()))
        except calendar.CalendarError as e:
            tou.restore_manual(*old)
            raise errors.OtherReason(str(e))
        except Exception:
            tou.restore_manual(*old)
            raise
        finally:
            self.meter.switches.invalidate()


def make(meter):
    """The tariff service of `meter`."""
    return TariffService(meter)
