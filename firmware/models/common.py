"""Rows shared by the Mx382 models: clients, access profiles, and the object families.

Row: (OBIS text or 6 octets, interface class, binding, argument, access) with access one spec
per client in CLIENTS order (public, management, pre-established); see cosem.access.

Units exposed (sources give the meter's internal integer units):
* energy (mWh, mvarh, mVAh): double-long-unsigned {0, Wh|varh|VAh}, truncated to whole Wh
  (NET: double-long, signed); tariff registers read 0 on a meter without time of use;
* the tariff in force: long-unsigned 1..8 (our choice of type);
* voltage (mV): long-unsigned {-1, V}; current (mA): long-unsigned {-2, A};
  frequency (0.01 Hz): long-unsigned {-2, Hz}; power factor (1/1000): long {-3, no unit};
  P, Q, S (mW, mvar, mVA): double-long-unsigned {0, W|var|VA} (NET power: double-long);
  instantaneous values are rounded to the nearest unit.
"""
from dlms import axdr
from cosem import association, register
from cosem.activity_calendar import ActivityCalendar
from cosem.special_days_table import SpecialDaysTable
from cosem.association import AssociationLN, Client
from cosem.clock import Clock
from cosem.data import Data
from cosem.ic import OPTIONAL, ROUND
from cosem.ports import HdlcSetup, IecLocalPortSetup, TcpUdpSetup
from cosem.register import Register
from cosem.sap import SapAssignment
from cosem.security_setup import SecuritySetup

SERVER_SAP = 1

# The services dlms.server carries out, offered to every client (each request is checked
# against the negotiated block): general-block-transfer (window 1), priority-mgmt, block
# transfer with GET and with SET, multiple-references, get, set, selective-access,
# event-notification, action.
CONFORMANCE = 0x205A1F

# Clients (IDIS package 2). The 0-0:40.0.n instance numbers are our choice (not verified
# against IDIS); the pre-established client uses the management client's security setup.
CLIENTS = (
    Client(16, "public", 1, association.LN_NO_CIPHERING, association.MECHANISM_NONE,
           conformance=CONFORMANCE),
    Client(1, "management", 2, association.LN_CIPHERING, association.MECHANISM_HLS_GMAC,
           security_setup="0-0:43.0.0", conformance=CONFORMANCE),
    Client(102, "preestablished", 3, association.LN_CIPHERING, association.MECHANISM_NONE,
           security_setup="0-0:43.0.0", pre_established=True, conformance=CONFORMANCE),
)
PUBLIC = 0
MANAGEMENT = 1
PREESTABLISHED = 2

# Access profiles: (public, management, pre-established).
ALL_READ = ("r*", "r*", "r*")
READ = (None, "r*", "r*")

# Units (Blue Book enum)
_WH, _VARH, _VAH = 30, 32, 31
_W, _VAR, _VA = 27, 29, 28
_V, _A, _HZ, _NO_UNIT = 35, 33, 44, 255
_SECOND = 7

_DLU = axdr.DOUBLE_LONG_UNSIGNED
WH = register.scaling(_DLU, 0, _WH, 1000)
VARH = register.scaling(_DLU, 0, _VARH, 1000)
VAH = register.scaling(_DLU, 0, _VAH, 1000)
WH_SIGNED = register.scaling(axdr.DOUBLE_LONG, 0, _WH, 1000)
VOLT = register.scaling(axdr.LONG_UNSIGNED, -1, _V, 100, ROUND)
AMPERE = register.scaling(axdr.LONG_UNSIGNED, -2, _A, 10, ROUND)
HERTZ = register.scaling(axdr.LONG_UNSIGNED, -2, _HZ)
POWER_FACTOR = register.scaling(axdr.LONG, -3, _NO_UNIT)
WATT = register.scaling(_DLU, 0, _W, 1000, ROUND)
WATT_SIGNED = register.scaling(axdr.DOUBLE_LONG, 0, _W, 1000, ROUND)
VAR = register.scaling(_DLU, 0, _VAR, 1000, ROUND)
VOLTAMPERE = register.scaling(_DLU, 0, _VA, 1000, ROUND)
SECONDS = register.scaling(axdr.LONG_UNSIGNED, 0, _SECOND)

