"""Watchdog (runtime/watchdog.py, boards/host/sim_wdt.py, docs/power_quality.md "Watchdog"): the
simulated watchdog, the counter and event 15 after a watchdog reset, the counter's NV record under
power cuts, the feeding task, a stalled scheduler resetting the meter in-process, the COSEM object,
and the firmware process end to end (control channel `hang`)."""
import asyncio
import time

import pytest

import cosem_client as cc
import hw
import models
import sim_clock
import sim_nv
import sim_wdt
from core import civil
from cosem import errors, obis
from cosem.sources import DictSources
from dlms import axdr
from models import common
from runtime import cosem_service, error_service as es
from runtime import meter as meter_mod
from runtime import watchdog as wd
from test_clock_set import associate, ciphered
from test_models import fake_sources, views
import test_error_register as error_rig

START = civil.to_epoch(2026, 5, 4, 8, 0, 0)
COUNTER = "0-0:128.15.0"
DLU = axdr.DOUBLE_LONG_UNSIGNED
ALARM1_WATCHDOG = 1 << 12


# ------------------------------------------------------------------ simulated watchdog


class Ticks:
    """A hand-moved millisecond tick counter."""

    def __init__(self):
        self.now = 1000

    def __call__(self):
        return self.now


def test_the_simulated_watchdog_fires_only_after_the_timeout():
    t = Ticks()
    w = sim_wdt.SimWdt(100, t)
    t.now += 100
    assert not w.expired()          # exactly the timeout: not yet
    w.feed()
    t.now += 60
    w.feed()
    t.now += 100
    assert not w.expired() and w.feeds == 2
    t.now += 1
    assert w.expired()
    w.feed()                        # too late: the reset is under way
    assert w.expired()


def test_a_late_feed_latches_the_expiry():
    # After a stall the feeding task may run before anything checks: its feed must not hide it.
    t = Ticks()
    w = sim_wdt.SimWdt(100, t)
    t.now += 250
    w.feed()
    assert w.expired()


@pytest.mark.parametrize("timeout", [0, -5, 60001, 1.5, None])
def test_watchdog_timeout_is_checked(timeout):
    with pytest.raises(ValueError):
        sim_wdt.SimWdt(timeout)


# ------------------------------------------------------------------ the service in the Meter


class Rig(error_rig.Rig):
    """The error register tests' Rig, with the watchdog timeout and the host board's resets."""

    def __init__(self, board, model="me382", watchdog_ms=wd.TIMEOUT_MS):
        error_rig.Rig.__init__(self, board, model, watchdog_ms=watchdog_ms)

    def service_of(self, cls):
        return [s for s in self.meter.services if isinstance(s, cls)][0]

    def watchdog_reset(self):
        """The host board's watchdog reset (the Meter boots again from NV)."""
        self.events = []
        sim_wdt.reset(self.meter)

    def power_cycle(self):
        """A power failure and a boot on a new Meter (RAM is gone)."""
        self.events = []
        self.board.cut_power()
        self.meter.power_off()
        self.board.restore_power(60)
        self.boot()


def run(body, model="me382", **kw):
    """Run `body(rig)` (a plain or async function) inside an event loop."""
    async def main():
        rig = Rig(error_rig.new_board(model), model, **kw)
        rig.boot()
        try:
            r = body(rig)
            if r is not None:
                await r
        finally:
            if rig.meter.powered:
                rig.meter.power_off(hard=True)
    asyncio.run(main())


def standard_log_codes(m):
    logs = [s for s in m.services if hasattr(s, "sinks")][0]
    buf = logs.sinks["standard"].buffer
    return [buf.values(i)[1] for i in range(len(buf))]


