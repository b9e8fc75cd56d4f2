"""The object registry of one logical device (Model) and its associations (View).

`Model(rows, clients, sources)` validates a declarative table once: each row is
(logical name as OBIS text or 6 octets, interface class, binding, argument, access specs with
one entry per client, see `cosem.access`). Objects are kept sorted by logical name (binary
search; the object_list follows that order).

`model.associate(client_sap, ...)` opens a View, the server side of one application
association; the protocol layer serves every request of that association through it:

    obj = view.find(class_id, logical_name)           # ObjectUndefined / ClassInconsistent
    data = view.get(obj, attribute_id, selector=None, parameters=None)
    view.set(obj, attribute_id, data, selector=None, parameters=None)
    result, data = view.action(obj, method_id, parameters=None)

get and set raise `cosem.errors.AccessError` subclasses whose `result` is the
Data-Access-Result; action returns the Action-Result instead. A source may raise any
`dlms.xdlms.AccessError` (the base of the cosem ones) to choose the answer. get returns a Data
tuple, or a `dtype.LazyArray` for attributes streamed element by element (object_list, profile
buffers).
"""
from array import array

from dlms import axdr, xdlms
from cosem import access, association, dtype, errors, obis
from cosem.association import ASSOCIATED, ASSOCIATION_PENDING, NON_ASSOCIATED
from cosem.ic import ACC, IC
from runtime import log


class _Interner:
    """Distinct values of one column and their one-octet indices."""

    def __init__(self, what):
        self.what = what
        self.items = []
        self.index = {}

    def add(self, value):
        i = self.index.get(value)
        if i is None:
            i = len(self.items)
            if i > 255:
                raise ValueError("more than 256 distinct " + self.what)
            self.items.append(value)
            self.index[value] = i
        return i


def _split(bind):
    """(prefix, suffix) of a binding name, split at its last dot so that families of names
    ("energy.A+.t1" ... "energy.A+.t8") share both parts."""
    if bind is None:
        return None, ""
    k = bind.rfind(".")
    if k <= 0:
        return bind, ""
    return bind[:k], bind[k:]


