# MicroPython-only checks of the switching function: the class 70 state machine, the relay
# driver with the host board's simulated relay (faults, event 68), and the switching service in a
# running Meter (real sampling): disconnection stops the current, the limiter trips on measured
# power, the button reconnects, the state survives a power cycle.
import asyncio

import hw
from core import disconnect as dcl
from core import fraud
from runtime import meter as meter_mod
from runtime.relay import RelayDriver

START = 86400 * 9500


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def test_every_mode_allows_exactly_its_transitions():
    made = {}
    for mode in range(7):
        for state in (0, 1, 2):
            if mode == 0 and state != 1:
                continue
            for op in range(6):
                d = dcl.Disconnect(mode, state)
                t = d.step(op)
                if t is None:
                    check(d.state == state, "refused operation changed the state")
                    continue
                check(t in dcl.ALLOWED[mode], "transition %s not allowed in mode %d" % (t, mode))
                check(dcl.TRANSITIONS[t] == (state, d.state), "transition %s" % t)
                made.setdefault(t, []).append(mode)
    check(sorted(made) == list("abcdefgh"), "every transition reachable")
    check(sorted(set(made["a"])) == [2, 4] and sorted(set(made["h"])) == [5, 6], "a and h")


async def _fast(ms):
    await asyncio.sleep_ms(0)


def test_relay_driver_faults_under_micropython():
    b = hw.Board("me382", {"state_dir": None, "realtime": False, "start": START})
    b.relay._sleep = _fast
    events = []
    d = RelayDriver(b.relay, b.power, None, events.append, sleep_ms=_fast)
    d.command(False)
    check(asyncio.run(d.operate()) is True and b.relay.contact is False, "opens")
    check(b.afe.ideal()[0]["i"] == 0, "no load current while open")
    b.relay.fault("stuck_open")
    d.command(True)
    check(asyncio.run(d.operate()) is False and events == [68], "stuck open: event 68")
    b.relay.fault("stuck_open", False)
    b.relay.fault("slow")
    d.command(True)
    check(asyncio.run(d.operate()) is True and d.attempts == 2, "slow: second, longer pulse")
    b.power.set_coil_mv(1000)
    d.command(False)
    pulses = b.relay.pulses
    check(asyncio.run(d.operate()) is False and b.relay.pulses == pulses, "weak supply: no pulse")


def _meter(board=None):
    b = board or hw.Board("me382", {"state_dir": None, "realtime": False, "start": START})
    b.afe.configure(None, u=230.0, i=10.0, phi=0.0)
    b.relay._sleep = _fast
    m = meter_mod.Meter(b, {"model": "me382"})
    sw = [s for s in m.services if type(s).__name__ == "Switching"][0]
    sw.driver._sleep = _fast
    return m, sw


async def _windows(m, n):
    # Let the sampling task close n more measuring windows (bounded).
    seq = m.metrology.last.seq
    for _ in range(20000):
        await asyncio.sleep_ms(0)
        if m.metrology.last.seq >= seq + n:
            return
    raise AssertionError("no measuring windows")


async def _until(m, cond, what):
    # Measuring windows until cond() holds (the service ticks once a meter second).
    for _ in range(60):
        if cond():
            return
        await _windows(m, 1)
    raise AssertionError(what)


def test_switching_in_a_running_meter():
    m, sw = _meter()

    async def go():
        m.power_on_sync()
        await _windows(m, 3)
        check(m.values()["phases"][0]["i_ma"] > 9000, "load current flows")
        check(sw.operate(dcl.REMOTE_DISCONNECT) == "b", "remote disconnect")
        await _windows(m, 3)
        check(m.values()["phases"][0]["i_ma"] == 0, "no current once disconnected")
        check(sw.output_state() is False, "output state")
        check(sw.operate(dcl.REMOTE_RECONNECT) == "d", "ready for reconnection")
        check(sw.press("scroll")["display"] == dcl.PROMPT_CONNECT, "prompt")
        check(sw.press("scroll")["transition"] == "e", "manual reconnection")
        await _windows(m, 3)
        check(m.values()["phases"][0]["i_ma"] > 9000, "current back")
        # The limiter trips on the measured power: 2.3 kW over a 2 kW threshold.
        sw.cfg[1] = (6, 2000)
        sw.cfg[3] = (6, 0)
        sw._apply(sw.cfg)
        await _until(m, lambda: sw.dc.state == dcl.READY, "limiter disconnected")
        await _until(m, lambda: m.values()["phases"][0]["i_ma"] == 0, "limiter: no current")
        check(m.events.last_code("disconnector") in (64, 66), "limiter events")
        m.power_off()
        m.board.relay.move(True)        # whatever the contact did while off
        m.power_on_sync()
        await _windows(m, 3)
        check(sw.dc.state == dcl.READY and m.board.relay.contact is False,
              "relay put back to the stored state at power-up")
        m.power_off()

    asyncio.run(go())


