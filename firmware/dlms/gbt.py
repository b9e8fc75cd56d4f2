"""General block transfer (GBT, Green Book: general-block-transfer APDU), server side, sans-IO.

    E0 | block-control u8 | block-number u16 | block-number-ack u16 | block-data (A-XDR octets)

block-control: bit 7 last-block, bit 6 streaming, bits 5..0 window (blocks the sender of the APDU
can take before it acknowledges). We support window 1 without streaming: every block is
answered by one block.

One `Transfer` per association carries one exchange at a time: the client's request, in one or
more blocks, then our response in one or more blocks.

- Request: the client numbers its blocks from any start, then +1 each. Every block but the last
  is acknowledged by an empty block of ours (block-number-ack = the client's block number); the
  last completes the request APDU (at most `request_max` octets), which the server processes.
- Response: cut into blocks of at most `block_max` octets. Our block numbers count every block we
  send in the exchange (acknowledgements included), from 1. The client asks for the next block
  with an empty block acknowledging the last one it got; acknowledging the one before gets that
  block again (it was lost; once the last block is sent the exchange is over). Our
  block-number-ack is the client's last block number. A block with data while we send abandons
  the response and starts a new request.

Anything else (an APDU that does not decode, streaming, a gap in the client's numbers, an
acknowledgement of a block never sent, a request too long, an empty block with nothing to
send) raises GbtError and drops the exchange.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from dlms import axdr

GBT = const(0xE0)
LAST = const(0x80)
STREAMING = const(0x40)
WINDOW = const(0x3F)
# Largest GBT header: tag, control, two block numbers, a 3-octet length (up to 64 KB of data).
HEAD_MAX = const(9)
_U16 = const(0xFFFF)


class GbtError(ValueError):
    """A GBT APDU that breaks the framing or the exchange (the exchange is dropped)."""


def encode(control, block_number, ack, data):
    """The general-block-transfer APDU."""
    n = len(data)
    head = bytearray(6 + axdr.length_size(n))
    head[0] = GBT
    head[1] = control
    head[2] = block_number >> 8 & 0xFF
    head[3] = block_number & 0xFF
    head[4] = ack >> 8 & 0xFF
    head[5] = ack & 0xFF
    axdr.encode_length(head, 6, n)
    return bytes(head) + bytes(data)


def decode(apdu):
    """(control, block number, block number ack, block data) of a GBT APDU; GbtError if it is
    not a complete one."""
    n = len(apdu)
    if n < 7 or apdu[0] != GBT:
        raise GbtError("not a general-block-transfer")
    try:
        size, pos = axdr.decode_length(apdu, 6)
    except axdr.DecodeError:
        raise GbtError("bad block-data length")
    if pos + size != n:
        raise GbtError("block-data length does not match")
    return (apdu[1], (apdu[2] << 8) | apdu[3], (apdu[4] << 8) | apdu[5],
            bytes(apdu[pos:]))


class Transfer:
    """The GBT exchange of one association: requests up to `request_max` octets in, responses
    out in blocks of at most `block_max` octets of data."""

    def __init__(self, request_max, block_max):
        if block_max < 1:
            raise ValueError("block_max must be at least 1")
        self.request_max = request_max
        self.block_max = block_max
        self.reset()

    def reset(self):
        """Drop the exchange in progress."""
        self._rx = None         # request octets received so far (None: not receiving)
        self._rx_bn = -1        # the client's last block number (-1: no exchange)
        self._tx = None         # the response being sent (None: not sending)
        self._tx_pos = 0        # octets of it sent up to and including the last block
        self._tx_prev = 0       # octets sent before the last block
        self._bn = 0            # our last block number in this exchange

    def receive(self, apdu):
        """Take one GBT APDU from the client: (complete request or None, our answer or None).
        Exactly one of them is not None. GbtError drops the exchange."""
        try:
            return self._receive(apdu)
        except GbtError:
            self.reset()
            raise

    def _receive(self, apdu):
        control, bn, ack, data = decode(apdu)
        if control & STREAMING:
            raise GbtError("streaming not supported")
        if self._tx is not None:
            if not data:
                self._rx_bn = bn
                return None, self._resend(ack)
            self.reset()
        if self._rx is None:
            if not data:
                raise GbtError("no transfer in progress")
            self._rx = bytearray()
            self._bn = 0
        elif bn != (self._rx_bn + 1) & _U16:
            raise GbtError("block number out of sequence")
        self._rx_bn = bn
        if len(self._rx) + len(data) > self.request_max:
            raise GbtError("request too long")
        self._rx += data
        if not control & LAST:
            self._bn += 1
            return None, encode(1, self._bn, bn, b"")
        request = bytes(self._rx)
        self._rx = None
        return request, None

    def send(self, response):
        """The first block of our `response` to the request receive() completed."""
        self._tx = bytes(response)
        self._tx_pos = 0
        return self._block()

    def _block(self):
        start = self._tx_pos
        end = min(start + self.block_max, len(self._tx))
        self._tx_prev = start
        self._tx_pos = end
        self._bn += 1
        last = end == len(self._tx)
        out = encode(LAST | 1 if last else 1, self._bn, self._rx_bn & _U16,
                     memoryview(self._tx)[start:end])
        if last:
            self._tx = None
        return out

    def _resend(self, ack):
        if ack == self._bn:
            return self._block()
        if ack == (self._bn - 1) & _U16:
            # Our last block was lost: send it again under its number.
            self._tx_pos = self._tx_prev
            self._bn -= 1
            return self._block()
        raise GbtError("acknowledgement of a block never sent")
