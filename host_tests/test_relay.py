"""The relay driver (runtime.relay) with the host board's simulated latching relay: feedback
check, retries with longer pulses, event 68, refusal on a weak supply, NV target and power cuts
during switching; and the same driver on the ARM board's LatchingRelay."""
import asyncio
import sys

import pytest

import sim_nv
import sim_power
import sim_relay
from runtime import nvlayout, relay as relay_mod
from runtime.relay import RelayDriver

sys.path.append("boards/pyboard_ads131")


class Clock:
    """Fake sleep: records every wait, yields once."""

    def __init__(self):
        self.waits = []

    async def sleep_ms(self, ms):
        self.waits.append(ms)
        await asyncio.sleep(0)


def rig(contact=True, nv=None):
    clock = Clock()
    afe_supply = []
    r = sim_relay.SimRelay(contact, on_contact=afe_supply.append, sleep_ms=clock.sleep_ms)
    power = sim_power.Power()
    events = []
    store = nvlayout.open_store(nv or sim_nv.NvMem())
    d = RelayDriver(r, power, store, events.append, sleep_ms=clock.sleep_ms)
    return d, r, power, events, store, afe_supply


def run(coro):
    return asyncio.run(coro)


def test_open_and_close_with_feedback():
    d, r, power, events, store, supply = rig()
    d.command(False)
    assert store.read("relay")[0] == 0          # the target is in NV before any pulse
    assert run(d.operate()) is True
    assert (r.contact, d.closed, r.pulses, d.attempts, events, supply) == (
        False, False, 1, 1, [], [False])
    d.command(True)
    run(d.settle())
    assert (r.contact, d.closed, r.pulses) == (True, True, 2)
    run(d.settle())                              # nothing pending: no pulse
    assert r.pulses == 2


@pytest.mark.parametrize("fault, target, contact_after", [
    ("stuck_open", True, False),
    ("welded", False, True),
    ("feedback_broken", True, True),
])
def test_faults_retry_then_event_68(fault, target, contact_after):
    d, r, power, events, store, _ = rig(contact=not target)
    r.fault(fault)
    d.command(target)
    assert run(d.operate()) is False
    assert events == [relay_mod.EVENT_FAILURE]
    assert r.pulses == relay_mod.RETRIES and d.attempts == relay_mod.RETRIES
    assert r.contact == contact_after
    assert d.failed and not d.pending()
    assert store.read("relay")[2] == 1          # failure kept in NV
    # Each retry doubles the pulse; the configured width is back afterwards.
    assert r.pulse_ms == relay_mod.PULSE_MS
    r.fault(fault, False)
    d.command(target)
    assert run(d.operate()) is True and events == [relay_mod.EVENT_FAILURE]
    assert r.contact == target


def test_slow_relay_moves_with_the_longer_retry_pulse():
    d, r, power, events, store, _ = rig()
    r.fault("slow")
    widths = []
    orig = r._pulse

    async def spy(closed):
        widths.append(r.pulse_ms)
        await orig(closed)
    r._pulse = spy
    d.command(False)
    assert run(d.operate()) is True
    assert widths == [30, 60] and events == [] and r.contact is False


def test_low_supply_refuses_to_pulse():
    d, r, power, events, store, _ = rig()
    power.set_coil_mv(relay_mod.MIN_COIL_MV - 1)
    d.command(False)
    assert run(d.operate()) is False
    assert r.pulses == 0 and r.contact is True and events == [68]
    assert d.closed is None or d.closed is True
    power.set_coil_mv(relay_mod.MIN_COIL_MV)
    d.command(False)
    assert run(d.operate()) is True and r.contact is False
    power.cut()                                  # mains lost: no pulse either
    d.command(True)
    assert run(d.operate()) is False and r.pulses == 1


def test_new_command_during_an_operation_wins():
    d, r, power, events, store, _ = rig()
    r.fault("stuck_open")

    async def go():
        d.command(False)
        t = asyncio.create_task(d.run())
        for _ in range(3):
            await asyncio.sleep(0)
        d.command(True)         # changes its mind while the open pulse runs
        for _ in range(200):
            await asyncio.sleep(0)
            if not d.busy and not d.pending():
                break
        t.cancel()
    run(go())
    # The contact opened, then could not close (stuck open): failure of the close command.
    assert d.target is True and d.failed and events == [68] and r.contact is False


