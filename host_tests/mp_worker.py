# MicroPython side of host_tests.mpy.Worker: one JSON request per line, one JSON reply per line.
import sys
import json

_g = {"__name__": "worker"}


def _serve():
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        try:
            req = json.loads(line)
            if "exec" in req:
                exec(req["exec"], _g)
                rsp = {"value": None}
            else:
                rsp = {"value": eval(req["eval"], _g)}
        except Exception as e:
            rsp = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(rsp))
        sys.stdout.write("\n")


_serve()
