"""Host-side tools: meterctl against a running meter, deploy's plan, build_mpy over the tree."""
import json
import os
import subprocess
import sys

import mpy
from simproc import Sim

TOOLS = os.path.join(mpy.ROOT, "tools")


def tool(*args):
    return subprocess.run([sys.executable] + list(args), capture_output=True, text=True, timeout=60,
                          cwd=mpy.ROOT)


def test_meterctl_commands_and_exit_codes():
    ctl = os.path.join(TOOLS, "meterctl.py")
    with Sim("--fast") as sim:
        port = ["--port", str(sim.port)]
        p = tool(ctl, *port, "load", "--u", "230", "--i", "5", "--pf", "0.5")
        assert p.returncode == 0, p.stderr
        phi = json.loads(p.stdout)["settings"]["phases"][0]["phi"]
        assert abs(phi - 60.0) < 1e-9  # inductive PF 0.5: current 60 degrees behind
        p = tool(ctl, *port, "advance", "3600")
        assert p.returncode == 0 and json.loads(p.stdout)["ok"]
        p = tool(ctl, *port, "status")
        st = json.loads(p.stdout)["status"]
        assert st["energy"]["total"]["A+"] >= 575000  # 575 W for an hour
        assert st["energy"]["total"]["QI"] > 0
        p = tool(ctl, *port, "raw", '{"cmd": "power", "state": "sideways"}')
        assert p.returncode == 1 and "power needs" in p.stdout
        p = tool(ctl, *port, "raw", "not json")
        assert p.returncode == 2 and "not JSON" in p.stderr
        p = tool(ctl, *port, "diag")
        assert p.returncode == 0 and "nv" in json.loads(p.stdout)["diag"]
        p = tool(ctl, *port, "hang", "10")      # far below the 8 s watchdog timeout
        assert p.returncode == 0 and json.loads(p.stdout)["expired"] is False
        p = tool(ctl, *port, "hang", "0")
        assert p.returncode == 1 and "hang needs" in p.stdout
    p = tool(ctl, "--port", str(sim.port), "status")  # meter gone
    assert p.returncode == 2 and "cannot talk to the meter" in p.stderr


def test_deploy_plan_copies_firmware_board_and_main(tmp_path):
    out = tmp_path / "mpy"
    assert tool(os.path.join(TOOLS, "build_mpy.py"), "--out", str(out)).returncode == 0
    p = tool(os.path.join(TOOLS, "deploy.py"), "--port", "/dev/null", "--build", str(out),
             "--dry-run")
    assert p.returncode == 0, p.stderr
    cmd = p.stdout
    assert "mpremote connect /dev/null" in cmd
    for remote in (":measure/kernel.mpy", ":runtime/meter.mpy", ":hw.mpy", ":ads131m0x.mpy",
                   ":main.py"):
        assert remote in cmd
    assert ":main.mpy" not in cmd and "sim_afe" not in cmd
    p = tool(os.path.join(TOOLS, "deploy.py"), "--port", "x", "--board", "nope", "--build", str(out))
    assert p.returncode != 0 and "no compiled firmware or board" in p.stderr
