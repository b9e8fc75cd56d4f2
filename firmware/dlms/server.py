"""The COSEM application layer of one logical device, sans-IO: request APDU in, response APDU out.

`Server(model, title, keys)` is shared by every transport; each connection (a TCP connection, an
HDLC link) owns a `Connection`:

    conn = server.connection()
    rsp = conn.handle(client_sap, apdu)    # bytes to send, or None: nothing to answer
    conn.close()                           # the link or the connection went away

Association policy comes from the model's clients (`cosem.association.Client`): the AARQ must
name the client's application context and mechanism. Mechanism none associates at once;
HLS-GMAC (5) leaves the association pending until the client's reply_to_HLS_authentication
succeeds. A ciphered context needs a key set for that client (`keys`); its requests must then be
glo- or general-glo-ciphered with at least the protection of `policy` (the HLS reply of a pending
association may also come plain), and each answer uses the protection form of its request. A
dedicated key in the (glo-ciphered) InitiateRequest lets the association's requests also come
ded- or general-ded-ciphered under it; glo-ciphering stays accepted. A request carried in
general block transfer (dlms.gbt, window 1) is reassembled, handled as if it came alone, and
answered in GBT blocks.

Failed authentications (a wrong f(StoC), an AARQ whose CtoS or glo-initiateRequest does not
check, a request with a bad GCM tag) are reported to the Server's `guard`, which may then refuse
that client's AARQs for a while. `Server.on_event(code)`, when set, hears the security events of
the meter's logs: 46 (authentication failures) or 49 (decryption failures) when a client's
failures reach the guard's limit, 50 (replayed invocation counter) once per client until it
authenticates again. `Server.rekey` replaces a key set for new associations.

Requests outside an association: a confirmed xDLMS request gets the ExceptionResponse
service-not-allowed / operation-not-possible, an unconfirmed one no answer; an RLRQ gets a
normal RLRE. Anything the server cannot parse gets an ExceptionResponse, never silence, except
an unknown first octet of an ACSE-looking APDU (no answer, as the ACSE decoder says).
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from os import urandom

from cosem.dtype import LazyArray
from dlms import acse, axdr, blocks, gbt, initiate, security, xdlms

_STOC_SIZE = const(16)
_CTOS_MIN = const(8)
_CTOS_MAX = const(64)
_TITLE_SIZE = const(8)
# Largest reassembled long SET value accepted per connection.
_LONG_SET_LIMIT = const(2048)
# Envelope and security overhead of a ciphered answer: general-glo header (1 + 1 + 8), length
# (up to 3), SC + IC (5) and tag (12).
_CIPHER_OVERHEAD = const(29)
_GLO_INITIATE_RESPONSE = const(0x28)
# Objects a connection remembers having found (the model's lookup rebuilds a row each time).
_FOUND_MAX = const(16)
_NORMAL_HEAD = const(4)         # C4 01 iip 00 in front of the Data of a Get-Response-Normal
# Security events (fraud detection log).
_EVENT_AUTHENTICATION = const(46)
_EVENT_DECRYPTION = const(49)
_EVENT_REPLAY = const(50)


# Conformance bits each request needs (a request for a service not negotiated is answered
# ExceptionResponse service-not-allowed / service-not-supported and changes nothing).
_NEED_GET = initiate.GET
_NEED_SELECTIVE = initiate.SELECTIVE_ACCESS
_NEED_NEXT = initiate.GET | initiate.BLOCK_TRANSFER_WITH_GET_OR_READ
_NEED_GET_LIST = initiate.GET | initiate.MULTIPLE_REFERENCES
_NEED_SET = initiate.SET
_NEED_SET_LIST = initiate.SET | initiate.MULTIPLE_REFERENCES
_NEED_SET_BLOCK = initiate.SET | initiate.BLOCK_TRANSFER_WITH_SET_OR_WRITE
_NEED_ACTION = initiate.ACTION


def _selective(attributes):
    for a in attributes:
        if a.selector is not None:
            return _NEED_SELECTIVE
    return 0


def _needs(req):
    """The conformance bits a decoded request needs."""
    if isinstance(req, xdlms.GetNormal):
        return _NEED_GET if req.attribute.selector is None else _NEED_GET | _NEED_SELECTIVE
    if isinstance(req, xdlms.GetNext):
        return _NEED_NEXT
    if isinstance(req, xdlms.GetWithList):
        return _NEED_GET_LIST | _selective(req.attributes)
    if isinstance(req, xdlms.SetNormal):
        return _NEED_SET | _selective((req.attribute,))
    if isinstance(req, xdlms.SetWithList):
        return _NEED_SET_LIST | _selective(req.attributes)
    if isinstance(req, xdlms.SetFirstBlock):
        need = _NEED_SET_BLOCK | _selective(req.attributes)
        return need | _NEED_SET_LIST if req.with_list else need
    if isinstance(req, xdlms.SetBlock):
        return _NEED_SET_BLOCK
    return _NEED_ACTION


def _exception(state, service, ic=None):
    return xdlms.build(xdlms.exception_response, state, service, ic)


def _not_allowed():
    return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_OPERATION_NOT_POSSIBLE)


def _ciphered_tags():
    # One octet per APDU tag, 1 for the glo-/ded-/general- ciphered ones: the check of every
    # request is then a lookup, not a FormatError caught for each plain one.
    table = bytearray(256)
    for tag in range(256):
        try:
            security.plain_tag(tag)
        except security.FormatError:
            continue
        table[tag] = 1
    table[security.GENERAL_GLO] = table[security.GENERAL_DED] = 1
    return bytes(table)


_CIPHERED_TAGS = _ciphered_tags()


def _confirmed(apdu):
    # Outside an association only a plain GET/SET/ACTION can say it is unconfirmed.
    tag = apdu[0]
    if tag in (xdlms.GET_REQUEST, xdlms.SET_REQUEST, xdlms.ACTION_REQUEST) and len(apdu) > 2:
        return apdu[2] & xdlms.IIP_CONFIRMED
    return True


class Server:
    """Application layer shared by every connection of one logical device.

    model: the `cosem.objects.Model`; title: our 8-octet system title; keys: {client SAP: (EK,
    AK)} for the clients with a ciphered context; policy: SC bits every ciphered request must
    carry (default authenticated and encrypted). `suites[sap]` is the `security.Suite0` of each
    keyed client, shared by its connections and by the clients with the same keys (its
    invocation counters are the owner's to load and save). `guard` (optional, see
    runtime.auth_guard) hears of every failed and successful authentication and may refuse a
    client's AARQs: AARE rejected-transient, authentication-failure."""

    def __init__(self, model, title, keys=None, policy=security.SC_AUTH_ENC, random=urandom,
                 guard=None):
        if len(title) != _TITLE_SIZE:
            raise ValueError("system title must be 8 octets")
        self.model = model
        self.title = bytes(title)
        self.policy = policy
        self.random = random
        self.guard = guard
        self.on_event = None
        self._replayed = set()      # client SAPs whose replay event was raised
        self.suites = {}
        self.keys = {}          # client SAP -> (EK, AK) in use for new associations
        # Clients sharing a key set share one Suite0: one invocation counter per key, so that
        # no IV (our title + counter) is ever used twice under a key.
        by_key = {}
        capacity = max(c.max_pdu for c in model.clients) + _CIPHER_OVERHEAD
        # A GET answer that fits in one APDU is built here; connections are served one at a
        # time and each answer is copied out before the next request.
        self.answer = memoryview(bytearray(capacity))
        for sap, (ek, ak) in (keys or {}).items():
            model.client_index(sap)
            self.keys[sap] = (bytes(ek), bytes(ak))
            key = bytes(ek) + bytes(ak)
            suite = by_key.get(key)
            if suite is None:
                suite = by_key[key] = security.Suite0(ek, ak, self.title, capacity)
            self.suites[sap] = suite

    def connection(self):
        """State of one new transport connection."""
        return Connection(self)

    def rekey(self, sap, ek, ak):
        """Give client `sap`, and every client sharing its key set, the keys (EK, AK) for their
        next associations; return the new Suite0. Associations open now keep the old suite to
        their end. The new suite continues the old one's counters and NV reservation (`on_limit`
        and its limits), so counters never go back, whichever key they run under."""
        old = self.suites[sap]
        new = security.Suite0(ek, ak, self.title, old.capacity)
        new.tx_ic, new.rx_ic = old.tx_ic, old.rx_ic
        new.tx_limit, new.rx_limit, new.on_limit = old.tx_limit, old.rx_limit, old.on_limit
        for s in list(self.suites):
            if self.suites[s] is old:
                self.suites[s] = new
                self.keys[s] = (bytes(ek), bytes(ak))
        return new

    def _event(self, code):
        if self.on_event is not None:
            self.on_event(code)

    def _failed(self, sap, reason, code=_EVENT_AUTHENTICATION):
        if self.guard is not None and self.guard.failed(sap, reason):
            self._event(code)

    def _replay(self, sap):
        # One event per client until it authenticates again: a flood of replays must not
        # push everything else out of the log.
        if sap not in self._replayed:
            self._replayed.add(sap)
            self._event(_EVENT_REPLAY)

    def _succeeded(self, sap):
        self._replayed.discard(sap)
        if self.guard is not None:
            self.guard.succeeded(sap)


