#!/usr/bin/env python3
"""meterctl: control a meter running on the host board (make sim) from a test bench.

Talks JSON lines to the meter's control channel on 127.0.0.1 (default port 4060).
See docs/meterctl.md. Exit status: 0 ok, 1 the meter refused the request, 2 usage or connection error.
"""
import argparse
import json
import socket
import sys


def request(req, host="127.0.0.1", port=4060, timeout=30.0):
    """Send one request object, return the reply object (raises OSError on connection problems)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                raise OSError("meter closed the connection")
            buf += chunk
    return json.loads(buf)


def _harmonics(specs):
    out = {}
    for spec in specs or ():
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise argparse.ArgumentTypeError("harmonic must be ORDER:PERCENT[:DEGREES], got %r" % spec)
        out[str(int(parts[0]))] = [float(parts[1]), float(parts[2]) if len(parts) == 3 else 0.0]
    return out


def _load_request(a):
    settings = {}
    for key in ("u", "i", "phi", "f", "u_dc", "i_dc", "noise", "gain"):
        v = getattr(a, key)
        if v is not None:
            settings[key] = v
    if a.pf is not None:
        if not -1.0 <= a.pf <= 1.0:
            raise SystemExit("meterctl: --pf must be in -1..1")
        import math
        phi = math.degrees(math.acos(abs(a.pf)))
        # Inductive load: current lags voltage (positive angle); capacitive: leads; negative PF: export.
        phi = phi if not a.capacitive else -phi
        if a.pf < 0:
            phi += 180.0
        settings["phi"] = phi
    if a.harmonic_u:
        settings["u_harmonics"] = _harmonics(a.harmonic_u)
    if a.harmonic_i:
        settings["i_harmonics"] = _harmonics(a.harmonic_i)
    req = {"cmd": "load", "set": settings}
    if a.phase:
        req["phase"] = a.phase
    return req


def main(argv=None):
    p = argparse.ArgumentParser(prog="meterctl", description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4060)
    p.add_argument("--timeout", type=float, default=30.0)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status", help="measured values, energy registers, LED pulses, overruns, heap")
    sub.add_parser("diag", help="tasks, overruns, heap, NV health")
    ld = sub.add_parser("load", help="set the simulated load of one phase (or all phases)")
    ld.add_argument("--phase", type=int, help="1..3 (default: all phases)")
    ld.add_argument("--u", type=float, help="voltage, V rms")
    ld.add_argument("--i", type=float, help="current, A rms")
    ld.add_argument("--phi", type=float, help="current angle behind voltage, degrees")
    ld.add_argument("--pf", type=float, help="power factor (sets --phi); negative = export")
    ld.add_argument("--capacitive", action="store_true", help="with --pf: current leads voltage")
    ld.add_argument("--f", type=float, help="frequency, Hz")
    ld.add_argument("--u-dc", dest="u_dc", type=float, help="voltage channel DC offset, LSB")
    ld.add_argument("--i-dc", dest="i_dc", type=float, help="current channel DC offset, LSB")
    ld.add_argument("--noise", type=float, help="noise amplitude, LSB")
    ld.add_argument("--gain", type=float, help="front-end gain factor")
    ld.add_argument("--harmonic-u", action="append", metavar="N:PCT[:DEG]")
    ld.add_argument("--harmonic-i", action="append", metavar="N:PCT[:DEG]")
    adv = sub.add_parser("advance", help="advance meter time by SECONDS (load applied analytically)")
    adv.add_argument("seconds", type=int)
    pw = sub.add_parser("power", help="cut (off) or restore (on) the supply")
    pw.add_argument("state", choices=("off", "on"))
    pw.add_argument("--hard", action="store_true", help="cut without the power-fail save")
    pw.add_argument("--off-s", type=int, default=0,
                    help="on: the outage lasted this many more meter seconds")
    hg = sub.add_parser("hang", help="block the meter's scheduler for MS milliseconds (the "
                        "watchdog resets the meter when MS exceeds its timeout)")
    hg.add_argument("ms", type=int)
    sub.add_parser("stop", help="save and stop the meter process")
    raw = sub.add_parser("raw", help="send one raw JSON request")
    raw.add_argument("json")
    a = p.parse_args(argv)

    if a.cmd == "load":
        req = _load_request(a)
    elif a.cmd == "advance":
        req = {"cmd": "advance", "seconds": a.seconds}
    elif a.cmd == "power":
        req = {"cmd": "power", "state": a.state, "hard": a.hard}
        if a.state == "on" and a.off_s:
            req["off_s"] = a.off_s
    elif a.cmd == "hang":
        req = {"cmd": "hang", "ms": a.ms}
    elif a.cmd == "raw":
        try:
            req = json.loads(a.json)
        except ValueError as e:
            print("meterctl: raw request is not JSON: %s" % e, file=sys.stderr)
            return 2
    else:
        req = {"cmd": a.cmd}
    try:
        rsp = request(req, a.host, a.port, a.timeout)
    except (OSError, ValueError) as e:
        print("meterctl: cannot talk to the meter at %s:%d: %s" % (a.host, a.port, e),
              file=sys.stderr)
        return 2
    print(json.dumps(rsp, indent=2, sort_keys=True))
    return 0 if rsp.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
