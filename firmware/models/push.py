"""Push setups (class 40), bound to runtime.push: on connectivity 0-0:25.9.0, interval 1
0-1:25.9.0, on alarm 0-4:25.9.0; the push action schedule 0-1:15.0.4 (class 22) runs script 1 of
the push script table 0-0:10.0.108 (class 9), which invokes push of 0-1:25.9.0. Management reads
and writes the setups and the schedule's times and calls the methods; the pre-established client
reads them."""
from dlms import axdr
from cosem.push_setup import PushSetup
from cosem.script_table import ScriptTable, action
from cosem.single_action_schedule import SingleActionSchedule

_ACCESS = (None, "rbbbbbb/x", "r*")
_SCHEDULE = (None, "rrbb", "r*")
_SCRIPTS = (None, "rr/x", "r*")
PUSH_SCRIPTS = ((1, (action(2, 40, "0-1:25.9.0", 1, (axdr.INTEGER, 0)),)),)


def rows():
    """The push setups, the push action schedule and the push script table."""
    yield "0-0:25.9.0", PushSetup, "push.connect", None, _ACCESS
    yield "0-1:25.9.0", PushSetup, "push.interval", None, _ACCESS
    yield "0-4:25.9.0", PushSetup, "push.alarm", None, _ACCESS
    yield "0-1:15.0.4", SingleActionSchedule, "push_schedule", None, _SCHEDULE
    yield "0-0:10.0.108", ScriptTable, "push_scripts", PUSH_SCRIPTS, _SCRIPTS
