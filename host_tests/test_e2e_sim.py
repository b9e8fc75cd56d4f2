"""End to end: the firmware process on the host board under the real micropython binary, driven
through its control channel like a test bench would."""
import os
import subprocess
import tempfile

import pytest

import mpy
import sim_nv
from simproc import Sim
from runtime import meter as meter_mod

START = 820454400  # 2026-01-01T00:00:00 UTC in seconds since 2000


def close_to(value, want, rel):
    return abs(value - want) <= abs(want) * rel


def test_measures_registers_and_blinks():
    # Real-time pacing (5x); overruns on a loaded machine are the benchmark's business, not asserted.
    with Sim("--speed", "5") as sim:
        assert sim.ctl("load", set={"u": 230, "i": 10, "phi": 60})["ok"]
        t = sim.status()["time"]
        sim.wait_meter_time(t + 8)
        st = sim.status()
        ph = st["values"]["phases"][0]
        assert close_to(ph["u_mv"], 230000, 1e-3)
        assert close_to(ph["i_ma"], 10000, 1e-3)
        assert close_to(ph["p_mw"], 1150000, 2e-3)
        assert close_to(ph["q_mvar"], 1991858, 2e-3)
        assert ph["pf"] == 500
        assert st["values"]["f_chz"] == 5000
        assert close_to(st["values"]["in_ma"], 10000, 1e-3)
        e = st["energy"]["total"]
        assert e["A+"] > 0 and e["A-"] == 0 and e["QI"] == e["R+"] > 0
        assert st["led"]["active"] >= 1
        assert st["powered"] and st["blocks"] >= 70


def test_advance_applies_the_load_analytically():
    with Sim("--fast") as sim:
        sim.ctl("load", set={"u": 230, "i": 5, "phi": 0})
        before = sim.status()["energy"]["total"]["A+"]
        rsp = sim.ctl("advance", seconds=3600)
        assert rsp["ok"]
        after = sim.status()["energy"]["total"]["A+"]
        # 1150 W for one hour = 1150 Wh = 1 150 000 mWh, plus what the sampling added meanwhile.
        assert 1150000 <= after - before <= 1150000 + 20000


def test_power_cycle_keeps_registers_and_hard_cut_loses_only_unsaved_energy():
    with Sim("--fast") as sim:
        sim.ctl("load", set={"u": 230, "i": 20, "phi": 0})  # 4600 W
        sim.ctl("advance", seconds=7200)  # saves on the way (periodic save)
        st1 = sim.status()
        e1 = st1["energy"]["total"]["A+"]
        assert sim.ctl("power", state="off")["powered"] is False
        assert sim.ctl("advance", seconds=10)["ok"] is False  # refused while off
        assert sim.ctl("power", state="on")["powered"] is True
        e2 = sim.status()["energy"]["total"]["A+"]
        assert e2 >= e1  # the power-fail save kept everything
        sim.ctl("advance", seconds=100)  # 100 s < save period: not saved yet
        st3 = sim.status()
        e3 = st3["energy"]["total"]["A+"]
        sim.ctl("power", state="off", hard=True)
        sim.ctl("power", state="on")
        e4 = sim.status()["energy"]["total"]["A+"]
        assert e1 <= e4 < e3  # back to the power-off save: the unsaved energy is lost, nothing more
        # What is lost is bounded by the load over the meter time since that save.
        assert e3 - e4 <= 4600 * 1000 * (st3["time"] - st1["time"] + 1) // 3600


def test_registers_survive_a_process_restart():
    with tempfile.TemporaryDirectory() as state:
        with Sim("--fast", state_dir=state) as sim:
            sim.ctl("load", set={"u": 230, "i": 10, "phi": 0})
            sim.ctl("advance", seconds=600)
            e1 = sim.status()["energy"]["total"]["A+"]
            rc, err = sim.stop()
            assert rc == 0, err
        with Sim("--fast", state_dir=state) as sim:
            assert sim.status()["energy"]["total"]["A+"] >= e1


