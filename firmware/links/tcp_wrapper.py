"""COSEM wrapper server on TCP (IEC 62056-47): one association per connection, several at once.

    srv = await tcp_wrapper.serve(app, port)     # app: dlms.server.Server

Each connection gets its own `Reassembler` and `server.Connection`; the client SAP is the source
wPort of each WPDU. WPDUs for another destination wPort than the logical device are dropped. A
wrapper error (version other than 1, bad length) closes the connection, as does inactivity
longer than `idle_s`; connections beyond `max_clients` are closed at once. Everything of a
connection is dropped with it.
"""
import asyncio

from links import wrapper

HOST = "127.0.0.1"
_READ_SIZE = 512


class WrapperService:
    """Accepts connections for one application server (`app`)."""

    def __init__(self, app, logical_device=1, max_clients=4, idle_s=180, max_pdu=2048):
        self.app = app
        self.logical_device = logical_device
        self.max_clients = max_clients
        self.idle_s = idle_s
        self.max_pdu = max_pdu
        self.clients = 0

    async def client(self, reader, writer):
        """Serve one TCP connection until it closes, fails or idles out."""
        if self.clients >= self.max_clients:
            await _close(writer)
            return
        self.clients += 1
        conn = self.app.connection()
        rx = wrapper.Reassembler(self.max_pdu)
        try:
            while True:
                try:
                    chunk = await asyncio.wait_for(reader.read(_READ_SIZE), self.idle_s)
                except asyncio.TimeoutError:
                    break
                if not chunk:
                    break
                try:
                    pdus = rx.feed(chunk)
                except wrapper.WrapperError:
                    break
                for src, dst, apdu in pdus:
                    if dst != self.logical_device:
                        continue
                    rsp = conn.handle(src, apdu)
                    if rsp:
                        writer.write(wrapper.encode(dst, src, rsp))
                        await writer.drain()
        except OSError:
            pass
        finally:
            self.clients -= 1
            conn.close()
            await _close(writer)


async def _close(writer):
    try:
        writer.close()
        await writer.wait_closed()
    except OSError:
        pass


async def serve(app, port, host=HOST, **options):
    """Start the wrapper server on host:port; returns the asyncio server. `options` go to
    WrapperService (logical_device, max_clients, idle_s, max_pdu)."""
    service = WrapperService(app, **options)
    return await asyncio.start_server(service.client, host, port)
