"""Server-side xDLMS block transfer: GET with datablocks (streamed) and SET with datablocks.

LongGet streams one GET answer whose encoded `Data` may be far larger than RAM allows: the source
is read chunk by chunk straight into the response buffer, so a large profile is never built whole.
A source is any of:

* bytes-like: the whole encoding;
* an object with ``readinto(buf) -> n`` or a callable ``fill(buf) -> n``, returning 0 at the end;
* an iterator (e.g. a generator) of bytes-like pieces, such as data_chunks(data) or the
  chunks() of a lazily produced array (profile buffer, object_list).

A source may raise xdlms.AccessError to end the transfer with that Data-Access-Result; any
other exception from it ends the transfer and propagates.

LongSet reassembles Set-Request-With-(First-)Datablock into one preallocated buffer of a fixed
size limit. Both keep per-association state: call abort() on any other request and when the
association ends.
"""
from dlms import axdr, xdlms

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_NORMAL_HEAD = const(4)      # C4 01 iip 00
_LIST_HEAD = const(3)        # C4 03 iip (the raw data starts with the result count)
_MIN_PDU = const(11)         # a 10-octet block header and one raw-data octet


def block_payload(max_pdu):
    """Largest raw-data length of a Get-Response-With-Datablock that fits in max_pdu octets."""
    n = max_pdu - 10
    while n > 0 and xdlms.get_block_header_size(n) + n > max_pdu:
        n -= 1
    return n


class _Chunks:
    """readinto() over an iterator of bytes-like pieces, keeping the unread rest of a piece."""

    def __init__(self, it):
        self._it = it
        self._piece = None
        self._pos = 0

    def readinto(self, buf):
        n = 0
        room = len(buf)
        while n < room:
            piece = self._piece
            if piece is None:
                try:
                    piece = memoryview(next(self._it))
                except StopIteration:
                    break
                self._piece = piece
                self._pos = 0
            p = self._pos
            k = min(room - n, len(piece) - p)
            buf[n:n + k] = piece[p:p + k]
            n += k
            if p + k == len(piece):
                self._piece = None
            else:
                self._pos = p + k
        return n

    def close(self):
        close = getattr(self._it, "close", None)
        if close is not None:
            close()