class Model:
    """The objects of the meter, the clients that may associate, and the sources.

    Storage is columnar to keep RAM per object small and the heap unfragmented: the logical
    names in one bytearray (6 octets each), five one-octet indices per object into shared tables
    of the distinct classes, binding prefixes and suffixes, arguments and access profiles, and a
    permutation (array of u16) that orders the objects by logical name. `count`, the number of
    rows when known, lets both arrays be allocated once. A row tuple
    (ln, class, binding, argument, profile) is rebuilt on demand by `row(i)`."""

    def __init__(self, rows, clients, sources, server_sap=1, count=None):
        self.clients = tuple(clients)
        self.sources = sources
        self.server_sap = server_sap
        nclients = len(self.clients)
        cache = {}
        cols = (_Interner("classes"), _Interner("binding prefixes"),
                _Interner("binding suffixes"), _Interner("arguments"), _Interner("profiles"))
        lns = bytearray(6 * count) if count else bytearray()
        index = bytearray(5 * count) if count else bytearray()
        n = 0
        for r in rows:
            ln, cls, bind, arg, specs = r
            ln = obis.parse(ln) if isinstance(ln, str) else bytes(ln)
            if len(ln) != 6:
                raise ValueError("logical name must be 6 octets")
            if len(specs) != nclients:
                raise ValueError("object %s: one access spec per client" % obis.text(ln))
            try:
                cls.check_row(bind, arg)
                prof = access.profile(cls, tuple(specs), cache)
            except ValueError as e:
                raise ValueError("object %s: %s" % (obis.text(ln), e))
            prefix, suffix = _split(bind)
            cells = bytes((cols[0].add(cls), cols[1].add(prefix), cols[2].add(suffix),
                           cols[3].add(arg), cols[4].add(prof)))
            if count:
                if n == count:
                    raise ValueError("more rows than counted")
                lns[6 * n:6 * n + 6] = ln
                index[5 * n:5 * n + 5] = cells
            else:
                lns += ln
                index += cells
            n += 1
        if count and n != count:
            raise ValueError("fewer rows than counted")
        self._lns = lns
        self._index = index
        self.size = n
        self._order = self._sort()
        self._classes, self._prefixes, self._suffixes, self._args, self._profiles = (
            tuple(c.items) for c in cols)
        self.counts = [sum(1 for p in self._object_profiles() if p[ci] is not None)
                       for ci in range(nclients)]
        self.open = [0] * nclients       # associated Views per client

    def _ln(self, i):
        return self._lns[6 * i:6 * i + 6]

    def _search(self, order, n, ln):
        """(found, position) of ln among the first n objects of order."""
        lo = 0
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            key = self._ln(order[mid])
            if key == ln:
                return True, mid
            if key < ln:
                lo = mid + 1
            else:
                hi = mid
        return False, lo

    def _sort(self):
        # Binary insertion sort of a u16 permutation: shifts move ints, nothing is allocated
        # per step but the keys compared.
        order = array("H", range(self.size))
        for i in range(self.size):
            ln = self._ln(i)
            found, k = self._search(order, i, ln)
            if found:
                raise ValueError("duplicate logical name " + obis.text(ln))
            for j in range(i, k, -1):
                order[j] = order[j - 1]
            order[k] = i
        return order

    def _object_profiles(self):
        x = self._index
        for i in range(self.size):
            yield self._profiles[x[5 * i + 4]]

    def client_index(self, sap):
        """Index of the client with this SAP; KeyError if the server has none."""
        for i in range(len(self.clients)):
            if self.clients[i].sap == sap:
                return i
        raise KeyError(sap)

    def row(self, pos):
        """Row tuple (ln, class, binding, argument, profile) of the object at position pos in
        logical name order."""
        i = self._order[pos]
        k = 5 * i
        x = self._index
        prefix = self._prefixes[x[k + 1]]
        return (bytes(self._ln(i)), self._classes[x[k]],
                None if prefix is None else prefix + self._suffixes[x[k + 2]],
                self._args[x[k + 3]], self._profiles[x[k + 4]])

    def rows(self):
        """Every row, in logical name order."""
        for i in range(self.size):
            yield self.row(i)

    def lookup(self, ln):
        """The row with this logical name, or None."""
        found, pos = self._search(self._order, self.size, ln)
        return self.row(pos) if found else None

    def visible(self, ci):
        """Rows client index ci sees (has any access rights for), in logical name order."""
        x = self._index
        for pos in range(self.size):
            if self._profiles[x[5 * self._order[pos] + 4]][ci] is not None:
                yield self.row(pos)

    def object_list(self, ci):
        """LazyArray of the object_list of client index ci."""
        return association.object_list(self.visible(ci), ci, self.counts[ci])

    def source_names(self):
        """Sorted names of every source the objects use (to check the wiring of the sources)."""
        names = set()
        for row in self.rows():
            for name in row[IC].source_names(row):
                names.add(name)
        return sorted(names)

    def associate(self, client_sap, conformance=None, max_receive_pdu=None, max_send_pdu=None,
                  dlms_version=association.DLMS_VERSION, hls=None):
        """Open the association of a client (KeyError for an unknown SAP).

        conformance: the negotiated conformance (default: the client's offer); max_receive_pdu:
        the server's; max_send_pdu: the client's max receive PDU size. hls: the HLS pass 3/4
        check, f(client's f(StoC)) -> the server's f(CtoS) bytes, or None if it fails. The
        association is pending until then for HLS clients, associated at once for the others."""
        ci = self.client_index(client_sap)
        c = self.clients[ci]
        view = View(self, ci, c.conformance if conformance is None else conformance,
                    c.max_pdu if max_receive_pdu is None else max_receive_pdu,
                    c.max_pdu if max_send_pdu is None else max_send_pdu, dlms_version, hls)
        if c.needs_hls():
            view.status = ASSOCIATION_PENDING
        else:
            view._associated()
        return view