class Connection:
    """The association of one transport connection and its service state (block transfers)."""

    def __init__(self, server):
        self.server = server
        self.view = None            # cosem View of the association, None when not associated
        self.sap = None
        self.client = None
        self.suite = None
        self.ded = None             # Suite0 of the association's dedicated key, if it has one
        self.peer_title = None
        self._ctos = None
        self._stoc = None
        self._rx_before = -1        # the last accepted counter before the current request
        self._get = None
        self._answer = None
        self._set = None
        self._found = {}            # (class_id, logical name) -> row found in this association
        self._gbt = None            # gbt.Transfer of the association, once it uses GBT
        self._gbt_block = 0         # block-data octets per GBT block we send
        self._gbt_get = None        # LongGet of the requests carried in GBT
        self._gbt_answer = None

    # -- entry points --------------------------------------------------------------------------

    def handle(self, sap, apdu):
        """Answer one request APDU from client `sap`: the response bytes, or None."""
        if len(apdu) == 0:
            return None
        tag = apdu[0]
        if tag == acse.AARQ:
            return self._aarq(sap, apdu)
        if tag == acse.RLRQ:
            return self._rlrq(apdu)
        if self.view is None or sap != self.sap:
            if not self._pre_establish(sap):
                return _not_allowed() if _confirmed(apdu) else None
        if tag == gbt.GBT:
            return self._general_block(sap, apdu)
        if _CIPHERED_TAGS[tag]:
            return self._protected(apdu)
        if self.client.context == acse.CONTEXT_LN_CIPHERED and not self._hls_reply(apdu):
            return _not_allowed()
        if self.suite is not None:
            self._rx_before = self.suite.rx_ic
        self.view.secured = False
        return self._service(apdu)

    def close(self):
        """End the association (the link or connection is gone)."""
        if self.view is not None:
            self.view.release()
        self.view = None
        self.sap = self.client = self.suite = self.ded = self.peer_title = None
        self._ctos = self._stoc = None
        self._found.clear()
        if self._get is not None:
            self._get.abort()
        if self._set is not None:
            self._set.abort()
        self._gbt = None
        if self._gbt_get is not None:
            self._gbt_get.abort()

    # -- association ---------------------------------------------------------------------------

    def _pre_establish(self, sap):
        # A pre-established client is associated by its first request.
        model = self.server.model
        try:
            c = model.clients[model.client_index(sap)]
        except KeyError:
            return False
        if not c.pre_established:
            return False
        self.close()
        suite = self.server.suites.get(sap)
        if c.context == acse.CONTEXT_LN_CIPHERED and suite is None:
            return False
        self._open(sap, c, suite, model.associate(sap), c.max_pdu)
        return True

    def _open(self, sap, client, suite, view, client_pdu):
        self.sap = sap
        self.client = client
        self.suite = suite
        self.view = view
        self._found.clear()
        room = min(client_pdu, client.max_pdu)
        # A GBT block is a plain APDU: only its header counts against the client's PDU.
        self._gbt_block = room - gbt.HEAD_MAX
        if suite is not None:
            room -= _CIPHER_OVERHEAD
        self._get = blocks.LongGet(room)
        # The shared answer buffer as long as one APDU of this association may be.
        self._answer = self.server.answer[:room]

    def _aarq(self, sap, apdu):
        self.close()
        try:
            req = acse.decode_aarq(apdu)
        except acse.ApduTypeError:
            return None
        except acse.AcseError as e:
            return acse.encode_aare(acse.CONTEXT_LN, e.result, e.diagnostic, e.source)
        model = self.server.model
        try:
            client = model.clients[model.client_index(sap)]
        except KeyError:
            return self._reject(req.context, acse.NO_REASON_GIVEN)
        guard = self.server.guard
        if guard is not None and guard.blocked_ms(sap):
            return acse.encode_aare(req.context, acse.REJECTED_TRANSIENT,
                                    acse.AUTHENTICATION_FAILURE)
        if req.context != client.context:
            return self._reject(req.context, acse.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
        if req.mechanism != client.mechanism:
            if req.mechanism == acse.MECHANISM_NONE:
                return self._reject(req.context, acse.AUTHENTICATION_MECHANISM_NAME_REQUIRED)
            return self._reject(req.context, acse.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
        suite = None
        if client.context == acse.CONTEXT_LN_CIPHERED or client.needs_hls():
            suite = self.server.suites.get(sap)
            if suite is None:
                return self._reject(req.context, acse.NO_REASON_GIVEN)
            title = req.calling_ap_title
            if title is None or len(title) != _TITLE_SIZE:
                return self._reject(req.context, acse.CALLING_AP_TITLE_NOT_RECOGNIZED)
            self.peer_title = title
        if client.needs_hls():
            ctos = req.auth_value
            if ctos is None or not _CTOS_MIN <= len(ctos) <= _CTOS_MAX:
                self.server._failed(sap, "AARQ without a valid CtoS")
                return self._reject(req.context, acse.AUTHENTICATION_FAILURE)
            self._ctos = ctos
        try:
            user_info = self._initiate_request(req, suite)
            init = initiate.decode_request(user_info)
            ctx = initiate.negotiate(init, client.conformance, client.max_pdu)
            ded = self._dedicated(sap, init.dedicated_key, req.ciphered, suite)
        except initiate.InitiateError as e:
            self.peer_title = self._ctos = None
            return acse.encode_aare(req.context, acse.REJECTED_PERMANENT, acse.NO_REASON_GIVEN,
                                    user_info=e.response())
        except security.ReplayError:
            self.peer_title = self._ctos = None
            self.server._replay(sap)
            self.server._failed(sap, "glo-initiateRequest replayed")
            return self._reject(req.context, acse.AUTHENTICATION_FAILURE)
        except security.SecurityError:
            self.peer_title = self._ctos = None
            self.server._failed(sap, "glo-initiateRequest does not decipher", _EVENT_DECRYPTION)
            return self._reject(req.context, acse.AUTHENTICATION_FAILURE)
        hls = client.needs_hls()
        view = model.associate(sap, ctx.conformance, ctx.server_max_pdu, ctx.client_max_pdu,
                               hls=self._hls_check if hls else None)
        self._open(sap, client, suite, view, ctx.client_max_pdu)
        self.ded = ded
        rsp = initiate.encode_response(ctx.conformance, ctx.server_max_pdu)
        if req.ciphered:
            rsp = bytes(suite.protect(self.server.policy, rsp, _GLO_INITIATE_RESPONSE))
        if not hls:
            self.server._succeeded(sap)
            return acse.encode_aare(req.context, acse.ACCEPTED, acse.NULL,
                                    ap_title=None if suite is None else self.server.title,
                                    user_info=rsp)
        self._stoc = bytes(self.server.random(_STOC_SIZE))
        return acse.encode_aare(req.context, acse.ACCEPTED, acse.AUTHENTICATION_REQUIRED,
                                ap_title=self.server.title, mechanism=req.mechanism,
                                auth_value=self._stoc, user_info=rsp)

    def _initiate_request(self, req, suite):
        # The plain InitiateRequest, deciphered when it came as a glo-initiateRequest.
        if not req.ciphered:
            return req.user_info
        if suite is None:
            raise initiate.InitiateError("ciphered initiate request in a plain context")
        tag, title, body = security.parse(req.user_info)
        return bytes(suite.unprotect(body, self.server.policy, self.peer_title))

    def _dedicated(self, sap, key, ciphered, suite):
        # The Suite0 of a dedicated key (None without one). The key may only come in a ciphered
        # InitiateRequest; our counters under it start where the global ones are, and the AK is
        # the client's.
        if key is None:
            return None
        if not ciphered:
            raise initiate.InitiateError("dedicated key in a plain InitiateRequest")
        if len(key) != 16:
            raise initiate.InitiateError("dedicated key must be 16 octets")
        ded = security.Suite0(key, self.server.keys[sap][1], self.server.title, suite.capacity)
        ded.tx_ic = suite.tx_ic
        ded.rx_ic = suite.rx_ic
        return ded

    def _reject(self, context, diagnostic):
        return acse.encode_aare(context, acse.REJECTED_PERMANENT, diagnostic)

    def _hls_check(self, f_stoc):
        # Pass 3 of HLS-GMAC: check the client's f(StoC), answer with our f(CtoS). Clients
        # (Gurux, dlms-cosem) compute f(StoC) under the same counter as the glo-action carrying
        # it, so f(StoC) is held against the counter accepted before that request.
        suite = self.suite
        after = suite.rx_ic
        suite.rx_ic = self._rx_before
        checked = False
        try:
            suite.hls_check(self._stoc, f_stoc, self.peer_title)
            checked = True
            return suite.hls_answer(self._ctos)
        except security.SecurityError:
            return None
        finally:
            suite.rx_ic = max(after, suite.rx_ic)
            self._stoc = None
            if checked:
                self.server._succeeded(self.sap)
            else:
                self.server._failed(self.sap, "wrong HLS f(StoC)")

    def _hls_reply(self, apdu):
        # A plain request in a ciphered context is accepted only as the pending HLS reply.
        return self._stoc is not None and len(apdu) > 1 and apdu[0] == xdlms.ACTION_REQUEST

    def _rlrq(self, apdu):
        try:
            acse.decode_rlrq(apdu)
        except acse.ApduTypeError:
            return None
        except acse.AcseError:
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_OTHER_REASON)
        self.close()
        return acse.encode_rlre(acse.RELEASE_NORMAL)

    # -- protection ----------------------------------------------------------------------------

    def _protected(self, apdu):
        suite = self.suite
        if suite is None:
            return _not_allowed()
        dedicated = False
        try:
            tag, title, body = security.parse(apdu)
            dedicated = tag == security.GENERAL_DED or (tag != security.GENERAL_GLO and
                                                        security.plain_tag(tag)[1])
            if dedicated:
                if self.ded is None:
                    raise security.FormatError("no dedicated key in this association")
                suite = self.ded
            if title is None:
                title = self.peer_title
            elif self.peer_title is None:
                title = bytes(title)      # a pre-established client names itself
            elif bytes(title) != self.peer_title:
                raise security.FormatError("system title of another client")
            self._rx_before = self.suite.rx_ic
            plain = bytes(suite.unprotect(body, self.server.policy, title))
        except security.ReplayError as e:
            self.server._replay(self.sap)
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED,
                              xdlms.SERVICE_INVOCATION_COUNTER_ERROR, e.last + 1)
        except security.AuthenticationError:
            self.server._failed(self.sap, "bad GCM tag", _EVENT_DECRYPTION)
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_DECIPHERING_ERROR)
        except security.SecurityError:
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_DECIPHERING_ERROR)
        sc = suite.rx_sc
        self.view.secured = bool(sc & security.SC_AUTH)
        rsp = self._service(plain)
        if rsp is None or rsp[0] == xdlms.EXCEPTION_RESPONSE:
            return rsp
        out_tag = tag if tag == security.GENERAL_GLO or tag == security.GENERAL_DED else \
            security.ciphered_tag(rsp[0], dedicated)
        try:
            return bytes(suite.protect(sc & security.SC_AUTH_ENC, rsp, out_tag))
        except security.SecurityError:
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_OTHER_REASON)

    # -- general block transfer ----------------------------------------------------------------

    def _general_block(self, sap, apdu):
        # A request in GBT blocks is reassembled and handled as if it came alone (ciphered or
        # not, checked as usual); its answer goes back in GBT blocks. Only requests that came
        # in GBT are answered in GBT.
        if not self.view.conformance & initiate.GENERAL_BLOCK_TRANSFER:
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_NOT_SUPPORTED)
        t = self._gbt
        if t is None:
            t = self._gbt = gbt.Transfer(len(self.server.answer), self._gbt_block)
        try:
            request, answer = t.receive(apdu)
        except gbt.GbtError:
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_OTHER_REASON)
        if request is None:
            return answer
        if request[0] == gbt.GBT or request[0] == acse.AARQ or request[0] == acse.RLRQ:
            # The association itself is opened and released outside GBT.
            t.reset()
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_OTHER_REASON)
        rsp = self._in_gbt(sap, request)
        if rsp is None:
            t.reset()
            return None
        return t.send(rsp)

    def _in_gbt(self, sap, request):
        # The answer of a request carried in GBT: a long GET answer may use the largest APDU
        # the server can cipher (the GBT blocks respect the client's PDU), and a longer one goes
        # on in GET datablocks, themselves carried in GBT. A long GET outside GBT is dropped.
        if self._gbt_get is None:
            room = len(self.server.answer) - _CIPHER_OVERHEAD
            self._gbt_get = blocks.LongGet(room)
            self._gbt_answer = self.server.answer[:room]
        plain_get, plain_answer = self._get, self._answer
        plain_get.abort()
        self._get, self._answer = self._gbt_get, self._gbt_answer
        try:
            return self.handle(sap, request)
        finally:
            self._get, self._answer = plain_get, plain_answer

    # -- xDLMS services ------------------------------------------------------------------------

    def _service(self, apdu):
        try:
            req = xdlms.decode_request(apdu, self.view.max_receive_pdu)
        except xdlms.ExceptionResponseError as e:
            self._abort()
            return e.response()
        except xdlms.RequestError as e:
            self._abort()
            return e.response()
        if _needs(req) & ~self.view.conformance:
            return _exception(xdlms.STATE_SERVICE_NOT_ALLOWED, xdlms.SERVICE_NOT_SUPPORTED)
        if isinstance(req, xdlms.GetNext):
            return self._next(req)
        if isinstance(req, (xdlms.SetFirstBlock, xdlms.SetBlock)):
            self._get.abort()
            return self._long_set(req)
        self._abort()
        if isinstance(req, xdlms.GetNormal):
            return self._get_normal(req)
        if isinstance(req, xdlms.GetWithList):
            return self._get_list(req)
        if isinstance(req, xdlms.SetNormal):
            return xdlms.build(xdlms.set_response_normal, req.iip,
                               self._set_one(req.attribute, req.value))
        if isinstance(req, xdlms.SetWithList):
            dars = [self._set_one(a, v) for a, v in zip(req.attributes, req.values)]
            return xdlms.build(xdlms.set_response_with_list, req.iip, dars)
        return self._action(req)

    def _abort(self):
        self._get.abort()
        if self._gbt_get is not None and self._gbt_get is not self._get:
            self._gbt_get.abort()
        if self._set is not None:
            self._set.abort()

    def _find(self, class_id, ln):
        # view.find, remembered per association: what a client sees of an object does not
        # change while it is associated. Only objects found are kept, at most _FOUND_MAX.
        key = (class_id, bytes(ln))
        obj = self._found.get(key)
        if obj is None:
            obj = self.view.find(class_id, ln)
            if len(self._found) >= _FOUND_MAX:
                self._found.clear()
            self._found[key] = obj
        return obj

    def _value(self, a):
        # Data tuple, LazyArray or an int Data-Access-Result for one attribute descriptor.
        try:
            obj = self._find(a.class_id, a.instance)
            return self.view.get(obj, a.attribute_id, a.selector, a.parameters)
        except xdlms.AccessError as e:
            return e.result

    def _get_normal(self, req):
        v = self._value(req.attribute)
        if isinstance(v, int):
            return xdlms.build(xdlms.get_response_normal, req.iip, v)
        if isinstance(v, LazyArray):
            return self._first_block(req.iip, v.chunks(), False)
        try:
            # Too long for one APDU of this association ("buffer full"): blocks below.
            n = axdr.encode_into(self._answer, _NORMAL_HEAD, v)
        except axdr.EncodeError:
            return self._first_block(req.iip, axdr.encode(v), False)
        buf = self._answer
        xdlms.get_response_header(buf, 0, req.iip)
        return bytes(buf[:n])

    def _get_list(self, req):
        results = []
        for a in req.attributes:
            v = self._value(a)
            results.append(v.data() if isinstance(v, LazyArray) else v)
        return self._first_block(req.iip, blocks.results_chunks(results), True)

    def _first_block(self, iip, source, with_list):
        try:
            return bytes(self._get.start(iip, source, with_list))
        except Exception:
            # A streamed source that fails before its first octet (a broken binding).
            return xdlms.build(xdlms.get_response_normal, iip, xdlms.TEMPORARY_FAILURE)

    def _next(self, req):
        try:
            return bytes(self._get.next(req.iip, req.block_number))
        except Exception:
            return xdlms.build(xdlms.get_response_block, req.iip, True, req.block_number + 1,
                               xdlms.LONG_GET_ABORTED)

    def _set_one(self, a, value):
        try:
            obj = self._find(a.class_id, a.instance)
            self.view.set(obj, a.attribute_id, value, a.selector, a.parameters)
            return xdlms.SUCCESS
        except xdlms.AccessError as e:
            return e.result

    def _long_set(self, req):
        if self._set is None:
            self._set = blocks.LongSet(_LONG_SET_LIMIT)
        rsp = self._set.feed(req)
        if rsp is not None:
            return rsp
        attributes = self._set.attributes
        try:
            values = self._set.values()
        except xdlms.AccessError as e:
            return self._set.finish(req.iip, [e.result] * len(attributes))
        return self._set.finish(req.iip, [self._set_one(a, v)
                                          for a, v in zip(attributes, values)])

    def _action(self, req):
        m = req.method
        try:
            obj = self._find(m.class_id, m.instance)
        except xdlms.AccessError as e:
            return xdlms.build(xdlms.action_response_normal, req.iip, e.result)
        result, data = self.view.action(obj, m.method_id, req.parameters)
        return xdlms.build(xdlms.action_response_normal, req.iip, result, data)
