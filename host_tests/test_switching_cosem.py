"""End to end: the firmware process on the host board (micropython) with its COSEM wrapper and
control channel. The dlms-cosem management client (HLS-GMAC) disconnects and reconnects the
customer through class 70 ACTIONs; the load current reads 0 while the relay is open; the button
confirms a reconnection; mode 0 refuses the methods; a power cut right after a disconnection
ends in a consistent state."""
import time

import pytest
from dlms_cosem import cosem, enumerations
from dlms_cosem.clients.dlms_client import ActionError, DlmsClient
from dlms_cosem.cosem.obis import Obis
from dlms_cosem.utils import parse_as_dlms_data

import cosem_client as cc
import simproc
from test_e2e_cosem import bounded

I = enumerations.CosemInterface
DC = "0.0.96.3.10.255"
ZERO = b"\x0f\x00"      # integer 0


class Meter(simproc.Sim):
    """The firmware process in real time with its control channel and COSEM wrapper."""

    def __init__(self):
        self.wrapper_port = simproc.free_port()
        simproc.Sim.__init__(self, "--wrapper-port", str(self.wrapper_port),
                             start="2026-01-15T12:00:00")
        self.ic = 1000

    def __enter__(self):
        simproc.Sim.__enter__(self)
        deadline = time.monotonic() + 20
        while True:     # the wrapper port opens after the control channel
            try:
                cc.WrapperClient(self.wrapper_port).close()
                return self
            except OSError:
                assert time.monotonic() < deadline, "COSEM wrapper did not open"
                time.sleep(0.05)

    def session(self, fn):
        """Run fn(client) in one management association (bounded in time)."""
        self.ic += 1 << 20      # above any reservation of an earlier boot

        def run():
            client = DlmsClient.with_tcp_transport(
                "127.0.0.1", self.wrapper_port, 1, 1,
                authentication_method=enumerations.AuthenticationMechanism.HLS_GMAC,
                encryption_key=cc.EK, authentication_key=cc.AK,
                client_system_title=cc.CLIENT_TITLE,
                client_initial_invocation_counter=self.ic, timeout=5)
            with client.session() as c:
                return fn(c)
        return bounded(run, timeout=60)

    def current_ma(self):
        return self.status()["values"]["phases"][0]["i_ma"]

    def wait(self, cond, what, timeout=20):
        deadline = time.monotonic() + timeout
        while not cond():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)


def attr(n):
    return cosem.CosemAttribute(interface=I.DISCONNECT_CONTROL, instance=Obis.from_string(DC),
                                attribute=n)


def method(n):
    return cosem.CosemMethod(interface=I.DISCONNECT_CONTROL, instance=Obis.from_string(DC),
                             method=n)


def states(c):
    return [parse_as_dlms_data(c.get(attr(n))) for n in (2, 3, 4)]


@pytest.fixture(scope="module")
def meter():
    with Meter() as m:
        m.ctl("load", set={"i": 10.0})
        m.wait(lambda: m.current_ma() > 9000, "no load current")
        yield m


def test_remote_disconnect_and_reconnect_with_the_button(meter):
    def disconnect(c):
        before = states(c)
        c.action(method(1), ZERO)
        return before, states(c)
    before, after = meter.session(disconnect)
    assert before == [True, 1, 1]
    assert after[1:] == [0, 1]
    meter.wait(lambda: meter.current_ma() == 0, "current still flows")
    assert meter.ctl("relay")["relay"]["contact"] is False

    def reconnect(c):
        c.action(method(2), ZERO)       # mode 1: ready for reconnection (d)
        return states(c)
    assert meter.session(reconnect) == [False, 2, 1]
    time.sleep(0.5)
    assert meter.current_ma() == 0                      # still off until the customer acts
    first = meter.ctl("button", name="external")["button"]
    assert first["display"] == "ConnEct" and first["transition"] is None
    second = meter.ctl("button", name="external")["button"]
    assert second["transition"] == "e" and second["control_state"] == 1
    meter.wait(lambda: meter.current_ma() > 9000, "current did not come back")
    assert meter.session(states) == [True, 1, 1]


def test_mode_2_reconnects_remotely_and_mode_0_refuses(meter):
    def mode2(c):
        c.set(attr(4), b"\x16\x02")
        c.action(method(1), ZERO)
        mid = states(c)
        c.action(method(2), ZERO)       # a: connected at once
        return mid, states(c)
    pulses = meter.ctl("relay")["relay"]["pulses"]
    mid, end = meter.session(mode2)
    assert mid[1:] == [0, 2] and end[1:] == [1, 2]
    # The relay opens and closes again (or, had the commands come fast enough, never moves).
    meter.wait(lambda: meter.ctl("relay")["relay"]["pulses"] in (pulses, pulses + 2),
               "relay still switching")
    time.sleep(0.3)
    assert meter.ctl("relay")["relay"]["contact"] is True

    def mode0(c):
        c.set(attr(4), b"\x16\x00")
        errors = []
        for m in (1, 2):
            try:
                c.action(method(m), ZERO)
            except ActionError as e:
                errors.append(str(e))
        return errors, states(c)
    errors, st = meter.session(mode0)
    assert len(errors) == 2 and all("OTHER_REASON" in e for e in errors)
    assert st == [True, 1, 0]
    assert meter.ctl("relay")["relay"]["contact"] is True
    meter.session(lambda c: c.set(attr(4), b"\x16\x01"))


def test_power_cut_right_after_a_disconnection_is_consistent(meter):
    meter.session(lambda c: c.action(method(1), ZERO))
    meter.ctl("power", state="off", hard=True)
    meter.ctl("power", state="on")
    meter.wait(lambda: meter.ctl("relay")["relay"]["contact"] is False, "relay not open")
    meter.wait(lambda: meter.current_ma() == 0, "current after power-up")
    assert meter.session(states) == [False, 0, 1]
    meter.session(lambda c: c.action(method(2), ZERO))
    meter.ctl("button", name="scroll")
    assert meter.ctl("button", name="scroll")["button"]["transition"] == "e"
    meter.wait(lambda: meter.current_ma() > 9000, "no current after reconnection")


def test_relay_fault_and_weak_supply_from_the_control_channel(meter):
    rsp = meter.ctl("relay", fault="stuck_open", on=True)
    assert rsp["relay"]["faults"] == ["stuck_open"]
    assert not meter.ctl("relay", fault="melted")["ok"]
    assert not meter.ctl("relay", coil_mv=-1)["ok"]
    meter.ctl("relay", fault="stuck_open", on=False)
    assert meter.ctl("relay", coil_mv=5000)["relay"]["coil_mv"] == 5000
    meter.session(lambda c: c.action(method(1), ZERO))
    time.sleep(1.5)                                     # three refused attempts
    assert meter.ctl("relay")["relay"]["contact"] is True
    assert meter.current_ma() > 9000
    meter.ctl("relay", coil_mv=12000)
    meter.session(lambda c: c.action(method(2), ZERO))  # d: supply good again, relay opens
    meter.wait(lambda: meter.current_ma() == 0, "relay did not open")
    assert not meter.ctl("input", name="door", active=True)["ok"]
    assert meter.ctl("input", name="meter_cover", active=True)["input"]["meter_cover"] is True
