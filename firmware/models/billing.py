"""Demand and billing objects (runtime.billing_service; docs/demand_billing.md).

Per quantity of DEMAND (A+, A-, R+, R-, S+, S-; OBIS C): 1-0:C.4.0 demand register (class 5),
1-0:C.5.0 last average demand and 1-0:C.6.0..8 maximum demand total and per tariff (class 4,
capture_time = end of the window / time of the maximum), 1-0:C.2.0..8 cumulative maximum demand
(class 3). Billing: 0-0:15.0.0 end of billing single action schedule (class 22) executing
0-0:10.0.1 script 1 (class 9: 1 end of billing, 2 maximum demand reset), 0-0:0.1.0 billing period
counter, 0-0:0.1.1 number of available billing periods, 0-0:0.1.2 time stamp of the last billing
(class 1).

Access: as the energy registers, billing values are not in the public client's object list (the
IDIS public client reads the association, the logical device name and the clock only); the
management client reads everything, writes the demand period and number of periods, the
schedule's type and execution times, and runs the demand methods and the billing scripts; the
pre-established client reads.
"""
from dlms import axdr
from cosem import register
from cosem.data import Data
from cosem.register import DemandRegister, ExtendedRegister, Register
from cosem.script_table import ScriptTable, action
from cosem.single_action_schedule import SingleActionSchedule
from models.common import READ, TARIFFS

# Quantities with demand registers: (source name, OBIS C, unit enum W / var / VA)
DEMAND = (("A+", 1, 27), ("A-", 2, 27), ("R+", 3, 29), ("R-", 4, 29), ("S+", 9, 28),
          ("S-", 10, 28))
_SCALES = {u: register.scaling(axdr.DOUBLE_LONG_UNSIGNED, 0, u) for u in (27, 28, 29)}

_DEMAND_REGISTER = (None, "rrrrrrrbb/xx", "r*")
_SCHEDULE = (None, "rrbb", "r*")
_SCRIPTS = (None, "rr/x", "r*")
_DATETIME = (axdr.OCTET_STRING, 12, 12)

# 0-0:10.0.1 as the Blue Book describes the scripts (the billing service carries them out):
# script 1 captures the billing profile 0-0:98.1.0 then runs script 2; script 2 resets the
# maximum demand registers (method 1 of 1-0:C.6.0, cumulated into 1-0:C.2.x first).
BILLING_SCRIPTS = (
    (1, (action(2, 7, "0-0:98.1.0", 2, (axdr.INTEGER, 0)),
         action(2, 9, "0-0:10.0.1", 1, (axdr.LONG_UNSIGNED, 2)))),
    (2, tuple(action(2, 4, bytes((1, 0, c, 6, 0, 255)), 1, (axdr.INTEGER, 0))
              for _, c, _ in DEMAND)),
)

def _obis(a, b, c, d, e):
    return bytes((a, b, c, d, e, 255))


def rows():
    """Demand registers and the billing objects."""
    for name, c, unit in DEMAND:
        scale = _SCALES[unit]
        yield _obis(1, 0, c, 4, 0), DemandRegister, "demand." + name, scale, _DEMAND_REGISTER
        yield _obis(1, 0, c, 5, 0), ExtendedRegister, "demand.%s.last" % name, scale, READ
        yield _obis(1, 0, c, 6, 0), ExtendedRegister, "md." + name, scale, READ
        yield _obis(1, 0, c, 2, 0), Register, "cmd." + name, scale, READ
        for t in range(1, TARIFFS + 1):
            yield _obis(1, 0, c, 6, t), ExtendedRegister, "md.%s.t%d" % (name, t), scale, READ
            yield _obis(1, 0, c, 2, t), Register, "cmd.%s.t%d" % (name, t), scale, READ
    yield "0-0:15.0.0", SingleActionSchedule, "billing_schedule", None, _SCHEDULE
    yield "0-0:10.0.1", ScriptTable, "billing_scripts", BILLING_SCRIPTS, _SCRIPTS
    yield "0-0:0.1.0", Data, "billing.counter", axdr.DOUBLE_LONG_UNSIGNED, READ
    yield "0-0:0.1.1", Data, "billing.available", axdr.UNSIGNED, READ
    yield "0-0:0.1.2", Data, "billing.last", _DATETIME, READ
