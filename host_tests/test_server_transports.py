"""The transports and the meter binding under CPython: wrapper and optical servers in an asyncio
loop with asyncio stream clients, and cosem_service's sources over a real Meter with its services
(every source of the model bound) and over a stub meter (known values)."""
import asyncio
import struct

import pytest

import cosem_client as cc
import hw
from cosem import access, ic
from cosem.sources import DictSources
from dlms import axdr, server
from links import hdlc, optical, tcp_wrapper
from models import common
from runtime import cosem_service
from runtime import meter as meter_mod
import models

LDN = cc.obis("0-0:42.0.0")


def app():
    values = dict(common.SETTINGS)
    values["id.ldn"] = b"ISK0000000000042"
    return server.Server(models.load("me382", DictSources(values=values)), cc.SERVICE_TITLE)


def wpdu(apdu, src=16):
    return struct.pack(">HHHH", 1, src, 1, len(apdu)) + apdu


async def wrapper_answer(reader):
    head = await asyncio.wait_for(reader.readexactly(8), 5)
    return await asyncio.wait_for(reader.readexactly(struct.unpack(">H", head[6:])[0]), 5)


def test_wrapper_server_in_cpython():
    async def run():
        srv = await tcp_wrapper.serve(app(), 0, max_clients=2)
        port = srv.sockets[0].getsockname()[1]
        try:
            r1, w1 = await asyncio.open_connection("127.0.0.1", port)
            r2, w2 = await asyncio.open_connection("127.0.0.1", port)
            w1.write(wpdu(cc.aarq()))
            assert cc.aare_result(await wrapper_answer(r1)) == (0, 0)
            # Split across writes: the reassembler does not care about read boundaries.
            data = wpdu(cc.get(1, LDN, 2))
            w1.write(data[:5])
            await w1.drain()
            await asyncio.sleep(0.01)
            w1.write(data[5:])
            assert (await wrapper_answer(r1))[6:] == b"ISK0000000000042"
            w2.write(wpdu(cc.get(1, LDN, 2)))
            assert await wrapper_answer(r2) == bytes.fromhex("D80101")
            # A third connection is over the limit: closed at once.
            r3, w3 = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(r3.read(10), 5) == b""
            w3.close()
            # Another destination wPort: dropped; a bad version: closed.
            w2.write(struct.pack(">HHHH", 1, 16, 2, 5) + cc.RLRQ)
            w2.write(struct.pack(">HHHH", 2, 16, 1, 5) + cc.RLRQ)
            assert await asyncio.wait_for(r2.read(10), 5) == b""
            for w in (w1, w2):
                w.close()
        finally:
            srv.close()
            await srv.wait_closed()
    asyncio.run(run())


def test_wrapper_idle_connection_closed():
    async def run():
        srv = await tcp_wrapper.serve(app(), 0, max_clients=1, idle_s=0.2)
        port = srv.sockets[0].getsockname()[1]
        try:
            r1, w1 = await asyncio.open_connection("127.0.0.1", port)
            w1.write(wpdu(cc.aarq()))
            assert cc.aare_result(await wrapper_answer(r1)) == (0, 0)
            # Quiet for idle_s after its last request: closed, and its place is free again.
            assert await asyncio.wait_for(r1.read(10), 5) == b""
            w1.close()
            r2, w2 = await asyncio.open_connection("127.0.0.1", port)
            w2.write(wpdu(cc.aarq()))
            assert cc.aare_result(await wrapper_answer(r2)) == (0, 0)
            w2.close()
        finally:
            srv.close()
            await srv.wait_closed()
    asyncio.run(run())


async def read_frame(reader):
    while await asyncio.wait_for(reader.readexactly(1), 5) != b"\x7e":
        pass
    fmt = await asyncio.wait_for(reader.readexactly(2), 5)
    rest = await asyncio.wait_for(reader.readexactly(((fmt[0] & 7) << 8 | fmt[1]) - 1), 5)
    return hdlc.decode_frame(b"\x7e" + fmt + rest)


def test_optical_port_in_cpython():
    async def run():
        srv = await optical.serve(app(), 0, b"ME382-42")
        port = srv.sockets[0].getsockname()[1]
        dest, src = hdlc.server_address(1), hdlc.client_address(16)
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(b"/?!\r\n")
            assert await asyncio.wait_for(r.readline(), 5) == b"/ISk5\\2ME382-42\r\n"
            w.write(b"\x06252\r\n" + hdlc.encode_frame(dest, src, 0x93))
            assert (await read_frame(r)).control == 0x73
            w.write(hdlc.encode_frame(dest, src, 0x10, b"\xe6\xe6\x00" + cc.aarq()))
            frame = await read_frame(r)
            assert frame.control == 0x30 and cc.aare_result(frame.info[3:]) == (0, 0)
            # A second head takes the port over: the first connection is closed.
            r2, w2 = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(r.read(10), 5) == b""
            w2.write(hdlc.encode_frame(dest, src, 0x93))
            assert (await read_frame(r2)).control == 0x73
            w2.write(hdlc.encode_frame(dest, src, 0x10, b"\xe6\xe6\x00" + cc.get(1, LDN, 2)))
            assert (await read_frame(r2)).info[3:] == bytes.fromhex("D80101")
            w.close()
            w2.close()
        finally:
            srv.close()
            await srv.wait_closed()
    asyncio.run(run())