@pytest.mark.parametrize("model", models.NAMES)
def test_a_watchdog_reset_is_counted_and_reported_once(model):
    def body(rig):
        svc = rig.service_of(wd.Watchdog)
        assert svc.count == 0 and 15 not in rig.events
        rig.watchdog_reset()
        m = rig.meter
        svc = rig.service_of(wd.Watchdog)
        errs = rig.service_of(es.ErrorService)
        assert svc.count == 1 and rig.events.count(15) == 1
        assert standard_log_codes(m).count(15) == 1
        assert m.events.last_code("standard") == 15
        assert m.events.alarm[0] & ALARM1_WATCHDOG
        assert errs.idis & es.WATCHDOG and errs.ie & es.IE_WATCHDOG
        assert not errs.ie & es.IE_FATAL
        # COSEM, management client: the counter.
        app, _ = cosem_service.build(m)
        conn, s = associate(app)
        rsp = ciphered(conn, s, cc.get(1, cc.obis(COUNTER), 2), 0xC8)
        assert rsp[:4] == bytes.fromhex("C401C100"), rsp.hex()
        assert axdr.decode_all(rsp[4:]) == (DLU, 1)
        # A normal power-on counts nothing; the counter and the error bit stay.
        rig.power_cycle()
        assert rig.service_of(wd.Watchdog).count == 1 and 15 not in rig.events
        assert rig.service_of(es.ErrorService).idis & es.WATCHDOG
        # Every watchdog reset is counted and logged, bit 12 latched or not.
        rig.watchdog_reset()
        assert rig.service_of(wd.Watchdog).count == 2 and rig.events.count(15) == 1
        assert standard_log_codes(rig.meter).count(15) == 2
    run(body, model)


def test_a_normal_boot_raises_nothing_and_starts_the_watchdog():
    def body(rig):
        assert rig.service_of(wd.Watchdog).count == 0
        assert not {15} & set(rig.events)
        assert rig.service_of(es.ErrorService).idis == 0
        assert rig.meter.events.alarm[0] & ALARM1_WATCHDOG == 0
        assert rig.board.wdt is not None and rig.board.wdt.timeout_ms == wd.TIMEOUT_MS
    run(body)


class NvBoard:
    """The least a Meter needs: a clock and NV; `cause` is what reset_cause() says."""

    def __init__(self, nv):
        self.clock = sim_clock.Clock(1000, START)
        self.nv = nv
        self.cause = wd.POWER_ON

    def reset_cause(self):
        return self.cause


def counter_service(nv, cause=wd.POWER_ON):
    board = NvBoard(nv)
    board.cause = cause
    m = meter_mod.Meter(board, {"model": "me382"})
    return [s for s in m.services if isinstance(s, wd.Watchdog)][0]


@pytest.mark.parametrize("torn", [False, True])
@pytest.mark.parametrize("cut", range(0, 26))
def test_a_cut_at_any_byte_of_the_counter_write_leaves_old_or_new(cut, torn):
    nv = sim_nv.NvMem()
    counter_service(nv, wd.WATCHDOG).power_on(START)        # counter 1 in NV
    svc = counter_service(nv, wd.WATCHDOG)
    nv.cut_after(cut, torn=torn, seed=cut + 1)
    try:
        svc.power_on(START)     # the counter's record is its first NV write
    except sim_nv.PowerCut:
        pass
    nv.restore()
    after = counter_service(nv)
    after.power_on(START)
    assert after.count in (1, 2)
    if cut >= 20:               # the whole copy (12 header + 4 data + 4 CRC) was written
        assert after.count == 2


def test_an_unusable_counter_record_starts_at_zero():
    nv = sim_nv.NvMem()
    svc = counter_service(nv)
    svc.meter.store.write(wd.KEY, b"\x01\x02")
    svc.power_on(START)
    assert svc.count == 0


def test_a_board_without_watchdog_or_event_loop_breaks_nothing():
    # NvBoard has no watchdog(): nothing to feed. A board with one, but no event loop running
    # (a Meter driven without its tasks): the feeding task cannot start, power_on still works.
    svc = counter_service(sim_nv.NvMem(), wd.WATCHDOG)
    svc.power_on(START)
    assert svc.count == 1 and svc._task is None
    started = []
    board = svc.meter.board
    board.watchdog = lambda ms: started.append(ms) or sim_wdt.SimWdt(ms)
    board.cause = wd.POWER_ON
    svc.power_on(START)
    assert started == [wd.TIMEOUT_MS] and svc._task is None and svc.count == 1


