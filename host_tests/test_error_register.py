"""Error registers (runtime/error_service.py, docs/errors.md): detection in the real Meter on the
host board (CPython, in-process), latching through the filter, events, NV persistence, clearing
over COSEM (sans-IO management association), and the firmware process end to end."""
import asyncio

import pytest

import cosem_client as cc
import hw
from core import civil
from dlms import axdr
from runtime import cosem_service, error_service as es
from runtime import meter as meter_mod
from test_clock_set import associate, ciphered

START = civil.to_epoch(2026, 3, 2, 10, 0, 0)
IDIS = cc.obis("0-0:97.97.0")
IE = cc.obis("0-0:97.97.1")
FILTER = cc.obis("0-0:97.97.10")
DLU = axdr.DOUBLE_LONG_UNSIGNED


def new_board(model="me382"):
    return hw.Board(model, {"state_dir": None, "realtime": False, "start": START,
                            "block_frames": 200})


class Rig:
    """A Meter booted on `board` (a new one each `reboot`), recording every event raised."""

    def __init__(self, board, model="me382", **options):
        self.board = board
        self.opts = dict(options, model=model)     # the Meter's options
        self.events = []
        self.meter = None

    def boot(self):
        m = meter_mod.Meter(self.board, self.opts)
        raise_event = m.events.raise_event

        def recorded(code, t_s, log_key=None):
            self.events.append(code)
            return raise_event(code, t_s, log_key)
        m.events.raise_event = recorded
        m.power_on_sync()
        self.meter = m
        self.service = [s for s in m.services if isinstance(s, es.ErrorService)][0]
        return m

    def reboot(self, hard=False):
        self.meter.power_off(hard)
        self.events = []
        return self.boot()


def run(body, model="me382", board=None):
    """Run `body(rig)` inside an event loop (the Meter starts asyncio tasks)."""
    async def main():
        rig = Rig(board or new_board(model), model)
        rig.boot()
        try:
            body(rig)
        finally:
            if rig.meter.powered:
                rig.meter.power_off(hard=True)
    asyncio.run(main())


def test_a_healthy_meter_has_no_errors():
    def body(rig):
        svc = rig.service
        assert (svc.idis, svc.ie, svc.filter) == (0, 0, 0xFFFFFFFF)
        rig.meter.save()
        rig.reboot()
        assert (rig.service.idis, rig.service.ie) == (0, 0)
        assert not {6, 10, 14, 16, 230} & set(rig.events)
    run(body)


@pytest.mark.parametrize("key, data, ie, idis, fatal", [
    (meter_mod.KEY_CAL, b"not a calibration", es.IE_CALIBRATION, es.MEASUREMENT, True),
    (meter_mod.KEY_REGISTERS, b"\x01\x00\x00\x00", es.IE_ENERGY, es.NV_MEMORY, True),
    (meter_mod.KEY_CALENDAR, b"\x07\x00", es.IE_SETTINGS, es.NV_MEMORY, False),
    (meter_mod.KEY_CLOCK, b"\x00", es.IE_SETTINGS, es.NV_MEMORY, False),
])
def test_an_unusable_record_found_at_boot_latches(key, data, ie, idis, fatal):
    def body(rig):
        rig.meter.power_off()
        rig.meter.store.write(key, data)    # what a faulty update or a service tool could leave
        rig.events = []
        rig.boot()
        svc = rig.service
        assert svc.ie == ie | (es.IE_FATAL if fatal else 0)
        assert svc.idis == idis
        want = [16 if idis == es.MEASUREMENT else 14] + ([230] if fatal else [])
        assert [c for c in rig.events if c in (14, 16, 230)] == want
        # Latched in NV: still there after another boot, without new events.
        rig.reboot()
        assert (rig.service.ie, rig.service.idis) == (svc.ie, svc.idis)
        assert not {14, 16, 230} & set(rig.events)
    run(body)


def test_a_record_with_no_valid_copy_left_is_reported_lost():
    def body(rig):
        m = rig.meter
        m.store.write(meter_mod.KEY_KEYS, b"k" * 40)
        m.store.write(meter_mod.KEY_KEYS, b"K" * 40)
        m.power_off()
        for key, s in m.store._slots.items():
            if key == meter_mod.KEY_KEYS:
                m.board.nv.flip(s[1] + 13, 1)      # both copies broken
                m.board.nv.flip(s[2] + 13, 1)
        rig.events = []
        rig.boot()
        assert rig.service.ie & es.IE_RECORD_LOST
        assert rig.service.idis == es.NV_MEMORY
        assert 14 in rig.events
    run(body)


def test_front_end_overruns_latch_at_the_next_save():
    def body(rig):
        m = rig.meter
        m.board.afe.overruns += 3
        assert rig.service.ie == 0          # seen at the next save, not before
        m.save()
        assert rig.service.ie == es.IE_OVERRUN and rig.service.idis == es.MEASUREMENT
        assert rig.events.count(16) == 1
        m.board.afe.overruns += 1
        m.save()
        assert rig.events.count(16) == 1    # already latched: no new event
    run(body)