# Energy quantities: (source name, OBIS C, scale)
ENERGY = (
    ("A+", 1, WH), ("A-", 2, WH), ("R+", 3, VARH), ("R-", 4, VARH),
    ("QI", 5, VARH), ("QII", 6, VARH), ("QIII", 7, VARH), ("QIV", 8, VARH),
    ("S+", 9, VAH), ("S-", 10, VAH), ("ABS", 15, WH), ("NET", 16, WH_SIGNED),
)
TARIFFS = 8
# Per-phase energy (MT382): (source name, OBIS C of L1, L2, L3, scale)
PHASE_ENERGY = (
    ("A+", (21, 41, 61), WH), ("A-", (22, 42, 62), WH), ("R+", (23, 43, 63), VARH),
    ("R-", (24, 44, 64), VARH), ("S+", (29, 49, 69), VAH), ("S-", (30, 50, 70), VAH),
    ("ABS", (35, 55, 75), WH),
)

_ID = (axdr.OCTET_STRING, 0, 32)
_LDN = (axdr.OCTET_STRING, 3, 16)
_COUNTER = axdr.DOUBLE_LONG_UNSIGNED

# Management may set the clock's time, time zone and DST rule and call its methods.
_CLOCK = ("r*", "rbbrbbbbr/xxxxxx", "r*")
# Management sets the clock time-shift limit (bound of shift_time).
_SHIFT_LIMIT = (None, "rbr", "r*")
_HDLC = (None, "rbbbbbbbb", None)
_IEC_PORT = (None, "rbbbbbwww", None)
_TCP = (None, "rbbbbb", None)
_SECURITY = (None, "rrrrr/xx", None)
# Management writes the passive calendar and the special days; pre-established reads them.
_CALENDAR = (None, "rrrrrbbbbb/x", "r*")
_SPECIAL_DAYS = (None, "rb/xx", "r*")
# Current association: each client reads its own; only management may run the HLS reply.
_CURRENT_ASSOCIATION = ("r*", "rrrrrr-rr/x---", "r*")


def _obis(a, b, c, d, e):
    return bytes((a, b, c, d, e, 255))


def energy_rows(phases):
    """Energy registers: totals and tariffs 1..8 of every quantity, per phase if phases > 1."""
    for name, c, scale in ENERGY:
        yield _obis(1, 0, c, 8, 0), Register, "energy." + name, scale, READ
        tariff_scale = scale[:4] + (scale[4] | OPTIONAL,)
        for t in range(1, TARIFFS + 1):
            yield (_obis(1, 0, c, 8, t), Register, "energy.%s.t%d" % (name, t), tariff_scale,
                   READ)
    if phases > 1:
        for name, cs, scale in PHASE_ENERGY:
            for p in range(3):
                yield (_obis(1, 0, cs[p], 8, 0), Register, "energy.%s.L%d" % (name, p + 1), scale,
                       READ)


def tariff_rows():
    """Activity calendar, special days table and the tariff in force."""
    yield "0-0:13.0.0", ActivityCalendar, "tou", None, _CALENDAR
    yield "0-0:11.0.0", SpecialDaysTable, "special_days", None, _SPECIAL_DAYS
    yield "0-0:96.14.0", Data, "tariff.active", axdr.LONG_UNSIGNED, READ


def identity_rows():
    """Logical device name, device IDs, firmware identifiers and signatures."""
    yield "0-0:42.0.0", Data, "id.ldn", _LDN, ALL_READ
    yield "0-0:96.1.0", Data, "id.serial", _ID, READ
    yield "0-0:96.1.1", Data, "id.equipment", _ID, READ
    yield "1-0:0.2.0", Data, "fw.core.id", _ID, READ
    yield "1-0:0.2.8", Data, "fw.core.signature", _ID, READ
    yield "1-1:0.2.0", Data, "fw.module.id", _ID, READ
    yield "1-1:0.2.8", Data, "fw.module.signature", _ID, READ