def _reader(source):
    """(readinto callable, close callable or None) for any accepted source."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        chunks = _Chunks(iter((source,)))
        return chunks.readinto, None
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        return readinto, None
    if callable(source):
        return source, None
    chunks = _Chunks(iter(source))
    return chunks.readinto, chunks.close


class LongGet:
    """GET answer producer: Get-Response-Normal when the Data fits, else numbered datablocks.

    max_pdu: the client's max receive PDU size less any ciphering overhead. Every response is a
    memoryview into one preallocated buffer, valid until the next call.
    """

    def __init__(self, max_pdu):
        if max_pdu < _MIN_PDU:
            raise ValueError("max_pdu too small for block transfer")
        self.max_pdu = max_pdu
        self._payload = block_payload(max_pdu)
        # The Data region starts after the largest block header; the normal-form headers are
        # shorter and sit right before it too.
        self._h = xdlms.get_block_header_size(self._payload)
        # Room for a whole normal-form answer plus one look-ahead octet.
        self._buf = bytearray(self._h + max_pdu - _LIST_HEAD + 1)
        self._mv = memoryview(self._buf)
        self._read = None
        self._close = None
        self._held = 0      # Data octets in the region, from offset _h
        self._sent = 0      # of which the last response carried the first _sent
        self._block = 0     # number of the last block sent

    @property
    def active(self):
        """True while a block transfer waits for Get-Request-Next."""
        return self._read is not None

    def abort(self):
        """Drop the transfer in progress (a new request arrived or the association ended)."""
        close = self._close
        self._read = None
        self._close = None
        self._held = self._sent = self._block = 0
        if close is not None:
            close()

    def start(self, iip, source, with_list=False):
        """Answer a Get-Request-Normal (or -With-List, then the source yields the encoded
        SEQUENCE OF Get-Data-Result, see results_chunks): the normal response or block 1."""
        self.abort()
        self._read, self._close = _reader(source)
        head = _LIST_HEAD if with_list else _NORMAL_HEAD
        cap = self.max_pdu - head
        try:
            n = self._fill(0, cap + 1)
        except xdlms.AccessError as e:
            self.abort()
            return self._mv[:xdlms.get_response_normal(self._buf, 0, iip, e.result)]
        except Exception:
            self.abort()
            raise
        if n == 0:
            self.abort()
            raise ValueError("source produced no Data")
        if n <= cap:
            self.abort()
            p = self._h - head
            xdlms.get_response_header(self._buf, p, iip, with_list)
            return self._mv[p:self._h + n]
        self._held = n
        return self._send(iip)

    def next(self, iip, block_number):
        """Answer a Get-Request-Next that acknowledges block_number."""
        if self._read is None:
            return self._error(iip, block_number, xdlms.NO_LONG_GET_IN_PROGRESS)
        if block_number != self._block:
            expected = self._block
            self.abort()
            return self._error(iip, expected, xdlms.DATA_BLOCK_NUMBER_INVALID)
        # Move the unsent rest (a few octets) to the front of the Data region; a forward byte
        # loop is safe for the overlapping ranges.
        buf = self._buf
        src = self._h + self._sent
        dst = self._h
        for k in range(self._held - self._sent):
            buf[dst + k] = buf[src + k]
        self._held -= self._sent
        self._sent = 0
        return self._send(iip)

    def _send(self, iip):
        payload = self._payload
        block = self._block + 1
        if self._held <= payload:
            try:
                self._held += self._fill(self._held, payload + 1 - self._held)
            except xdlms.AccessError as e:
                self.abort()
                return self._error(iip, block, e.result)
            except Exception:
                self.abort()
                raise
        n = min(self._held, payload)
        last = self._held <= payload
        p = self._h - xdlms.get_block_header_size(n)
        xdlms.get_block_header(self._buf, p, iip, last, block, n)
        out = self._mv[p:self._h + n]
        if last:
            self.abort()
        else:
            self._block = block
            self._sent = n
        return out

    def _fill(self, pos, want):
        """Read up to want octets to Data offset pos; fewer only at the end of the source."""
        mv = self._mv
        start = self._h + pos
        end = start + want
        p = start
        read = self._read
        while p < end:
            k = read(mv[p:end])
            if not k:
                break
            p += k
        return p - start

    def _error(self, iip, block_number, dar):
        n = xdlms.get_response_block(self._buf, 0, iip, True, block_number, dar)
        return self._mv[:n]


class LongSet:
    """Reassembly of SET-Request-With-(List-And-)First-Datablock + SET-Request-With-Datablock.

    limit: the largest reassembled value accepted (octets), allocated once.
    """

    def __init__(self, limit):
        self._buf = bytearray(limit)
        self.attributes = None   # the Attribute descriptors of the SET in progress
        self.with_list = False
        self._n = 0
        self._block = 0

    @property
    def active(self):
        """True while a long SET waits for more blocks."""
        return self.attributes is not None

    def abort(self):
        """Drop the SET in progress."""
        self.attributes = None
        self.with_list = False
        self._n = self._block = 0

    def feed(self, request):
        """Take a SetFirstBlock or SetBlock request.

        Returns the APDU to send (block acknowledgement or error), or None once the last block
        arrived: then call values(), apply them, and answer with finish(results).
        """
        iip = request.iip
        if isinstance(request, xdlms.SetFirstBlock):
            self.abort()
            self.with_list = request.with_list
            if request.block_number != 1:
                return self._error(iip, xdlms.DATA_BLOCK_NUMBER_INVALID, request.block_number,
                                   len(request.attributes))
            self.attributes = request.attributes
        elif self.attributes is None:
            return self._error(iip, xdlms.NO_LONG_SET_IN_PROGRESS, request.block_number, 1)
        elif request.block_number != self._block + 1:
            return self._error(iip, xdlms.DATA_BLOCK_NUMBER_INVALID, request.block_number,
                               len(self.attributes))
        raw = request.raw
        n = self._n
        if n + len(raw) > len(self._buf):
            return self._error(iip, xdlms.LONG_SET_ABORTED, request.block_number,
                               len(self.attributes))
        self._buf[n:n + len(raw)] = raw
        self._n = n + len(raw)
        self._block = request.block_number
        if request.last:
            return None
        return xdlms.build(xdlms.set_response_datablock, iip, self._block)

    def values(self):
        """The reassembled values: a list with one Data per attribute.

        Raises xdlms.AccessError(type-unmatched) when the octets are not the expected Data.
        """
        data = memoryview(self._buf)[:self._n]
        try:
            if not self.with_list:
                return [axdr.decode_all(data)]
            count, pos = axdr.decode_length(data, 0)
            if count != len(self.attributes):
                raise xdlms.AccessError("value count differs from attribute count",
                                        xdlms.TYPE_UNMATCHED)
            values = []
            for _ in range(count):
                value, pos = axdr.decode(data, pos)
                values.append(value)
            if pos != len(data):
                raise xdlms.AccessError("trailing bytes", xdlms.TYPE_UNMATCHED)
            return values
        except axdr.DecodeError:
            raise xdlms.AccessError("bad Data", xdlms.TYPE_UNMATCHED)

    def finish(self, iip, results):
        """Set-Response-Last-Datablock(-With-List) with one DAR per attribute; ends the SET."""
        block = self._block
        with_list = self.with_list
        self.abort()
        if with_list:
            return xdlms.build(xdlms.set_response_last_datablock_with_list, iip, results, block)
        return xdlms.build(xdlms.set_response_last_datablock, iip, results[0], block)

    def _error(self, iip, dar, block_number, count):
        with_list = self.with_list
        self.abort()
        if with_list:
            return xdlms.build(xdlms.set_response_last_datablock_with_list, iip, [dar] * count,
                               block_number)
        return xdlms.build(xdlms.set_response_last_datablock, iip, dar, block_number)


# ---------------------------------------------------------------- lazy A-XDR sources

def _container_head(tag, count):
    head = bytearray(1 + axdr.length_size(count))
    head[0] = tag
    axdr.encode_length(head, 1, count)
    return head


def data_chunks(data):
    """Yield the A-XDR encoding of a Data tuple in pieces, one per simple element."""
    tag, value = data
    if tag == axdr.ARRAY or tag == axdr.STRUCTURE:
        yield _container_head(tag, len(value))
        for item in value:
            yield from data_chunks(item)
    else:
        yield axdr.encode(data)


def results_chunks(results):
    """Yield the SEQUENCE OF Get-Data-Result of a Get-Response-With-List (LongGet with_list)."""
    head = bytearray(axdr.length_size(len(results)))
    axdr.encode_length(head, 0, len(results))
    yield head
    for r in results:
        yield xdlms.build(xdlms.get_data_result, r)
