"""Control channel request handling: every malformed request gets a one-line refusal, nothing changes."""
import asyncio
import json

import pytest

import control


class FakeAfe:
    def __init__(self):
        self.calls = []

    def configure(self, phase=None, **kw):
        if "u" in kw and not 0 <= kw["u"] <= 400:
            raise ValueError("u out of range")
        self.calls.append((phase, kw))

    def settings(self):
        return {"calls": len(self.calls)}


class FakeClock:
    def now(self):
        return 1234


class FakeBoard:
    def __init__(self):
        self.afe = FakeAfe()
        self.clock = FakeClock()


class FakeMeter:
    nphases = 3

    def __init__(self):
        self.board = FakeBoard()
        self.powered = True
        self.advanced = []
        self.stopped = False

    def status(self):
        return {"time": 1234}

    async def advance(self, s):
        self.advanced.append(s)

    def request_stop(self):
        self.stopped = True


def handle(meter, obj_or_bytes):
    line = obj_or_bytes if isinstance(obj_or_bytes, bytes) else json.dumps(obj_or_bytes).encode()
    return asyncio.run(control.handle(meter, line))


def test_status_and_load():
    m = FakeMeter()
    assert handle(m, {"cmd": "status"}) == {"ok": True, "status": {"time": 1234}}
    rsp = handle(m, {"cmd": "load", "phase": 2, "set": {"u": 230, "i": 5}})
    assert rsp == {"ok": True, "settings": {"calls": 1}}
    assert m.board.afe.calls == [(2, {"u": 230, "i": 5})]


def test_advance_and_stop():
    m = FakeMeter()
    assert handle(m, {"cmd": "advance", "seconds": 3600}) == {"ok": True, "time": 1234}
    assert m.advanced == [3600]
    assert handle(m, {"cmd": "stop"}) == {"ok": True}
    assert m.stopped


@pytest.mark.parametrize("req, fragment", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[1, 2]", "must be an object"),
    ({"cmd": 5}, "must be an object with a string 'cmd'"),
    ({"cmd": "explode"}, "unknown command"),
    ({"cmd": "load", "set": {}}, "non-empty object"),
    ({"cmd": "load", "phase": 4, "set": {"u": 1}}, "phase must be 1..3"),
    ({"cmd": "load", "phase": True, "set": {"u": 1}}, "phase must be 1..3"),
    ({"cmd": "load", "set": {"u": 999}}, "bad load setting"),
    ({"cmd": "advance", "seconds": -1}, "advance needs"),
    ({"cmd": "advance", "seconds": "10"}, "advance needs"),
    ({"cmd": "power", "state": "maybe"}, "power needs"),
    ({"cmd": "hang"}, "hang needs"),
    ({"cmd": "hang", "ms": 0}, "hang needs"),
    ({"cmd": "hang", "ms": 60001}, "hang needs"),
    ({"cmd": "hang", "ms": True}, "hang needs"),
])
def test_bad_requests(req, fragment):
    m = FakeMeter()
    rsp = handle(m, req)
    assert rsp["ok"] is False and fragment in rsp["error"]
    assert "\n" not in rsp["error"]
    assert m.board.afe.calls == [] and m.advanced == [] and not m.stopped


def test_unknown_keyword_is_a_bad_setting():
    m = FakeMeter()
    m.board.afe.configure = lambda phase=None, u=None: None
    rsp = handle(m, {"cmd": "load", "set": {"volts": 1}})
    assert rsp["ok"] is False and "bad load setting" in rsp["error"]


def test_advance_refused_while_powered_off():
    m = FakeMeter()
    m.powered = False
    rsp = handle(m, {"cmd": "advance", "seconds": 10})
    assert rsp == {"ok": False, "error": "meter is powered off"}
