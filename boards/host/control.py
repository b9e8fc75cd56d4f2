"""Control channel of the host board: JSON lines on 127.0.0.1 for test engineers (tools/meterctl.py).

One request per line, one reply per line. A request is an object with a "cmd" member; a reply is
{"ok": true, ...} or {"ok": false, "error": "one-line reason"}. The protocol is documented in
docs/meterctl.md and kept stable.

The channel also runs the reset line of the simulated watchdog (sim_wdt.supervise): the host's
test harness, like the supply it cuts and the load it sets.
"""
import asyncio
import json
import time

import sim_wdt
from runtime import diag

_MAX_LINE = 4096
_HOST = "127.0.0.1"
_HANG_MAX_MS = 60000


class CommandError(Exception):
    """A request that cannot be carried out; its message goes back to the client."""


def _phase(req, nphases):
    p = req.get("phase")
    if p is None:
        return None
    if not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= nphases:
        raise CommandError("phase must be 1..%d" % nphases)
    return p


async def _status(meter, req):
    return {"status": meter.status()}


async def _diag(meter, req):
    return {"diag": diag.report(meter)}


async def _load(meter, req):
    afe = meter.board.afe
    settings = req.get("set")
    if not isinstance(settings, dict) or not settings:
        raise CommandError("load needs a non-empty object 'set'")
    try:
        afe.configure(_phase(req, meter.nphases), **settings)
    except (TypeError, ValueError) as e:
        raise CommandError("bad load setting: %s" % e)
    return {"settings": afe.settings()}


async def _advance(meter, req):
    s = req.get("seconds")
    if not isinstance(s, int) or isinstance(s, bool) or not 1 <= s <= 10 * 366 * 86400:
        raise CommandError("advance needs integer 'seconds' in 1..%d" % (10 * 366 * 86400))
    if not meter.powered:
        raise CommandError("meter is powered off")
    await meter.advance(s)
    return {"time": meter.board.clock.now()}


async def _power(meter, req):
    state = req.get("state")
    board = meter.board
    if state == "off":
        if meter.powered:
            board.cut_power()
            meter.power_off(hard=bool(req.get("hard", False)))
    elif state == "on":
        off_s = req.get("off_s", 0)
        if not isinstance(off_s, int) or isinstance(off_s, bool) or not 0 <= off_s <= 10 * 366 * 86400:
            raise CommandError("off_s must be whole meter seconds 0..10 years")
        if not meter.powered:
            board.restore_power(off_s)
            meter.power_on_sync()
    else:
        raise CommandError("power needs 'state': 'off' or 'on'")
    return {"powered": meter.powered}


async def _relay(meter, req):
    relay = meter.board.relay
    try:
        if "fault" in req:
            relay.fault(req["fault"], bool(req.get("on", True)))
        if "coil_mv" in req:
            meter.board.power.set_coil_mv(req["coil_mv"])
    except ValueError as e:
        raise CommandError(str(e))
    out = relay.state()
    out["coil_mv"] = meter.board.power.coil_mv()
    return {"relay": out}


async def _button(meter, req):
    if not meter.powered:
        raise CommandError("meter is powered off")
    try:
        return {"button": meter.board.inputs.press(req.get("name"))}
    except ValueError as e:
        raise CommandError(str(e))


async def _input(meter, req):
    active = req.get("active")
    if not isinstance(active, bool):
        raise CommandError("input needs boolean 'active'")
    try:
        meter.board.inputs.set(req.get("name"), active)
    except ValueError as e:
        raise CommandError(str(e))
    return {"input": {n: meter.board.inputs.value(n) for n in meter.board.inputs.NAMES}}


async def _hang(meter, req):
    ms = req.get("ms")
    if not isinstance(ms, int) or isinstance(ms, bool) or not 1 <= ms <= _HANG_MAX_MS:
        raise CommandError("hang needs integer 'ms' in 1..%d" % _HANG_MAX_MS)
    # A blocking sleep, not an await: the whole scheduler stalls, as a firmware bug would stall
    # it, and nothing feeds the watchdog meanwhile.
    sleep_ms = getattr(time, "sleep_ms", None)
    if sleep_ms is not None:
        sleep_ms(ms)
    else:
        time.sleep(ms / 1000)
    wdt = getattr(meter.board, "wdt", None)
    return {"expired": wdt is not None and wdt.expired()}


async def _stop(meter, req):
    meter.request_stop()
    return {}


_COMMANDS = {
    "status": _status,
    "diag": _diag,
    "load": _load,
    "advance": _advance,
    "power": _power,
    "stop": _stop,
    "relay": _relay,
    "button": _button,
    "input": _input,
    "hang": _hang,
}


async def handle(meter, line):
    """Answer one request line (bytes) with one reply object (dict)."""
    try:
        req = json.loads(line.decode())
    except (ValueError, UnicodeError):
        return {"ok": False, "error": "request is not valid JSON"}
    if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
        return {"ok": False, "error": "request must be an object with a string 'cmd'"}
    fn = _COMMANDS.get(req["cmd"])
    if fn is None:
        return {"ok": False, "error": "unknown command %r; known: %s"
                % (req["cmd"], ", ".join(sorted(_COMMANDS)))}
    try:
        rsp = await fn(meter, req)
    except CommandError as e:
        return {"ok": False, "error": str(e)}
    rsp["ok"] = True
    return rsp


async def _client(meter, reader, writer):
    buf = b""
    try:
        while True:
            chunk = await reader.read(512)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    rsp = await handle(meter, line)
                    writer.write(json.dumps(rsp).encode() + b"\n")
                    await writer.drain()
            if len(buf) > _MAX_LINE:
                writer.write(json.dumps({"ok": False, "error": "request line too long"}).encode()
                             + b"\n")
                await writer.drain()
                break
    except OSError:
        pass
    writer.close()
    await writer.wait_closed()


async def serve(meter, port):
    """Start the control server on 127.0.0.1:port and the watchdog's reset line; returns the
    asyncio server."""
    asyncio.create_task(sim_wdt.supervise(meter))
    return await asyncio.start_server(lambda r, w: _client(meter, r, w), _HOST, port)