def management_rows():
    """Clock, associations, SAP assignment, communication and security setups."""
    yield "0-0:1.0.0", Clock, "clock", None, _CLOCK
    yield "1-0:0.9.11", Register, "clock.shift_limit", SECONDS, _SHIFT_LIMIT
    yield "0-0:40.0.0", AssociationLN, None, None, _CURRENT_ASSOCIATION
    for ci in range(len(CLIENTS)):
        # Management sees every association; a client also sees its own instance.
        specs = [None] * len(CLIENTS)
        specs[MANAGEMENT] = "r*"
        specs[ci] = "r*"
        yield CLIENTS[ci].ln, AssociationLN, None, ci, tuple(specs)
    yield "0-0:41.0.0", SapAssignment, "id.ldn", None, ALL_READ
    yield "0-0:20.0.0", IecLocalPortSetup, "iec", None, _IEC_PORT
    yield "0-0:22.0.0", HdlcSetup, "hdlc", None, _HDLC
    yield "0-0:25.0.0", TcpUdpSetup, "tcp", None, _TCP
    yield "0-0:43.0.0", SecuritySetup, "sec0", None, _SECURITY
    # The management client's invocation counter, read by head-ends before they associate.
    yield "0-0:43.1.0", Data, "sec0.invocation_counter", _COUNTER, ALL_READ


def instantaneous_rows(phases):
    """Instantaneous values: per phase U, I, PF (and P, Q, S on three phases), totals."""
    per_phase = phases > 1
    for p in range(phases):
        k = 20 * p
        s = ".%d" % (p + 1)
        yield _obis(1, 0, 32 + k, 7, 0), Register, "inst.u" + s, VOLT, READ
        yield _obis(1, 0, 31 + k, 7, 0), Register, "inst.i" + s, AMPERE, READ
        if per_phase:
            yield _obis(1, 0, 33 + k, 7, 0), Register, "inst.pf" + s, POWER_FACTOR, READ
            for c, q, scale in ((21, "p+", WATT), (22, "p-", WATT), (23, "q+", VAR),
                                (24, "q-", VAR), (29, "s+", VOLTAMPERE), (30, "s-", VOLTAMPERE)):
                yield _obis(1, 0, c + k, 7, 0), Register, "inst." + q + s, scale, READ
    if per_phase:
        yield _obis(1, 0, 90, 7, 0), Register, "inst.i", AMPERE, READ
    yield _obis(1, 0, 91, 7, 0), Register, "inst.i.n", AMPERE, READ
    yield _obis(1, 0, 14, 7, 0), Register, "inst.f", HERTZ, READ
    yield _obis(1, 0, 13, 7, 0), Register, "inst.pf", POWER_FACTOR, READ
    for c, q, scale in ((1, "p+", WATT), (2, "p-", WATT), (3, "q+", VAR), (4, "q-", VAR),
                        (9, "s+", VOLTAMPERE), (10, "s-", VOLTAMPERE), (15, "abs", WATT),
                        (16, "net", WATT_SIGNED)):
        yield _obis(1, 0, c, 7, 0), Register, "inst." + q, scale, READ


# Defaults of the settings behind the communication setup objects (Blue Book / IEC values), for
# a settings store (e.g. cosem.sources.DictSources(values=dict(SETTINGS))).
SETTINGS = {
    "iec.default_mode": 1, "iec.default_baud": 0, "iec.prop_baud": 5, "iec.response_time": 0,
    "iec.device_addr": b"", "iec.pass_p1": b"", "iec.pass_p2": b"", "iec.pass_w5": b"",
    "hdlc.comm_speed": 5, "hdlc.window_size_transmit": 1, "hdlc.window_size_receive": 1,
    "hdlc.max_info_field_length_transmit": 128, "hdlc.max_info_field_length_receive": 128,
    "hdlc.inter_octet_time_out": 25, "hdlc.inactivity_time_out": 120, "hdlc.device_address": 17,
    "tcp.tcp_udp_port": 4059, "tcp.ip_reference": bytes((0, 0, 25, 1, 0, 255)), "tcp.mss": 576,
    "tcp.nb_of_sim_conn": 1, "tcp.inactivity_time_out": 180,
}
