"""Alarm registers 1 and 2, their filters and descriptors (core.events holds them) as COSEM
sources, kept in the NV record "alarms" so that alarms survive a power cut (docs/alarms_push.md).

Writing an alarm register or a descriptor resets bits: the bits set in the written value, or
every bit when the value is 0 (the IDIS head-end habit of writing 0 to an alarm register).
Resetting an alarm register logs event 11. A newly set alarm bit is written to NV at once; a
descriptor bit set again while its alarm bit stays set is written with the next save.
"""
import struct

from runtime import log
from runtime.service import Service

KEY = "alarms"
_FORMAT = "<6I"     # alarm 1, alarm 2, filter 1, filter 2, descriptor 1, descriptor 2
_ALL = 0xFFFFFFFF


def pack(ev):
    """The record of the alarm state of a core.events.Events."""
    return struct.pack(_FORMAT, ev.alarm[0], ev.alarm[1], ev.filter[0], ev.filter[1],
                       ev.descriptor[0], ev.descriptor[1])


def unpack(raw, ev):
    """Put the alarm state of a record into `ev`; ValueError for a record of the wrong size."""
    if len(raw) != struct.calcsize(_FORMAT):
        raise ValueError("alarm record of %d octets" % len(raw))
    a1, a2, f1, f2, d1, d2 = struct.unpack(_FORMAT, raw)
    ev.alarm[0], ev.alarm[1] = a1, a2
    ev.filter[0], ev.filter[1] = f1, f2
    ev.descriptor[0], ev.descriptor[1] = d1, d2


class Alarms(Service):
    """The alarm objects of the meter over meter.events."""

    def __init__(self, meter):
        self.meter = meter
        self._saved = None
        self._restore()
        meter.events.subscribe(self._on_alarm)

    def _restore(self):
        # The boot path: the alarm state is what NV holds (nothing stored: no alarm, filters open).
        ev = self.meter.events
        raw = self.meter.store.read(KEY)
        if raw is None:
            ev.alarm[:] = [0, 0]
            ev.descriptor[:] = [0, 0]
            ev.filter[:] = [_ALL, _ALL]
        else:
            try:
                unpack(raw, ev)
            except ValueError as e:
                log.error("%s: alarms start cleared", e)
        self._saved = pack(ev)

    def _write(self):
        raw = pack(self.meter.events)
        if raw != self._saved:
            self.meter.store.write(KEY, raw)
            self._saved = raw

    def _on_alarm(self, register, bits, t_s):
        self._write()

    def bind(self, sources):
        g = sources.getters
        s = sources.setters
        ev = self.meter.events
        for r in (1, 2):
            g["alarms.register%d" % r] = self._reader(ev.alarm, r - 1)
            g["alarms.filter%d" % r] = self._reader(ev.filter, r - 1)
            g["alarms.descriptor%d" % r] = self._reader(ev.descriptor, r - 1)
            s["alarms.register%d" % r] = self._reset_alarms(r)
            s["alarms.filter%d" % r] = self._set_filter(r - 1)
            s["alarms.descriptor%d" % r] = self._reset_descriptor(r)

    @staticmethod
    def _reader(values, i):
        return lambda: values[i]

    def _reset_alarms(self, register):
        def write(mask):
            self.meter.events.clear_alarms(register, self.meter.board.clock.now(),
                                           mask or _ALL)
            self._write()
        return write

    def _set_filter(self, i):
        def write(mask):
            self.meter.events.filter[i] = mask
            self._write()
        return write

    def _reset_descriptor(self, register):
        def write(mask):
            self.meter.events.clear_descriptor(register, mask or _ALL)
            self._write()
        return write

    def save(self):
        self._write()

    def power_off(self, now_s, hard):
        # RAM is gone: what the next boot sees is what NV holds.
        self._restore()


def make(meter):
    """The alarms service of the meter."""
    return Alarms(meter)
