"""Command line of the firmware: parsed the same under CPython and micropython, clear one-line errors."""
import json
import os
import subprocess

import pytest

import mpy
from runtime import cli

MAIN = os.path.join(mpy.FIRMWARE, "main.py")


def run_main(*args):
    return subprocess.run([mpy.MICROPYTHON, MAIN] + list(args), capture_output=True, text=True,
                          timeout=30, cwd=mpy.ROOT)


def test_defaults():
    opts = cli.parse([])
    assert opts["model"] == "me382"
    assert opts["pace"] == "realtime" and opts["speed"] == 1
    assert opts["fs"] == 4000 and opts["bits"] == 24
    assert opts["control_port"] == 4060 and opts["wrapper_port"] == 4059


def test_all_options():
    opts = cli.parse(["--model", "mt382", "--state", "s", "--fast", "--start", "2026-03-29T00:59:00",
                      "--duration", "60", "--fs", "8000", "--bits", "16", "--control-port", "0",
                      "--wrapper-port", "14059", "--optical-port", "0"])
    assert opts == {"model": "mt382", "state_dir": "s", "pace": "fast", "speed": 1,
                    "start": (2026, 3, 29, 0, 59, 0), "duration": 60, "fs": 8000, "bits": 16,
                    "control_port": 0, "wrapper_port": 14059, "optical_port": 0}
    assert cli.parse(["--speed", "50"])["speed"] == 50
    assert cli.parse(["--watchdog-ms", "2000"])["watchdog_ms"] == 2000
    assert "watchdog_ms" not in cli.parse([])     # the Meter's default applies
    assert cli.parse(["--help"]) is None


@pytest.mark.parametrize("argv, fragment", [
    (["--bogus"], "unknown option"),
    (["stray"], "unknown option"),
    (["--model", "mx999"], "unknown model"),
    (["--model"], "needs a value"),
    (["--bits", "20"], "16 or 24"),
    (["--fs", "abc"], "needs an integer"),
    (["--speed", "0"], "must be in"),
    (["--start", "2026-13-01T00:00:00"], "out of range"),
    (["--start", "yesterday"], "YYYY-MM-DD"),
    (["--control-port", "70000"], "must be in"),
    (["--watchdog-ms", "499"], "must be in"),
])
def test_bad_options(argv, fragment):
    with pytest.raises(cli.UsageError) as e:
        cli.parse(argv)
    assert fragment in str(e.value)


def test_micropython_parses_identically():
    argv = ["--model", "mt382", "--speed", "20", "--start", "2030-01-02T03:04:05", "--bits", "16"]
    out = mpy.run_code("from runtime import cli; import json; print(json.dumps(cli.parse(%r)))"
                       % (argv,))
    got = json.loads(out)
    want = cli.parse(argv)
    want["start"] = list(want["start"])
    assert got == want


def test_process_help_and_errors_are_one_line():
    proc = run_main("--help")
    assert proc.returncode == 0 and "--model NAME" in proc.stdout
    for args in (["--bogus"], ["--model", "x"], ["--bits", "12"]):
        proc = run_main(*args)
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
        assert "Traceback" not in proc.stderr
