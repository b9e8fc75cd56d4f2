"""COSEM wrapper server on TCP (IEC 62056-47): one association per connection, several at once.

    srv = await tcp_wrapper.serve(app, port)     # app: dlms.server.Server

Each connection gets its own `Reassembler` and `server.Connection`; the client SAP is the source
wPort of each WPDU. WPDUs for another destination wPort than the logical device are dropped. A
wrapper error (version other than 1, bad length) closes the connection, as does inactivity
longer than `idle_s`; connections beyond `max_clients` are closed at once. Everything of a
connection is dropped with it.
"""
import asyncio

try:
    from time import ticks_diff, ticks_ms
except ImportError:
    import time

    def ticks_ms():
        return int(time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

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
        # MicroPython streams read into a buffer of ours; CPython's only return new bytes.
        readinto = getattr(reader, "readinto", None)
        buf = bytearray(_READ_SIZE)
        mv = memoryview(buf)
        # MicroPython's drain() yields to the scheduler even with nothing queued: one extra
        # wake-up per answer. write() has sent everything when its out_buf stays empty.
        drain_always = not hasattr(writer, "out_buf")
        # The idle limit is one watchdog task per connection rather than a wait_for per read,
        # which would build a task and a timer for every request.
        seen = [ticks_ms()]
        watchdog = asyncio.create_task(_watchdog(asyncio.current_task(), seen,
                                                 int(self.idle_s * 1000)))
        try:
            while True:
                if readinto is None:
                    chunk = await reader.read(_READ_SIZE)
                else:
                    chunk = mv[:await readinto(buf)]
                if not chunk:
                    break
                seen[0] = ticks_ms()
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
                        if drain_always or writer.out_buf:
                            await writer.drain()
        except asyncio.CancelledError:
            pass        # idle for idle_s
        except OSError:
            pass
        finally:
            watchdog.cancel()
            self.clients -= 1
            conn.close()
            await _close(writer)


async def _watchdog(task, seen, idle_ms):
    # Cancels `task` once seen[0] (the tick of its last data) is idle_ms old.
    wait = idle_ms
    while True:
        await asyncio.sleep(wait / 1000)
        wait = idle_ms - ticks_diff(ticks_ms(), seen[0])
        if wait <= 0:
            task.cancel()
            return


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