def test_the_feeding_task_feeds_until_the_power_fails():
    async def body(rig):
        wdt = rig.board.wdt
        assert wdt.timeout_ms == 1000
        for _ in range(300):            # a feed every 250 ms
            if wdt.feeds >= 3:
                break
            await asyncio.sleep(0.02)
        assert wdt.feeds >= 3 and not wdt.expired()
        rig.meter.power_off(hard=True)
        assert rig.service_of(wd.Watchdog)._task is None
        fed = wdt.feeds
        for _ in range(10):
            await asyncio.sleep(0.02)
        assert wdt.feeds == fed         # cancelled: nothing feeds any more
    run(body, watchdog_ms=1000)


def test_a_stalled_scheduler_resets_the_meter_and_a_short_stall_does_not():
    async def body(rig):
        sup = asyncio.create_task(sim_wdt.supervise(rig.meter, check_ms=10))
        try:
            for _ in range(200):        # the feeding task has run
                if rig.board.wdt.feeds:
                    break
                await asyncio.sleep(0.01)
            time.sleep(0.05)            # a blocking call shorter than the timeout
            assert not rig.board.wdt.expired()
            await asyncio.sleep(0.05)
            assert rig.service_of(wd.Watchdog).count == 0
            rig.events = []
            time.sleep(1.5)             # stalls the scheduler past the 1000 ms timeout
            assert rig.board.wdt.expired()
            for _ in range(300):
                if rig.service_of(wd.Watchdog).count:
                    break
                await asyncio.sleep(0.01)
            # The same Meter object booted again (sim_wdt.reset): counted, event 15 once.
            assert rig.service_of(wd.Watchdog).count == 1 and rig.events.count(15) == 1
            assert rig.meter.powered and rig.board.reset_cause() == sim_wdt.WATCHDOG
            assert not rig.board.wdt.expired()      # a new watchdog, started at the boot
        finally:
            sup.cancel()
    run(body, watchdog_ms=1000)


# ------------------------------------------------------------------ COSEM object


@pytest.mark.parametrize("name", models.NAMES)
def test_the_counter_object_is_read_only_for_management_and_preestablished(name):
    m = models.load(name, DictSources())
    m.sources, m.calls = fake_sources(m)
    m.sources.values["watchdog.count"] = 7
    vs = views(m)
    ln = obis.parse(COUNTER)
    with pytest.raises(errors.ObjectUndefined):
        vs[common.PUBLIC].find(1, ln)
    for ci in (common.MANAGEMENT, common.PREESTABLISHED):
        v = vs[ci]
        obj = v.find(1, ln)
        assert v.get(obj, 2) == (DLU, 7)
        with pytest.raises(errors.ReadWriteDenied):
            v.set(obj, 2, (DLU, 0))
    assert m.sources.values["watchdog.count"] == 7


# ------------------------------------------------------------------ end to end


def test_hang_past_the_timeout_resets_the_firmware_process():
    """The firmware process under micropython, watchdog timeout 2000 ms: a 200 ms hang leaves
    the watchdog fed, a 3000 ms hang makes it fire; the meter restarts, the COSEM watchdog
    counter reads 1, event 15 is once in the standard event log, error register bit 12 and alarm
    register 1 bit 12 are set."""
    from test_tariff_control import Conn, get
    svc = cc.ControlledService()
    svc.cmd += ["--watchdog-ms", "2000"]
    with svc:
        assert svc.ctl("hang", ms=200)["expired"] is False
        assert svc.ctl("hang", ms=3000)["expired"] is True
        c, s = cc.management(svc.wrapper_port)
        conn = Conn(c)
        try:
            deadline = time.monotonic() + 30
            for _ in range(600):
                n = get(conn, s, cc.obis(COUNTER), 1, 2)
                if n != (DLU, 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert n == (DLU, 1)
            log = get(conn, s, cc.obis("0-0:99.98.0"), 7, 2)[1]
            assert [r[1][1][1] for r in log].count(15) == 1
            idis = get(conn, s, cc.obis("0-0:97.97.0"), 1, 2)[1]
            alarm1 = get(conn, s, cc.obis("0-0:97.98.0"), 1, 2)[1]
            assert idis & es.WATCHDOG and alarm1 & ALARM1_WATCHDOG
        finally:
            c.close()
