#!/usr/bin/env python3
"""Drive a running host meter (`make sim`) through a scenario file over its control channel
(docs/meterctl.md). Usage:

    .venv/bin/python tools/scenario.py scenarios/dip.json [--port 4060]

A scenario is a JSON object: "model" (the meter it is written for), "description", "steps" and
"expect": the COSEM attributes ({"obis", "class", "attr"}) the meter shows afterwards, with
"value" (equal), "range" [lo, hi], "min", "bits" (all set) or "clear" (none set); this tool
prints them, host_tests/test_scenarios.py reads and checks them over COSEM. Steps, in order:

    {"load": {"u": 190.0}, "phase": 1}   front-end settings (all phases without "phase")
    {"wait": 5}                          5 s of meter time measured window by window
    {"advance": 3600}                    an analytic jump of meter time (no windows)
    {"power": "off"} / {"power": "on"}   power failure / return ("hard": true: no save)
    {"pause": 2}                         2 s of wall-clock time (e.g. an outage's length)

Exit status: 0 done, 1 the meter refused a step, 2 usage or connection error.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import meterctl  # noqa: E402

STEP_KEYS = ("load", "wait", "advance", "power", "pause")


class ScenarioError(Exception):
    """A step the meter refused, or meter time that does not move on."""


def load(path):
    """The scenario of a JSON file, checked (ValueError if it is not one)."""
    with open(path) as f:
        sc = json.load(f)
    if not isinstance(sc, dict) or not isinstance(sc.get("steps"), list):
        raise ValueError("%s: a scenario is an object with a list 'steps'" % path)
    for n, step in enumerate(sc["steps"]):
        keys = [k for k in STEP_KEYS if isinstance(step, dict) and k in step]
        if len(keys) != 1:
            raise ValueError("%s: step %d needs exactly one of %s" % (path, n + 1,
                                                                      ", ".join(STEP_KEYS)))
    return sc


def _request(port, req, timeout=60.0):
    rsp = meterctl.request(req, port=port, timeout=timeout)
    if not rsp.get("ok"):
        raise ScenarioError("%s refused: %s" % (req["cmd"], rsp.get("error")))
    return rsp


def meter_time(port):
    """Meter time (s since 2000) of the meter on `port`."""
    return _request(port, {"cmd": "status"})["status"]["time"]


def wait(port, seconds, wall_limit=None):
    """Wait until `seconds` of meter time have gone by (the meter measuring all along)."""
    end = meter_time(port) + seconds
    deadline = time.monotonic() + (wall_limit or 30 + 10 * seconds)
    while meter_time(port) < end:
        if time.monotonic() > deadline:
            raise ScenarioError("meter time did not move on by %d s" % seconds)
        time.sleep(0.02)


def run_step(port, step):
    """Carry out one step; returns the control channel's reply (None for waits)."""
    if "load" in step:
        req = {"cmd": "load", "set": step["load"]}
        if step.get("phase") is not None:
            req["phase"] = step["phase"]
        return _request(port, req)
    if "wait" in step:
        wait(port, step["wait"])
        return None
    if "advance" in step:
        return _request(port, {"cmd": "advance", "seconds": step["advance"]}, timeout=600.0)
    if "power" in step:
        return _request(port, {"cmd": "power", "state": step["power"],
                               "hard": bool(step.get("hard", False))})
    time.sleep(step["pause"])
    return None


def run(scenario, port, echo=None):
    """Run every step of a scenario against the meter on `port`."""
    for step in scenario["steps"]:
        if echo:
            echo(json.dumps(step))
        run_step(port, step)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run a scenario file against the host meter.")
    ap.add_argument("scenario")
    ap.add_argument("--port", type=int, default=4060, help="control channel port [4060]")
    a = ap.parse_args(argv)
    try:
        sc = load(a.scenario)
        print(sc.get("description", a.scenario))
        run(sc, a.port, echo=lambda s: print("  " + s))
    except (OSError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except ScenarioError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    for item in sc.get("expect", ()):
        print("expect %s" % json.dumps(item))
    return 0


if __name__ == "__main__":
    sys.exit(main())
