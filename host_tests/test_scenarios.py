"""The scenario files (scenarios/*.json) run by tools/scenario.py against the firmware process
under micropython (fast-forwarded host board); what each expects is read back over COSEM by
the management client."""
import glob
import os
import subprocess
import sys
import time

import pytest

import mpy
import simproc
from dlms import axdr
from test_push import Management, _free_port

sys.path.insert(0, os.path.join(mpy.ROOT, "tools"))
import scenario  # noqa: E402

FILES = sorted(glob.glob(os.path.join(mpy.ROOT, "scenarios", "*.json")))


def _connect(port):
    for _ in range(100):
        try:
            return Management(port)
        except OSError:
            time.sleep(0.1)
    return Management(port)


def test_there_are_scenarios_for_each_condition():
    names = {os.path.basename(f)[:-5] for f in FILES}
    assert {"dip", "swell", "outage", "phase_loss", "neutral_break"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.basename(p)[:-5])
def test_scenario(path):
    sc = scenario.load(path)
    wport = _free_port()
    with simproc.Sim("--wrapper-port", str(wport), "--fast", model=sc["model"]) as sim:
        scenario.run(sc, sim.port)
        mgmt = _connect(wport)
        try:
            for item in sc["expect"]:
                rsp = mgmt.request(0xC8, _get(item))
                assert rsp[:4] == bytes.fromhex("C401C100"), (item, rsp.hex())
                value = axdr.decode_all(rsp[4:])[1]
                what = "%s: %r" % (item["what"], value)
                if "value" in item:
                    assert value == item["value"], what
                if "range" in item:
                    assert item["range"][0] <= value <= item["range"][1], what
                if "min" in item:
                    assert value >= item["min"], what
                if "bits" in item:
                    assert value & item["bits"] == item["bits"], what
                if "clear" in item:
                    assert value & item["clear"] == 0, what
        finally:
            mgmt.close()


def _get(item):
    import cosem_client as cc
    return cc.get(item["class"], cc.obis(item["obis"]), item["attr"])


def test_scenario_tool_reports_a_bad_file_and_a_missing_meter(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"steps": [{"wait": 1, "advance": 2}]}')
    tool = os.path.join(mpy.ROOT, "tools", "scenario.py")
    out = subprocess.run([sys.executable, tool, str(bad)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2 and "exactly one of" in out.stderr
    out = subprocess.run([sys.executable, tool, FILES[0], "--port", str(_free_port())],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
