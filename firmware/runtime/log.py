"""A small console logger (the unix port has no `logging`): one line per message on stderr."""
import sys

_LEVELS = ("debug", "info", "warning", "error")
_threshold = 1


def set_level(name):
    """Show messages of `name` ("debug", "info", "warning", "error") and above."""
    global _threshold
    _threshold = _LEVELS.index(name)


def _emit(level, msg, args):
    if _LEVELS.index(level) < _threshold:
        return
    if args:
        msg = msg % args
    sys.stderr.write(level + ": " + msg + "\n")


def debug(msg, *args):
    _emit("debug", msg, args)


def info(msg, *args):
    _emit("info", msg, args)


def warning(msg, *args):
    _emit("warning", msg, args)


def error(msg, *args):
    _emit("error", msg, args)