def test_power_cut_during_a_pulse_and_power_up_to_the_stored_target():
    nv = sim_nv.NvMem()
    d, r, power, events, store, _ = rig(nv=nv)

    async def cut():
        d.command(False)
        t = asyncio.create_task(d.run())
        for _ in range(20):
            await asyncio.sleep(0)
            if r.coil is not None:
                break
        assert r.coil is False                  # the reset coil is energised
        t.cancel()                              # power-off ends every task
        try:
            await t
        except asyncio.CancelledError:
            pass
    run(cut())
    assert r.contact is True and r.coil is None  # the interrupted pulse did not move it
    # Power-up: a new driver over the same NV and relay.
    clock = Clock()
    d2 = RelayDriver(r, power, nvlayout.open_store(nv), events.append, sleep_ms=clock.sleep_ms)
    d2.restore(default=True)
    assert d2.target is False and d2.closed is None
    run(d2.settle())
    assert r.contact is False and d2.closed is False and events == []


@pytest.mark.parametrize("n", range(0, 40, 3))
def test_power_cut_while_the_target_is_written(n):
    # A cut at any byte of the NV write: after power-up the target is the old or the new one,
    # and the relay ends where that target says.
    nv = sim_nv.NvMem()
    d, r, power, events, store, _ = rig(nv=nv)
    d.command(True)
    run(d.settle())
    nv.cut_after(n, torn=True, seed=n + 1)
    try:
        d.command(False)
    except sim_nv.PowerCut:
        pass
    nv.restore()
    d2 = RelayDriver(r, power, nvlayout.open_store(nv), events.append,
                     sleep_ms=Clock().sleep_ms)
    d2.restore()
    assert d2.target in (True, False)
    run(d2.settle())
    assert r.contact == d2.target and d2.closed == d2.target


def test_unusable_record_uses_the_default():
    nv = sim_nv.NvMem()
    store = nvlayout.open_store(nv)
    store.write("relay", b"\x07\x00\x00")
    r = sim_relay.SimRelay(True)
    d = RelayDriver(r, sim_power.Power(), store)
    d.restore(default=False)
    assert d.target is False


def test_bad_settings_are_refused():
    r = sim_relay.SimRelay(True)
    for kw in ({"pulse_ms": 0}, {"pulse_ms": 1001}, {"retries": 0}):
        with pytest.raises(ValueError):
            RelayDriver(r, sim_power.Power(), **kw)
    with pytest.raises(ValueError):
        r.fault("melted")


# -------------------------------------------------------------- the ARM board's latching relay

def test_driver_runs_the_arm_latching_relay():
    from ads131_sim import Pin
    from relay_latch import LatchingRelay
    clock = Clock()
    aux = Pin(0)
    set_pin, reset_pin = Pin(1), Pin(1)

    class Linked(LatchingRelay):
        # The auxiliary contact follows the completed pulses, as the real contact would.
        async def _pulse(self, coil, other, closed):
            await LatchingRelay._pulse(self, coil, other, closed)
            aux.value(1 if closed else 0)

    lr = Linked(set_pin, reset_pin, sleep_ms=clock.sleep_ms, aux_pin=aux)
    events = []
    d = RelayDriver(lr, sim_power.Power(), None, events.append, pulse_ms=25,
                    sleep_ms=clock.sleep_ms)
    d.command(True)
    assert run(d.operate()) is True and lr.feedback() is True
    d.command(False)
    assert run(d.operate()) is True and lr.closed is False and lr.pulses == 2
    assert 25 in clock.waits and events == []
    # Without an auxiliary contact the driver trusts the completed pulse.
    lr2 = LatchingRelay(Pin(1), Pin(1), sleep_ms=clock.sleep_ms)
    assert lr2.feedback() is None
    d2 = RelayDriver(lr2, sim_power.Power(), None, events.append, sleep_ms=clock.sleep_ms)
    d2.command(False)
    assert run(d2.operate()) is True and lr2.closed is False


# -------------------------------------------------------------- the service across power cuts

@pytest.mark.parametrize("n", list(range(0, 60, 5)) + [200])
def test_power_cut_during_a_disconnection_ends_consistent(n):
    # A cut after n bytes of the NV writes of a remote disconnection (control state record,
    # then relay target); at power-up the control state and the contact agree.
    from core import disconnect as dcl
    from test_limiter import Rig, _fast_sleep
    rig = Rig()
    nv = rig.meter.board.nv
    nv.cut_after(n, torn=True, seed=n + 3)
    try:
        rig.sw.operate(dcl.REMOTE_DISCONNECT)
    except sim_nv.PowerCut:
        pass
    nv.restore()
    contact = rig.meter.board.relay.contact     # no pulse ran: still closed
    again = Rig(nv=nv, ic=1 << 24)
    again.meter.board.relay.move(contact)
    sw = again.sw

    async def boot():
        sw.power_on(again.now())
        sw.driver._sleep = _fast_sleep
        await sw.driver.settle()
        sw.power_off(again.now(), False)
    run(boot())
    assert sw.dc.state in (0, 1)
    assert again.meter.board.relay.contact == (sw.dc.state == 1) == sw.driver.target
    if n >= 200:
        assert sw.dc.state == 0
