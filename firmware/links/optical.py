"""The optical port over a byte stream: IEC 62056-21 mode E opening, then HDLC, then back.

    srv = await optical.serve(app, port, ident)     # app: dlms.server.Server

On the host the "optical head" is a TCP connection on 127.0.0.1 (one octet stream; the bit-rate
switch of the opening has nothing to change there, a UART transport would apply it). Each
connection starts in the opening state; a 0x7E flag instead of a sign-on request goes straight
to HDLC. While the HDLC link is up the client SAP of each request is the link's; when the link
comes up or goes down the association ends, and a link that went down returns the port to the
opening state. One optical head at a time: a new connection takes the port over and the older
one is closed (a head put onto the port again).
"""
import asyncio
import time

from links import hdlc, iec21

HOST = "127.0.0.1"
_READ_SIZE = 256
# Read timeout: how often the HDLC timers are ticked while the line is quiet (seconds).
_TICK_S = 0.05


def _ticks_ms():
    try:
        return time.ticks_ms()
    except AttributeError:      # CPython
        return int(time.monotonic() * 1000) & 0x3FFFFFFF


class OpticalPort:
    """One optical port serving the application server `app`."""

    def __init__(self, app, ident, logical_devices=(1,), max_info=128, inactivity_ms=120000):
        self.app = app
        self.ident = ident
        self.logical_devices = logical_devices
        self.max_info = max_info
        self.inactivity_ms = inactivity_ms
        self._writer = None

    async def client(self, reader, writer):
        """Serve one optical head until it goes away or another one takes the port."""
        if self._writer is not None:
            await _close(self._writer)
        self._writer = writer
        session = _Session(self)
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(_READ_SIZE), _TICK_S)
                except asyncio.TimeoutError:
                    chunk = None
                if self._writer is not writer or (chunk is not None and not chunk):
                    break
                out = session.tick() if chunk is None else session.feed(chunk)
                if out:
                    writer.write(out)
                    await writer.drain()
        except OSError:
            pass
        finally:
            session.close()
            if self._writer is writer:
                self._writer = None
            await _close(writer)


class _Session:
    """Opening and HDLC state of one connection: octets in, octets out."""

    def __init__(self, port):
        self.opening = iec21.ModeEOpening(port.ident)
        self.link = hdlc.HdlcServer(port.logical_devices, None, port.max_info, port.max_info,
                                    inactivity_ms=port.inactivity_ms)
        self.conn = port.app.connection()
        self.in_hdlc = False

    def feed(self, data):
        out = b""
        if not self.in_hdlc:
            reply, switch = self.opening.feed(data)
            out = bytes(reply)
            if switch is None:
                return out
            self.in_hdlc = True
            data = switch[1]
            if not data:
                return out
        return out + self._hdlc(self.link.feed(data))

    def tick(self):
        if not self.in_hdlc:
            return b""
        return self._hdlc(self.link.tick(_ticks_ms()))

    def _hdlc(self, result):
        frames, apdus, reset = result
        out = b"".join(frames)
        if reset:
            self.conn.close()
        for apdu in apdus:
            rsp = self.conn.handle(self.link.client, apdu)
            if rsp:
                out += b"".join(self.link.send(rsp))
        if reset and not self.link.connected:
            self.in_hdlc = False
            self.opening.reset()
        return out

    def close(self):
        self.conn.close()


async def _close(writer):
    try:
        writer.close()
        await writer.wait_closed()
    except OSError:
        pass


async def serve(app, port, ident, host=HOST, **options):
    """Start the optical port on host:port; returns the asyncio server. `options` go to
    OpticalPort (logical_devices, max_info, inactivity_ms)."""
    service = OpticalPort(app, ident, **options)
    return await asyncio.start_server(service.client, host, port)
