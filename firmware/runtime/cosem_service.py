"""The COSEM service of the meter: the object model of its model bound to the live Meter, the
application server, and its transports (COSEM wrapper on TCP, HDLC on the optical port).

    servers = await cosem_service.start(meter, wrapper_port, optical_port)

Sources (see cosem.sources) come from the Meter: energy registers (mWh ...), the last measured
window (mV, mA, mW ...), the board clock shown as CET/CEST (EU rule), identification, security
setup and the communication settings (cosem_service.SETTINGS, in RAM). Tariff registers have no
source yet (they read 0). Writing the clock or the keys and every delegated method is refused
(other-reason) until the services behind them exist.
"""
import struct

from cosem.sources import DictSources
from core import dst
from dlms import acse, axdr, security, server
from measure.energy import NAMES
from models import common
from runtime.meter import KEY_IC
import models

# Green Book test keys of the management client until a key transfer sets real ones.
TEST_EK = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
TEST_AK = b"\xd0\xd1\xd2\xd3\xd4\xd5\xd6\xd7\xd8\xd9\xda\xdb\xdc\xdd\xde\xdf"
MANUFACTURER = b"ISK"
DEFAULT_SERIAL = 1
FIRMWARE_ID = b"MX382-PY-1.0"
# Invocation counters are reserved in NV this far ahead: one NV write per IC_STEP messages, and
# after a power cut both counters restart above everything used before it.
IC_STEP = 1024


def system_title(serial):
    """Our system title: "ISK" + the serial number in 5 octets (big-endian)."""
    return MANUFACTURER + bytes((serial >> 32 & 0xFF, serial >> 24 & 0xFF, serial >> 16 & 0xFF,
                                 serial >> 8 & 0xFF, serial & 0xFF))


def _pattern(p):
    # A dst.Rule begin/end pattern as the 12-octet clock attribute (wildcards as 0xFF..).
    year, month, day, weekday, hour, minute, second = p
    return axdr.pack_datetime(None if year == 0xFFFF else year, month, day, weekday, hour,
                              minute, second, None, None, None)


def _refused(value):
    raise ValueError("not supported by this meter")


class MeterSources(DictSources):
    """Sources over a running Meter (getters read it live) and the settings dict."""

    def __init__(self, meter, serial, title):
        DictSources.__init__(self, values=dict(common.SETTINGS))
        self.meter = meter
        self.rule = dst.eu_rule(-60)
        self.suite = None       # the management client's Suite0, once the server exists
        g = self.getters
        ldn = MANUFACTURER + ("%013d" % serial).encode()
        self.values.update({
            "id.ldn": ldn, "id.serial": str(serial).encode(), "id.equipment": ldn,
            "fw.core.id": FIRMWARE_ID, "fw.core.signature": b"", "fw.module.id": FIRMWARE_ID,
            "fw.module.signature": b"",
            "clock.daylight_savings_begin": _pattern(self.rule.begin),
            "clock.daylight_savings_end": _pattern(self.rule.end),
            "clock.daylight_savings_deviation": self.rule.deviation,
            "clock.daylight_savings_enabled": self.rule.enabled, "clock.clock_base": 1,
            "clock.time_zone": self.rule.time_zone,
            "sec0.security_policy": 3, "sec0.security_suite": 0,
            "sec0.client_system_title": b"", "sec0.server_system_title": title,
        })
        g["clock.time"] = self._time
        g["clock.status"] = self._clock_status
        g["sec0.invocation_counter"] = self._invocation_counter
        for name in ("clock.time", "clock.time_zone", "clock.daylight_savings_begin",
                     "clock.daylight_savings_end", "clock.daylight_savings_deviation",
                     "clock.daylight_savings_enabled"):
            self.setters[name] = _refused
        for k in range(len(NAMES)):
            g["energy." + NAMES[k]] = self._energy(k, None)
            for p in range(meter.nphases if meter.nphases > 1 else 0):
                g["energy.%s.L%d" % (NAMES[k], p + 1)] = self._energy(k, p)
        g["energy.ABS"] = self._energy_abs(None)
        g["energy.NET"] = self._energy_net
        for p in range(meter.nphases if meter.nphases > 1 else 0):
            g["energy.ABS.L%d" % (p + 1)] = self._energy_abs(p)
        self._instantaneous()

    def call(self, name, argument):
        """Every method the model delegates (clock adjustments, key transfer) is refused."""
        raise ValueError("method not supported by this meter")

    # -- clock -------------------------------------------------------------------------------

    def _time(self):
        y, mo, d, wd, h, mi, s, deviation, active = dst.clock_fields(
            self.meter.board.clock.now(), self.rule)
        return axdr.pack_datetime(y, mo, d, wd, h, mi, s, 0, deviation,
                                  axdr.STATUS_DST if active else 0)

    def _clock_status(self):
        return axdr.STATUS_DST if dst.is_dst(self.meter.board.clock.now(), self.rule) else 0

    def _invocation_counter(self):
        # The last counter the management client used: its next request must be above it.
        return max(self.suite.rx_ic, 0) if self.suite is not None else 0

    # -- energy and instantaneous values ------------------------------------------------------

    def _registers(self):
        e = self.meter.energy()
        if not e:
            raise KeyError("meter powered off")
        return e

    def _energy(self, k, phase):
        name = NAMES[k]

        def read():
            e = self._registers()
            return e["total"][name] if phase is None else e["phases"][phase][name]
        return read

    def _energy_abs(self, phase):
        def read():
            e = self._registers()
            t = e["total"] if phase is None else e["phases"][phase]
            return t["A+"] + t["A-"]
        return read

    def _energy_net(self):
        t = self._registers()["total"]
        return t["A+"] - t["A-"]

    def _phases(self):
        v = self.meter.values()
        if not v:
            raise KeyError("meter powered off")
        return v

    def _instantaneous(self):
        g = self.getters
        n = self.meter.nphases
        for p in range(n):
            s = ".%d" % (p + 1)
            g["inst.u" + s] = self._phase_value(p, "u_mv")
            g["inst.i" + s] = self._phase_value(p, "i_ma")
            g["inst.pf" + s] = self._phase_value(p, "pf")
            for q, key, sign in (("p+", "p_mw", 1), ("p-", "p_mw", -1), ("q+", "q_mvar", 1),
                                 ("q-", "q_mvar", -1)):
                g["inst." + q + s] = self._directed(p, key, sign)
            g["inst.s+" + s] = self._apparent(p, 1)
            g["inst.s-" + s] = self._apparent(p, -1)
        everything = range(n)
        g["inst.i"] = lambda: sum(ph["i_ma"] for ph in self._phases()["phases"])
        g["inst.i.n"] = lambda: self._phases()["in_ma"]
        g["inst.f"] = lambda: self._phases()["f_chz"]
        g["inst.pf"] = self._total_pf
        for q, key, sign in (("p+", "p_mw", 1), ("p-", "p_mw", -1), ("q+", "q_mvar", 1),
                             ("q-", "q_mvar", -1)):
            g["inst." + q] = self._sum(everything, key, sign)
        g["inst.s+"] = lambda: sum(self._apparent(p, 1)() for p in everything)
        g["inst.s-"] = lambda: sum(self._apparent(p, -1)() for p in everything)
        g["inst.abs"] = lambda: sum(abs(ph["p_mw"]) for ph in self._phases()["phases"])
        g["inst.net"] = lambda: sum(ph["p_mw"] for ph in self._phases()["phases"])

    def _phase_value(self, p, key):
        return lambda: self._phases()["phases"][p][key]

    def _directed(self, p, key, sign):
        # The part of a signed quantity flowing in one direction (import +, export -).
        def read():
            v = self._phases()["phases"][p][key] * sign
            return v if v > 0 else 0
        return read

    def _apparent(self, p, sign):
        # S is counted as imported or exported with the direction of P.
        def read():
            ph = self._phases()["phases"][p]
            return ph["s_mva"] if ph["p_mw"] * sign > 0 or (sign > 0 and ph["p_mw"] == 0) else 0
        return read

    def _sum(self, phases, key, sign):
        def read():
            total = 0
            for p in phases:
                v = self._phases()["phases"][p][key] * sign
                total += v if v > 0 else 0
            return total
        return read

    def _total_pf(self):
        ph = self._phases()["phases"]
        p = sum(x["p_mw"] for x in ph)
        s = sum(x["s_mva"] for x in ph)
        return 1000 if s == 0 else p * 1000 // s