def test_nv_write_failure_is_fatal():
    def body(rig):
        m = rig.meter
        nv = m.board.nv
        write = nv.write
        failing = [1]

        def flaky(offset, buf):
            if failing[0]:
                failing[0] -= 1
                raise OSError(5, "EIO")
            write(offset, buf)
        nv.write = flaky
        with pytest.raises(OSError):
            m.save()                        # the registers write fails once
        assert m.store.write_errors == 1
        m.save()
        assert rig.service.ie == es.IE_NV_WRITE | es.IE_FATAL
        assert rig.service.idis == es.NV_MEMORY
        assert [c for c in rig.events if c in (14, 230)] == [14, 230]
        rig.reboot()
        assert rig.service.ie == es.IE_NV_WRITE | es.IE_FATAL
    run(body)


def test_a_clock_the_board_calls_invalid():
    def body(rig):
        rig.meter.board.clock.valid = lambda: False
        rig.meter.save()
        assert rig.service.ie == es.IE_CLOCK and rig.service.idis == es.CLOCK_INVALID
        assert 6 in rig.events
    run(body)


def test_the_filter_decides_which_idis_bits_latch():
    def body(rig):
        svc = rig.service
        svc.set_filter(0xFFFFFFFF & ~es.MEASUREMENT)
        rig.meter.board.afe.overruns += 1
        rig.meter.save()
        assert svc.ie == es.IE_OVERRUN and svc.idis == 0   # detail kept, IDIS bit filtered
        assert 16 not in rig.events
        rig.reboot()
        assert rig.service.filter == 0xFFFFFFFF & ~es.MEASUREMENT
    run(body)


def test_writing_zero_clears_and_anything_else_is_refused():
    def body(rig):
        svc = rig.service
        rig.meter.board.afe.overruns += 1
        rig.meter.save()
        with pytest.raises(ValueError):
            svc.clear_idis(es.MEASUREMENT)
        assert svc.idis == es.MEASUREMENT
        svc.clear_idis(0)
        assert svc.idis == 0 and svc.ie == es.IE_OVERRUN
        assert rig.events[-1] == 10
        svc.clear_ie(0)
        assert svc.ie == 0 and rig.events[-1] == 10
        rig.reboot()
        assert (rig.service.idis, rig.service.ie) == (0, 0)
    run(body)


def test_error_registers_over_cosem():
    def body(rig):
        m = rig.meter
        app, _ = cosem_service.build(m)
        conn, s = associate(app)

        def get(obj):
            rsp = ciphered(conn, s, cc.get(1, obj, 2), 0xC8)
            assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
            return axdr.decode_all(rsp[4:])

        def set_(obj, v):
            return ciphered(conn, s, cc.set_(1, obj, 2, axdr.encode((DLU, v))), 0xC9)[3]

        assert get(IDIS) == (DLU, 0) and get(FILTER) == (DLU, 0xFFFFFFFF)
        m.board.afe.overruns += 1
        m.save()
        assert get(IDIS) == (DLU, es.MEASUREMENT) and get(IE) == (DLU, es.IE_OVERRUN)
        assert set_(IDIS, 1) == 250                   # only 0 clears
        assert get(IDIS) == (DLU, es.MEASUREMENT)
        assert ciphered(conn, s, cc.set_(1, IDIS, 2, axdr.encode((axdr.UNSIGNED, 0))),
                        0xC9)[3] == 12                 # wrong type
        assert set_(IDIS, 0) == 0
        assert get(IDIS) == (DLU, 0) and get(IE) == (DLU, es.IE_OVERRUN)
        assert m.events.last_code("standard") == 10
        assert set_(FILTER, 0x400) == 0
        assert get(FILTER) == (DLU, 0x400)
    run(body)


def test_mt382_has_the_error_objects_too():
    def body(rig):
        app, _ = cosem_service.build(rig.meter)
        conn, s = associate(app)
        rsp = ciphered(conn, s, cc.get(1, IE, 2), 0xC8)
        assert rsp[:4] == bytes.fromhex("C401C100")
    run(body, "mt382")


def test_error_register_end_to_end():
    """The firmware process: the error register is readable and writing 0 clears it (event 10
    in the standard event log's event-code object)."""
    from test_tariff_control import management, Conn, ServiceWithControl, get, set_
    with ServiceWithControl() as svc:
        c, s = management(svc.wrapper_port)
        conn = Conn(c)
        try:
            assert get(conn, s, IDIS, 1, 2) == (DLU, 0)
            assert set_(conn, s, IDIS, 1, 2, (DLU, 0)) == 0
            assert get(conn, s, cc.obis("0-0:96.11.0"), 1, 2) == (axdr.UNSIGNED, 10)
            assert set_(conn, s, IDIS, 1, 2, (DLU, 7)) == 250
        finally:
            c.close()
