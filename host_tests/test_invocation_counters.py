"""Invocation counters of the management client survive restarts and power cuts: the server never
reuses a counter it sent and never accepts one at or below what it accepted before."""
import pytest

import sim_nv
from dlms import security
from runtime import cosem_service
from runtime import meter as meter_mod


class StubMeter:
    model = "me382"
    nphases = 1

    def __init__(self, nv):
        self.store = meter_mod.open_store(nv)


def suite_after_boot(nv):
    app, src = cosem_service.build(StubMeter(nv))
    return src.suite


def client(server_title):
    c = security.Suite0(cosem_service.TEST_EK, cosem_service.TEST_AK, b"CLIENT01")
    c.set_peer_title(server_title)
    return c


def test_counters_restart_above_everything_used_before():
    nv = sim_nv.NvMem()
    s = suite_after_boot(nv)
    assert s.tx_ic >= 0
    sent = [s.tx_ic + 1]
    for _ in range(5):
        s.protect(security.SC_AUTH_ENC, b"\xc4\x01\xc1\x00\x00")
    sent.append(s.tx_ic)
    c = client(s.title)
    s.set_peer_title(c.title)
    c.tx_ic = 40
    for _ in range(3):
        s.unprotect(c.protect(security.SC_AUTH_ENC, b"\xc0\x01\xc1"))
    accepted = s.rx_ic
    assert accepted == 43
    s2 = suite_after_boot(nv)  # reboot from the same NV
    s2.set_peer_title(c.title)
    assert s2.tx_ic > max(sent)
    assert s2.rx_ic >= accepted
    s2.protect(security.SC_AUTH_ENC, b"\xc4\x01\xc1\x00\x00")
    assert s2.tx_ic > max(sent)
    c.tx_ic = accepted - 1  # a replay of an old message is refused after the restart
    with pytest.raises(security.ReplayError):
        s2.unprotect(c.protect(security.SC_AUTH_ENC, b"\xc0\x01\xc1"))


def test_reservation_written_once_per_step_and_a_cut_during_it_uses_no_counter():
    nv = sim_nv.NvMem()
    s = suite_after_boot(nv)
    writes = nv.writes
    for _ in range(cosem_service.IC_STEP + 10):
        s.protect(security.SC_AUTH_ENC, b"\x00")
    assert 1 <= nv.writes - writes <= 2  # first use after boot, then once per IC_STEP
    last = s.tx_ic
    s.tx_ic = s.tx_limit  # the next message needs a new reservation
    nv.cut_after(3)
    with pytest.raises(sim_nv.PowerCut):
        s.protect(security.SC_AUTH_ENC, b"\x00")
    nv.restore()
    s2 = suite_after_boot(nv)
    assert s2.tx_ic >= last
