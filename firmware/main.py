"""Firmware entry point: `micropython firmware/main.py [options]` on the PC, main.py on a board."""
import os
import sys

import asyncio

from runtime import cli, log


def _add_host_board():
    # On the PC the host board's modules live in boards/host beside firmware/; on a board they sit
    # at the root of the file system next to this file and nothing needs adding.
    try:
        here = __file__.rpartition("/")[0] or "."
        path = here + "/../boards/host"
        os.stat(path + "/hw.py")
    except (NameError, OSError):  # frozen main.py has no __file__; no boards/ on a device
        return
    sys.path.append(path)


class StartError(Exception):
    """The meter cannot start; the message is printed as one line."""


def _board_opts(opts):
    from core import civil

    start = opts["start"]
    return {
        "state_dir": opts["state_dir"],
        "fs": opts["fs"],
        "bits": opts["bits"],
        "realtime": opts["pace"] == "realtime",
        "speed": opts["speed"],
        "start": None if start is None else civil.to_epoch(*start),
    }


async def _run(opts):
    import hw
    from runtime.meter import Meter

    try:
        board = hw.Board(opts["model"], _board_opts(opts))
    except Exception as e:  # any board start-up failure is reported as one line, not a traceback
        raise StartError("board start-up failed: %s" % e)
    meter = Meter(board, opts)
    meter.power_on_sync()
    servers = []
    if opts.get("control_port"):
        try:
            import control
        except ImportError:
            control = None  # a board without a control channel (real hardware)
        if control:
            servers.append(await control.serve(meter, opts["control_port"]))
            log.info("control channel on 127.0.0.1:%d", opts["control_port"])
    if opts.get("wrapper_port") or opts.get("optical_port"):
        from runtime import cosem_service
        servers += await cosem_service.start(meter, opts.get("wrapper_port", 0),
                                             opts.get("optical_port", 0))
        log.info("COSEM wrapper on 127.0.0.1:%d, optical port on 127.0.0.1:%d",
                 opts.get("wrapper_port", 0), opts.get("optical_port", 0))
    log.info("%s running (%s)", opts["model"], opts["pace"])
    try:
        await meter.run_until_stopped(opts.get("duration"))
    finally:
        for s in servers:
            s.close()
    log.info("stopped at meter time %d, %d front-end overruns", board.clock.now(),
             board.afe.overruns)


def main(argv):
    """Parse the command line and run the meter; return the process exit status."""
    _add_host_board()
    try:
        opts = cli.parse(argv)
    except cli.UsageError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    if opts is None:
        sys.stdout.write(cli.USAGE)
        return 0
    try:
        asyncio.run(_run(opts))
    except KeyboardInterrupt:
        return 130
    except (StartError, OSError) as e:
        sys.stderr.write("error: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