def build(meter, serial=DEFAULT_SERIAL, keys=None):
    """(Server, sources) of the meter's model; `keys` {client SAP: (EK, AK)} defaults to the
    Green Book test keys for the management and pre-established clients."""
    title = system_title(serial)
    src = MeterSources(meter, serial, title)
    model = models.load(meter.model, src)
    if keys is None:
        keys = {c.sap: (TEST_EK, TEST_AK) for c in common.CLIENTS
                if c.context == acse.CONTEXT_LN_CIPHERED}
    app = server.Server(model, title, keys, security.SC_AUTH_ENC)
    src.suite = app.suites.get(common.CLIENTS[common.MANAGEMENT].sap)
    if src.suite is not None:
        _persist_counters(meter.store, src.suite)
    return app, src


def _persist_counters(store, suite):
    """Restore the suite's counters from the NV reservation and keep reserving ahead.

    The stored pair (tx, rx + 1) is a limit nothing before a power cut went past, so the server
    sends above it and accepts only counters above it after a restart (clients read the frame
    counter object before associating, as IDIS clients do).
    """
    raw = store.read(KEY_IC)
    if raw is not None and len(raw) == 8:
        tx, rx1 = struct.unpack("<II", raw)
        suite.tx_ic = tx
        suite.rx_ic = rx1 - 1

    def reserve(s, tx, rx):
        tx_limit = max(tx, s.tx_ic) + IC_STEP
        rx_limit = max(rx, s.rx_ic) + IC_STEP
        store.write(KEY_IC, struct.pack("<II", tx_limit, rx_limit + 1))
        s.tx_limit = tx_limit
        s.rx_limit = rx_limit

    suite.on_limit = reserve
    suite.tx_limit = suite.tx_ic  # reserve before the first counter after boot is used
    suite.rx_limit = suite.rx_ic


async def start(meter, wrapper_port, optical_port=0, serial=DEFAULT_SERIAL):
    """Start the COSEM transports on 127.0.0.1 (a port of 0 leaves that one off); return the
    list of asyncio servers (close() them to stop)."""
    from links import tcp_wrapper
    app, _ = build(meter, serial)
    servers = []
    if wrapper_port:
        servers.append(await tcp_wrapper.serve(app, wrapper_port))
    if optical_port:
        from links import optical
        servers.append(await optical.serve(app, optical_port,
                                           ("%s-%d" % (meter.model.upper(), serial)).encode()))
    return servers