def test_mt382_per_phase_values_and_registers():
    with Sim("--fast", model="mt382") as sim:
        sim.ctl("load", phase=1, set={"u": 230, "i": 10, "phi": 0})
        sim.ctl("load", phase=2, set={"u": 231, "i": 5, "phi": 30})
        sim.ctl("load", phase=3, set={"u": 229, "i": 2, "phi": 180})  # exporting phase
        sim.ctl("advance", seconds=3600)
        st = sim.status()
        phases = st["values"]["phases"]
        assert len(phases) == 3
        assert phases[2]["p_mw"] < 0 and phases[0]["p_mw"] > 0
        per = st["energy"]["phases"]
        assert close_to(per[0]["A+"], 2300000, 1e-2)
        assert per[2]["A-"] > 0 and per[2]["A+"] == 0
        tot = st["energy"]["total"]
        # Vector registration: the net of the phases, 2300 + 999 - 458 W.
        assert close_to(tot["A+"], 2300000 + 999000 - 458000, 1e-2) and tot["A-"] == 0


def test_malformed_control_requests_leave_the_meter_running():
    with Sim("--fast") as sim:
        import socket
        with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as s:
            s.sendall(b"garbage\n{\"cmd\": \"nope\"}\n")
            data = b""
            while data.count(b"\n") < 2:
                data += s.recv(4096)
        assert data.count(b'"ok": false') == 2
        with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as s:
            s.sendall(b"x" * 10000)
            assert b"too long" in s.recv(4096)
        assert sim.ctl("load", phase=9, set={"u": 1})["ok"] is False
        assert sim.ctl("load", set={"u": -5})["ok"] is False
        assert sim.status()["powered"]


def test_state_path_that_is_not_a_directory_is_a_one_line_error():
    with tempfile.NamedTemporaryFile() as f:
        proc = subprocess.run([mpy.MICROPYTHON, os.path.join(mpy.FIRMWARE, "main.py"), "--state",
                               f.name, "--control-port", "0", "--wrapper-port", "0",
                               "--optical-port", "0"],
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: board start-up failed") and proc.stderr.count("\n") == 1


def test_wrong_size_nv_file_is_refused_and_left_alone():
    with tempfile.TemporaryDirectory() as state:
        path = os.path.join(state, "nv.bin")
        with open(path, "wb") as f:
            f.write(b"\x00" * 100)
        proc = subprocess.run([mpy.MICROPYTHON, os.path.join(mpy.FIRMWARE, "main.py"), "--state",
                               state, "--control-port", "0", "--wrapper-port", "0",
                               "--optical-port", "0"],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 1 and "NV file" in proc.stderr
        assert "Traceback" not in proc.stderr
        with open(path, "rb") as f:
            assert f.read() == b"\x00" * 100


def test_corrupt_calibration_record_falls_back_to_defaults_and_is_kept():
    with tempfile.TemporaryDirectory() as state:
        nv = sim_nv.NvFile(state)
        store = meter_mod.open_store(nv)
        bogus = b"CL\x01\x01" + b"\x55" * 40  # right magic, wrong length and CRC
        store.write(meter_mod.KEY_CAL, bogus)
        nv.sync()
        nv.close()
        with Sim("--fast", state_dir=state) as sim:
            sim.ctl("load", set={"u": 230, "i": 5, "phi": 0})
            t = sim.status()["time"]
            sim.wait_meter_time(t + 2)
            assert close_to(sim.status()["values"]["phases"][0]["p_mw"], 1150000, 2e-3)
            rc, err = sim.stop()
        assert rc == 0
        assert "error: calibration record unusable" in err and "Traceback" not in err
        nv = sim_nv.NvFile(state)
        assert meter_mod.open_store(nv).read(meter_mod.KEY_CAL) == bogus
        nv.close()
