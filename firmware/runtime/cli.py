"""Command line of the firmware process (host board); no argparse on the unix port."""

USAGE = """usage: micropython firmware/main.py [options]

Runs the meter on this board. With no options: model me382, state in ./state, real time.

options:
  --model NAME          meter model: me382 (1 phase: U, I-line, I-neutral) or
                        mt382 (3 phases + neutral)                    [me382]
  --state DIR           state directory (holds the NV memory file)    [state]
  --realtime            pace the front end to the wall clock          (default)
  --fast                fast-forward: run as fast as the CPU allows
  --speed N             run N times faster than real time (N >= 1)
  --start TIME          meter clock at start, UTC: YYYY-MM-DDTHH:MM:SS [now]
  --duration S          stop after S seconds of meter time           [run forever]
  --fs HZ               front-end sample rate per channel             [4000]
  --bits N              front-end ADC resolution, 16 or 24            [24]
  --watchdog-ms MS      watchdog timeout in ms, 500..32000            [8000]
  --control-port N      control channel on 127.0.0.1 (0: off)         [4060]
  --wrapper-port N      COSEM wrapper TCP port on 127.0.0.1 (0: off)  [4059]
  --optical-port N      optical port (IEC 62056-21 + HDLC) as TCP on
                        127.0.0.1 (0: off)                            [4061]
  -h, --help            show this help and exit
"""

MODELS = ("me382", "mt382")


class UsageError(Exception):
    """A command-line problem; its message is printed as one line."""


def _int(opt, text, lo, hi):
    try:
        v = int(text)
    except ValueError:
        raise UsageError("%s needs an integer, got %r" % (opt, text))
    if v < lo or v > hi:
        raise UsageError("%s must be in %d..%d, got %d" % (opt, lo, hi, v))
    return v


def parse_time(text):
    """Parse YYYY-MM-DDTHH:MM:SS (UTC) into a (y, mo, d, h, mi, s) tuple, or raise UsageError."""
    try:
        date, _, clock = text.partition("T")
        y, mo, d = [int(x) for x in date.split("-")]
        h, mi, s = [int(x) for x in clock.split(":")] if clock else (0, 0, 0)
    except ValueError:
        raise UsageError("--start needs YYYY-MM-DDTHH:MM:SS, got %r" % text)
    if not (2000 <= y <= 2099 and 1 <= mo <= 12 and 1 <= d <= 31 and 0 <= h < 24
            and 0 <= mi < 60 and 0 <= s < 60):
        raise UsageError("--start out of range (years 2000..2099): %r" % text)
    return (y, mo, d, h, mi, s)


def parse(argv):
    """Return the options as a dict, None for --help, or raise UsageError."""
    opts = {"model": "me382", "state_dir": "state", "pace": "realtime", "speed": 1,
            "start": None, "duration": None, "fs": 4000, "bits": 24,
            "control_port": 4060, "wrapper_port": 4059, "optical_port": 4061}
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if a in ("-h", "--help"):
            return None
        if a == "--realtime":
            opts["pace"] = "realtime"
            opts["speed"] = 1
            continue
        if a == "--fast":
            opts["pace"] = "fast"
            continue
        if not a.startswith("--") or a not in _VALUED:
            raise UsageError("unknown option %r (see --help)" % a)
        if i >= n:
            raise UsageError("%s needs a value" % a)
        v = argv[i]
        i += 1
        _VALUED[a](opts, a, v)
    return opts


def _model(opts, opt, v):
    if v not in MODELS:
        raise UsageError("unknown model %r: choose me382 or mt382" % v)
    opts["model"] = v


def _state(opts, opt, v):
    if not v:
        raise UsageError("--state needs a directory")
    opts["state_dir"] = v


def _speed(opts, opt, v):
    opts["speed"] = _int(opt, v, 1, 1000000)
    opts["pace"] = "realtime"


def _bits(opts, opt, v):
    b = _int(opt, v, 16, 24)
    if b not in (16, 24):
        raise UsageError("--bits must be 16 or 24, got %d" % b)
    opts["bits"] = b


def _setter(key, lo, hi):
    def f(opts, opt, v):
        opts[key] = _int(opt, v, lo, hi)
    return f


def _start(opts, opt, v):
    opts["start"] = parse_time(v)


_VALUED = {
    "--model": _model,
    "--state": _state,
    "--speed": _speed,
    "--start": _start,
    "--duration": _setter("duration", 1, 100 * 366 * 86400),
    "--fs": _setter("fs", 1000, 16000),
    "--bits": _bits,
    "--watchdog-ms": _setter("watchdog_ms", 500, 32000),
    "--control-port": _setter("control_port", 0, 65535),
    "--wrapper-port": _setter("wrapper_port", 0, 65535),
    "--optical-port": _setter("optical_port", 0, 65535),
}
