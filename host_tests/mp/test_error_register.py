# Error registers (runtime.error_service) under MicroPython: detection at boot and at saves,
# the filter, events, NV persistence, clearing.
import asyncio
import gc

import hw
from runtime import error_service as es
from runtime import meter as meter_mod

START = 836481600   # 2026-07-04 12:00 UTC


def _check(cond, what):
    if not cond:
        raise AssertionError(what)


class _Rig:
    def __init__(self):
        self.board = hw.Board("me382", {"start": START, "state_dir": None, "realtime": False})
        self.codes = []

    def boot(self):
        m = meter_mod.Meter(self.board, {"model": "me382"})
        raise_event = m.events.raise_event

        def recorded(code, t_s, log_key=None):
            self.codes.append(code)
            return raise_event(code, t_s, log_key)
        m.events.raise_event = recorded
        m.power_on_sync()
        self.meter = m
        for s in m.services:
            if isinstance(s, es.ErrorService):
                self.svc = s
        return m


def _run(body):
    meter_mod.current = None    # the heap of an earlier test's meter goes back
    gc.collect()

    async def main():
        rig = _Rig()
        rig.boot()
        try:
            body(rig)
        finally:
            if rig.meter.powered:
                rig.meter.power_off(True)
    asyncio.run(main())


def test_unusable_calibration_is_fatal_and_persists():
    def body(rig):
        _check(rig.svc.ie == 0 and rig.svc.idis == 0, "clean start")
        rig.meter.power_off()
        rig.meter.store.write(meter_mod.KEY_CAL, b"\x00" * 9)
        rig.codes = []
        rig.boot()
        _check(rig.svc.ie == es.IE_CALIBRATION | es.IE_FATAL, rig.svc.ie)
        _check(rig.svc.idis == es.MEASUREMENT, rig.svc.idis)
        _check(16 in rig.codes and 230 in rig.codes, rig.codes)
        rig.meter.power_off()
        rig.codes = []
        rig.boot()
        _check(rig.svc.ie == es.IE_CALIBRATION | es.IE_FATAL, "kept in NV")
        _check(230 not in rig.codes, rig.codes)
    _run(body)


def test_overrun_filter_and_clear():
    def body(rig):
        svc = rig.svc
        svc.set_filter(0)
        rig.board.afe.overruns += 2
        rig.meter.save()
        _check(svc.ie == es.IE_OVERRUN and svc.idis == 0, (svc.ie, svc.idis))
        svc.set_filter(0xFFFFFFFF)
        rig.board.clock.valid = lambda: False
        rig.meter.save()
        _check(svc.idis == es.CLOCK_INVALID and 6 in rig.codes, (svc.idis, rig.codes))
        try:
            svc.clear_idis(1)
            raise AssertionError("a non-zero write must be refused")
        except ValueError:
            pass
        svc.clear_idis(0)
        svc.clear_ie(0)
        _check(svc.idis == 0 and svc.ie == 0 and rig.codes[-1] == 10, rig.codes)
    _run(body)