def test_tamper_input_through_the_meter():
    m, sw = _meter()

    async def go():
        m.power_on_sync()
        await _windows(m, 2)
        m.board.inputs.set("meter_cover", True)
        t0 = m.board.clock.now()
        await _until(m, lambda: m.events.last_code("fraud") == 44, "meter cover removed")
        check(m.board.clock.now() >= t0 + fraud.DEBOUNCE_S, "debounced")
        check(sw.tamper.bits() == 1, "input state register")
        m.power_off()

    asyncio.run(go())


def _management(m):
    # The model bound to the meter, and an association of the management client.
    from cosem import obis
    from runtime import cosem_service
    app, src = cosem_service.build(m)
    model = app.model
    v = model.associate(1, hls=lambda f: b"\x10" + f[1:])
    v.action(v.find(15, obis.parse("0-0:40.0.0")), 1, (9, b"\x10abcd"))
    v.secured = True
    return v, obis.parse


def test_switching_objects_through_the_model():
    from dlms import axdr
    m, sw = _meter()
    v, ln = _management(m)
    dc = v.find(70, ln("0-0:96.3.10"))
    check(v.get(dc, 3) == (axdr.ENUM, 1) and v.get(dc, 4) == (axdr.ENUM, 1), "defaults")
    check(v.action(dc, 1, (axdr.INTEGER, 0))[0] == 0, "remote disconnect")
    check(v.get(dc, 3) == (axdr.ENUM, 0), "disconnected")
    check(v.action(dc, 1, (axdr.INTEGER, 0))[0] == 250, "refused twice")
    v.set(dc, 4, (axdr.ENUM, 2))
    check(v.action(dc, 2, (axdr.INTEGER, 0))[0] == 0 and sw.dc.state == 1, "mode 2: a")
    asyncio.run(sw.driver.settle())
    check(v.get(dc, 2) == (axdr.BOOLEAN, True), "output state")
    lim = v.find(71, ln("0-0:17.0.0"))
    v.set(lim, 4, (axdr.DOUBLE_LONG_UNSIGNED, 1234))
    check(v.get(lim, 3) == (axdr.DOUBLE_LONG_UNSIGNED, 1234), "threshold active")
    check(m.events.last_code("disconnector") == 67, "threshold changed event")
    mon = v.find(21, ln("1-0:31.4.0"))
    dlu = axdr.DOUBLE_LONG_UNSIGNED
    v.set(mon, 2, (axdr.ARRAY, [(dlu, 100), (dlu, 200)]))
    check(len(v.get(mon, 4)[1]) == 2, "one action pair per threshold")
    ov = v.find(21, ln("0-0:16.1.0"))
    check(v.get(ov, 2) == (axdr.ARRAY, [(axdr.LONG_UNSIGNED, 2650)]), "overvoltage threshold")
    scripts = v.find(9, ln("0-0:10.0.106"))
    check(v.action(scripts, 1, (axdr.LONG_UNSIGNED, 1))[0] == 0 and sw.dc.state == 0, "script 1")
    sched = v.find(22, ln("0-0:15.0.1"))
    check(v.get(sched, 3) == (axdr.ENUM, 1), "scheduler type")
    io = v.find(1, ln("0-0:96.3.1"))
    check(v.get(io, 2) == (axdr.LONG_UNSIGNED, 0), "inputs")
