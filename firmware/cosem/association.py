"""Class 15 Association LN (version 1) and the clients (associations) of the server.

Row argument: None for the current association (0-0:40.0.0: what the asking client sees of its
own association), or the index of a client for that client's instance (0-0:40.0.n: its
configuration). object_list (attribute 2) is generated from the object table and streamed
(a LazyArray); the encoding follows the Blue Book: array of structure {class_id long-unsigned,
version unsigned, logical_name octet-string, access_rights structure {array of structure
{attribute_id integer, access_mode enum, access_selectors null-data | array of integer},
array of structure {method_id integer, access_mode enum}}}.

reply_to_HLS_authentication (method 1) runs the `hls` check given to Model.associate; the secret
(attribute 7) is never readable, and writing it, like change_HLS_secret, goes to the source
`assoc.<client name>.secret` / `assoc.<client name>.change_HLS_secret`. cyphering_info in
xDLMS_context_info is always empty: a dedicated key is never readable.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from dlms import axdr
from cosem import dtype, errors, ic, obis
from cosem.ic import SECRET, W

NON_ASSOCIATED = const(0)
ASSOCIATION_PENDING = const(1)
ASSOCIATED = const(2)

# Application context ids (2.16.756.5.8.1.x) and authentication mechanism ids (2.16.756.5.8.2.x)
LN_NO_CIPHERING = const(1)
LN_CIPHERING = const(3)
MECHANISM_NONE = const(0)
MECHANISM_LLS = const(1)
MECHANISM_HLS_GMAC = const(5)

DLMS_VERSION = const(6)
_NO_REFERENCE = bytes(6)


class Client:
    """One client SAP of the server and the association it gets.

    sap: client SAP; name: short name (also in source names); instance: E of its Association LN
    0-0:40.0.E; context: application context id; mechanism: authentication mechanism id;
    security_setup: OBIS text of its security setup object, or None; conformance: the 24-bit
    conformance the server offers; max_pdu: the server's max receive PDU size;
    pre_established: no AARQ needed (the association exists from start-up)."""

    def __init__(self, sap, name, instance, context, mechanism, security_setup=None,
                 conformance=0x00501F, max_pdu=1024, pre_established=False):
        if not 1 <= sap <= 127:
            raise ValueError("client SAP outside 1..127")
        self.sap = sap
        self.name = name
        self.ln = bytes((0, 0, 40, 0, instance, 255))
        self.context = context
        self.mechanism = mechanism
        self.security_setup = _NO_REFERENCE if security_setup is None else obis.parse(
            security_setup)
        self.conformance = conformance
        self.max_pdu = max_pdu
        self.pre_established = pre_established

    def needs_hls(self):
        """True if the association stays pending until reply_to_HLS_authentication succeeds."""
        return self.mechanism >= 2 and not self.pre_established


def _name_structure(kind, value):
    # {joint-iso-ccitt(2) country(16) country-name(756) identified-organization(5) DLMS-UA(8)
    #  kind(1 application context, 2 mechanism name) value}
    return axdr.STRUCTURE, [(axdr.UNSIGNED, 2), (axdr.UNSIGNED, 16), (axdr.LONG_UNSIGNED, 756),
                            (axdr.UNSIGNED, 5), (axdr.UNSIGNED, 8), (axdr.UNSIGNED, kind),
                            (axdr.UNSIGNED, value)]


def _client_index(view, row):
    ci = row[ic.ARG]
    return view.ci if ci is None else ci


def _object_list(view, row, n, selector, params):
    return view.model.object_list(_client_index(view, row))


def _partners(view, row, n, selector, params):
    c = view.model.clients[_client_index(view, row)]
    return axdr.STRUCTURE, [(axdr.INTEGER, c.sap), (axdr.LONG_UNSIGNED, view.model.server_sap)]


def _context_name(view, row, n, selector, params):
    return _name_structure(1, view.model.clients[_client_index(view, row)].context)


def _mechanism_name(view, row, n, selector, params):
    return _name_structure(2, view.model.clients[_client_index(view, row)].mechanism)


def _context_info(view, row, n, selector, params):
    if row[ic.ARG] is None:
        conf, rx, tx, version = (view.conformance, view.max_receive_pdu, view.max_send_pdu,
                                 view.dlms_version)
    else:
        c = view.model.clients[row[ic.ARG]]
        conf, rx, tx, version = c.conformance, c.max_pdu, c.max_pdu, DLMS_VERSION
    bits = bytes(((conf >> 16) & 0xFF, (conf >> 8) & 0xFF, conf & 0xFF))
    return axdr.STRUCTURE, [(axdr.BIT_STRING, (24, bits)), (axdr.LONG_UNSIGNED, rx),
                            (axdr.LONG_UNSIGNED, tx), (axdr.UNSIGNED, version),
                            (axdr.INTEGER, 0), (axdr.OCTET_STRING, b"")]


def _status(view, row, n, selector, params):
    if row[ic.ARG] is None:
        return axdr.ENUM, view.status
    return axdr.ENUM, ASSOCIATED if view.model.open[row[ic.ARG]] else NON_ASSOCIATED


def _security_reference(view, row, n, selector, params):
    return axdr.OCTET_STRING, view.model.clients[_client_index(view, row)].security_setup


def _client_source(view, row, what):
    return "assoc." + view.model.clients[_client_index(view, row)].name + "." + what


def _set_secret(view, row, n, data):
    view.write(_client_source(view, row, "secret"), data[1])


def _reply_hls(view, row, m, data):
    if _client_index(view, row) != view.ci:
        raise errors.ReadWriteDenied("HLS reply to another client's association")
    return view.reply_hls(data[1])


def _change_secret(view, row, m, data):
    view.call(_client_source(view, row, "change_HLS_secret"), data[1])


def _unsupported(view, row, m, data):
    raise errors.ReadWriteDenied("the object list is fixed")


class AssociationLN(ic.Interface):
    """Class 15, version 1."""

    CLASS_ID = 15
    VERSION = 1
    ATTRS = ic.Interface.ATTRS + (
        ("object_list", None, 0, _object_list, None),
        ("associated_partners_id", None, 0, _partners, None),
        ("application_context_name", None, 0, _context_name, None),
        ("xDLMS_context_info", None, 0, _context_info, None),
        ("authentication_mechanism_name", None, 0, _mechanism_name, None),
        ("secret", axdr.OCTET_STRING, W | SECRET, None, _set_secret),
        ("association_status", axdr.ENUM, 0, _status, None),
        ("security_setup_reference", (axdr.OCTET_STRING, 6, 6), 0, _security_reference, None),
    )
    METHODS = (
        ("reply_to_HLS_authentication", axdr.OCTET_STRING, _reply_hls),
        ("change_HLS_secret", axdr.OCTET_STRING, _change_secret),
        ("add_object", None, _unsupported),
        ("remove_object", None, _unsupported),
    )

    @classmethod
    def check_arg(cls, arg):
        if arg is not None and (not isinstance(arg, int) or arg < 0):
            raise ValueError("association argument must be None or a client index")


def list_entry(row, rights):
    """The object_list element of one row, with one client's resolved access rights."""
    cls = row[ic.IC]
    attrs = []
    modes = rights[0]
    for i in range(len(modes)):
        sel = cls.selectors(i + 1)
        attrs.append((axdr.STRUCTURE, [
            (axdr.INTEGER, i + 1), (axdr.ENUM, modes[i]),
            (axdr.ARRAY, [(axdr.INTEGER, s) for s in sel]) if sel else (axdr.NULL, None)]))
    modes = rights[1]
    methods = [(axdr.STRUCTURE, [(axdr.INTEGER, j + 1), (axdr.ENUM, modes[j])])
               for j in range(len(modes))]
    return axdr.STRUCTURE, [(axdr.LONG_UNSIGNED, cls.CLASS_ID), (axdr.UNSIGNED, cls.VERSION),
                            (axdr.OCTET_STRING, row[ic.LN]),
                            (axdr.STRUCTURE, [(axdr.ARRAY, attrs), (axdr.ARRAY, methods)])]


def object_list(rows, ci, count):
    """LazyArray of the object_list of client ci over its `count` visible rows."""
    return dtype.LazyArray(count, (list_entry(r, r[ic.ACC][ci]) for r in rows))
