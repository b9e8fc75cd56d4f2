"""Switching objects (docs/disconnect.md): disconnect control 0-0:96.3.10 (class 70), the
disconnector script table 0-0:10.0.106 (class 9), the disconnect control scheduler 0-0:15.0.1
(class 22), the limiter 0-0:17.0.0 (class 71), supervision monitors 1-0:31.4.0 (and on three
phases 1-0:51.4.0, 1-0:71.4.0) and the overvoltage monitor 0-0:16.1.0 (class 21), the input and
output state registers 0-0:96.3.1 / 0-0:96.3.2 (class 1).

Access: management reads and writes and calls the methods; the pre-established client reads;
the public client reads output_state and control_state.
"""
from dlms import axdr
from cosem.data import Data
from cosem.disconnect_control import DisconnectControl
from cosem.limiter import Limiter
from cosem.register_monitor import RegisterMonitor
from cosem.script_table import EXECUTE_METHOD, ScriptTable, action
from cosem.single_action_schedule import SingleActionSchedule

_DISCONNECT = ("rrr-", "rrrb/xx", "r*")
_SCRIPTS = (None, "rr/x", "r*")
_SCHEDULE = (None, "rbbb", "r*")
_LIMITER = (None, "rbrbbbbbbrb", "r*")
_MONITOR = (None, "rbrb", "r*")
_READ = (None, "r*", "r*")

_ZERO = (axdr.INTEGER, 0)
# Script 1 disconnects, script 2 reconnects (the methods of the disconnect control object).
DISCONNECTOR_SCRIPTS = (
    (1, (action(EXECUTE_METHOD, 70, "0-0:96.3.10", 1, _ZERO),)),
    (2, (action(EXECUTE_METHOD, 70, "0-0:96.3.10", 2, _ZERO),)),
)


def rows(phases):
    """The switching objects of a meter with `phases` phases."""
    yield "0-0:96.3.10", DisconnectControl, "disconnect", None, _DISCONNECT
    yield "0-0:10.0.106", ScriptTable, "disconnector_scripts", DISCONNECTOR_SCRIPTS, _SCRIPTS
    yield "0-0:15.0.1", SingleActionSchedule, "disconnect_schedule", None, _SCHEDULE
    yield "0-0:17.0.0", Limiter, "limiter", None, _LIMITER
    for p in range(phases):
        yield ("1-0:%d.4.0" % (31 + 20 * p), RegisterMonitor, "supervision_l%d" % (p + 1),
               axdr.DOUBLE_LONG_UNSIGNED, _MONITOR)
    yield "0-0:16.1.0", RegisterMonitor, "overvoltage", axdr.LONG_UNSIGNED, _MONITOR
    yield "0-0:96.3.1", Data, "io.inputs", axdr.LONG_UNSIGNED, _READ
    yield "0-0:96.3.2", Data, "io.outputs", axdr.LONG_UNSIGNED, _READ