class StubClock:
    def now(self):
        return 836481600        # 2026-07-04 12:00:00 UTC: CEST


class StubBoard:
    clock = StubClock()


class StubEnergy:
    total = [1000 * (k + 1) for k in range(len(cosem_service.NAMES))]
    phase = [list(total), list(total), list(total)]


class StubMeter:
    model = "mt382"
    nphases = 3
    board = StubBoard()
    energy_regs = StubEnergy()

    def __init__(self):
        import sim_nv
        from runtime import meter as meter_mod
        self.store = meter_mod.open_store(sim_nv.NvMem())

    def energy(self):
        row = {n: 1000 * (k + 1) for k, n in enumerate(cosem_service.NAMES)}
        return {"total": dict(row), "phases": [dict(row), dict(row), dict(row)]}

    def values(self):
        ph = {"u_mv": 230040, "i_ma": 5000, "p_mw": -1150000, "q_mvar": 10000,
              "s_mva": 1150100, "pf": -999}
        return {"f_chz": 5000, "in_ma": 12, "t_us": 0, "phases": [ph, dict(ph), dict(ph)]}


def test_energy_sources_powered_off():
    meter = StubMeter()
    meter.energy_regs = None
    app, src = cosem_service.build(meter)
    for name in ("energy.A+", "energy.ABS", "energy.NET", "energy.R-.L2", "energy.ABS.L1"):
        try:
            src.read(name)
        except KeyError:
            continue
        raise AssertionError(name + " read while powered off")


@pytest.mark.parametrize("model", models.NAMES)
def test_meter_sources_cover_the_model(monkeypatch, model):
    # A real Meter on the host board, its services bound: every source the model reads, writes
    # or calls exists (a read succeeds, a write has a setter or a stored value, a method an
    # action).
    monkeypatch.setattr(asyncio, "sleep_ms", lambda ms: asyncio.sleep(ms / 1000), raising=False)
    asyncio.run(_check_sources_bound(model))


async def _check_sources_bound(model):
    m = meter_mod.Meter(hw.Board(model, {"state_dir": None, "realtime": False}),
                        {"model": model})
    m.power_on_sync()
    try:
        assert m.services
        app, src = cosem_service.build(m)
        used = set()
        for row in app.model.rows():
            cls = row[ic.IC]
            if row[ic.BIND] is None:
                continue
            rights = [r for r in row[ic.ACC] if r is not None]
            methods = [ic.source_name(row, meth[0], False) for meth in cls.METHODS]
            attrs = {ic.source_name(row, cls.ATTRS[i][0], cls.ATTRS[i][2] & ic.MAIN): i
                     for i in range(len(cls.ATTRS))}
            for name in cls.source_names(row):
                used.add(name)
                if name in methods:
                    assert name in src.actions, name
                    continue
                i = attrs[name]
                e = cls.ATTRS[i]
                read = ic._reads_source(e) and any(access.can_read(r[0][i]) for r in rights)
                write = ic._writes_source(e) and any(access.can_write(r[0][i]) for r in rights)
                assert read or write, name
                if read:
                    src.read(name)
                if write:
                    assert name in src.setters or name in src.values, name
        assert used == set(app.model.source_names())
        # A name is a stored value or a getter, never both (sources read values first).
        assert not set(src.values) & set(src.getters)
        # The families of the services are among them.
        for name in ("billing1.buffer", "lp1.buffer", "log.standard.buffer", "push.alarm.push",
                     "disconnect.remote_disconnect", "limiter.threshold_normal",
                     "errors.idis", "alarms.register1", "pq.sag_threshold"):
            assert name in used, name
    finally:
        m.power_off()


def test_meter_sources_read_the_stub_meter():
    app, src = cosem_service.build(StubMeter())
    assert src.read("energy.A+") == 1000 and src.read("energy.NET") == 1000 - 2000
    assert src.read("energy.S-.L2") == 10000 and src.read("energy.ABS.L3") == 3000
    # Read straight from the registers: the same values as Meter.energy() shows.
    e = StubMeter().energy()
    for k, n in enumerate(cosem_service.NAMES):
        assert src.read("energy." + n) == e["total"][n]
        assert src.read("energy.%s.L3" % n) == e["phases"][2][n]
    assert src.read("inst.p+") == 0 and src.read("inst.p-") == 3 * 1150000
    assert src.read("inst.s-.1") == 1150100 and src.read("inst.s+.1") == 0
    assert src.read("inst.i") == 15000 and src.read("inst.f") == 5000
    t = axdr.unpack_datetime(src.read("clock.time"))
    assert t == (2026, 7, 4, 6, 14, 0, 0, 0, -120, axdr.STATUS_DST)
    assert app.title == b"ISK\x00\x00\x00\x00\x01"
    assert src.read("sec0.server_system_title") == app.title