class View:
    """One application association: what its client sees and may do.

    `secured` is set by the security layer before each request: True when the request APDU
    was authenticated; access modes "authenticated_*" need it."""

    def __init__(self, model, ci, conformance, max_receive_pdu, max_send_pdu, dlms_version, hls):
        self.model = model
        self.ci = ci
        self.client = model.clients[ci]
        self.conformance = conformance
        self.max_receive_pdu = max_receive_pdu
        self.max_send_pdu = max_send_pdu
        self.dlms_version = dlms_version
        self.status = NON_ASSOCIATED
        self.secured = False
        self._hls = hls

    def _associated(self):
        self.status = ASSOCIATED
        self.model.open[self.ci] += 1

    def release(self):
        """End the association (RLRQ, link closed): every later request is refused."""
        if self.status == ASSOCIATED:
            self.model.open[self.ci] -= 1
        self.status = NON_ASSOCIATED

    # -- requests ------------------------------------------------------------------------------

    def find(self, class_id, ln):
        """The row of object (class_id, logical name) as this client sees it."""
        row = self.model.lookup(bytes(ln))
        if row is None or row[ACC][self.ci] is None:
            raise errors.ObjectUndefined("no such object")
        if row[IC].CLASS_ID != class_id:
            raise errors.ClassInconsistent("object has another class")
        return row

    def _ready(self):
        if self.status != ASSOCIATED:
            raise errors.ReadWriteDenied("association not established")

    def get(self, obj, attr_id, selector=None, params=None):
        """Value of an attribute: a Data tuple, or a LazyArray for streamed attributes."""
        self._ready()
        cls = obj[IC]
        cls.attr(attr_id)
        if cls.secret(attr_id):
            raise errors.ReadWriteDenied("attribute is never readable")
        access.check_read(obj[ACC][self.ci][0][attr_id - 1], self.secured)
        if selector is not None and selector not in cls.selectors(attr_id):
            raise errors.ScopeViolated("selective access not supported")
        return cls.get(self, obj, attr_id, selector, params)

    def set(self, obj, attr_id, data, selector=None, params=None):
        """Write an attribute; the value is type-checked before anything changes."""
        self._ready()
        cls = obj[IC]
        cls.attr(attr_id)
        if not cls.writable(attr_id):
            raise errors.ReadWriteDenied("attribute is read-only")
        access.check_write(obj[ACC][self.ci][0][attr_id - 1], self.secured)
        if selector is not None:
            raise errors.ScopeViolated("selective access not supported on SET")
        dtype.check(cls.attr_type(obj, attr_id), data)
        cls.set(self, obj, attr_id, data)

    def action(self, obj, method_id, params=None):
        """Invoke a method: (Action-Result, return Data or None)."""
        try:
            cls = obj[IC]
            entry = cls.method(method_id)
            if self.status != ASSOCIATED and not (
                    self.status == ASSOCIATION_PENDING and cls is association.AssociationLN
                    and method_id == 1):
                raise errors.ReadWriteDenied("association not established")
            access.check_method(obj[ACC][self.ci][1][method_id - 1], self.secured)
            if entry[1] is not None:
                if params is None:
                    raise errors.TypeUnmatched("method needs a parameter")
                dtype.check(entry[1], params)
            elif params is not None:
                dtype.check(None, params)
            return errors.SUCCESS, cls.invoke(self, obj, method_id, params)
        except xdlms.AccessError as e:
            return e.result, None

    def reply_hls(self, f_stoc):
        """HLS pass 3 check (reply_to_HLS_authentication): associate, and return the server's
        answer as Data; a failed check leaves the association non-associated."""
        if self.status != ASSOCIATION_PENDING or self._hls is None:
            raise errors.ReadWriteDenied("no HLS authentication pending")
        try:
            answer = self._hls(f_stoc)
        except errors.AccessError:
            self.status = NON_ASSOCIATED
            raise
        except Exception as e:
            self.failed("hls", e)
            answer = None
        if answer is None:
            self.status = NON_ASSOCIATED
            raise errors.ReadWriteDenied("HLS authentication failed")
        self._associated()
        return axdr.OCTET_STRING, bytes(answer)

    # -- bindings ------------------------------------------------------------------------------

    def failed(self, name, e):
        """Log a binding that failed unexpectedly (its answer is temporary-failure)."""
        log.warning("cosem: source %s failed: %s %s", name, type(e).__name__, e)

    def read(self, name, optional=False):
        """Read a source; optional: a source that does not exist reads 0."""
        try:
            return self.model.sources.read(name)
        except xdlms.AccessError:
            raise
        except KeyError as e:
            if optional:
                return 0
            self.failed(name, e)
        except Exception as e:
            self.failed(name, e)
        raise errors.TemporaryFailure("source failed")

    def write(self, name, value):
        """Write a source."""
        try:
            self.model.sources.write(name, value)
            return
        except xdlms.AccessError:
            raise
        except ValueError:
            raise errors.OtherReason("value refused")
        except Exception as e:
            self.failed(name, e)
        raise errors.TemporaryFailure("source failed")

    def call(self, name, argument):
        """Call a source action; its Data result or None."""
        try:
            return self.model.sources.call(name, argument)
        except xdlms.AccessError:
            raise
        except ValueError:
            raise errors.OtherReason("parameter refused")
        except Exception as e:
            self.failed(name, e)
        raise errors.TemporaryFailure("source failed")
