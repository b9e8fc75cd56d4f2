"""Access rights: the modes of Association LN version 1 and their compact declaration.

Attribute access modes: 0 no_access, 1 read_only, 2 write_only, 3 read_and_write,
4 authenticated_read_only, 5 authenticated_write_only, 6 authenticated_read_and_write.
Method access modes: 0 no_access, 1 access, 2 authenticated_access. "Authenticated" modes admit
only requests the security layer reports as authenticated.

Declaration (model tables): one spec per client, None for an object the client does not see, or
a string of one character per attribute (from attribute 1), then optionally "/" and one per
method: '-' none, 'r' read, 'w' write, 'b' both, 'R' 'W' 'B' their authenticated forms;
methods '-' none, 'x' access, 'X' authenticated. Omitted methods are '-'. "r*" reads every
attribute but the secret ones. A resolved client entry is (attribute modes, method modes) as
two bytes objects; a profile is the tuple of the entries of all clients.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from cosem import errors

NO_ACCESS = const(0)
READ = const(1)
WRITE = const(2)
READ_WRITE = const(3)
AUTH_READ = const(4)
AUTH_WRITE = const(5)
AUTH_READ_WRITE = const(6)

METHOD_NONE = const(0)
METHOD_ACCESS = const(1)
METHOD_AUTH = const(2)

_ATTR_CHARS = "-rwbRWB"     # index = access mode
_METHOD_CHARS = "-xX"


def can_read(mode):
    """True if the mode grants reading (perhaps only to authenticated requests)."""
    return mode in (READ, READ_WRITE, AUTH_READ, AUTH_READ_WRITE)


def can_write(mode):
    """True if the mode grants writing (perhaps only to authenticated requests)."""
    return mode in (WRITE, READ_WRITE, AUTH_WRITE, AUTH_READ_WRITE)


def _authenticated_only(mode, secured):
    if mode >= AUTH_READ and not secured:
        raise errors.ScopeViolated("access needs an authenticated request")


def check_read(mode, secured):
    """Raise ReadWriteDenied unless the mode grants reading, ScopeViolated if it grants it only to
    authenticated requests and this one (`secured`) is not."""
    if not can_read(mode):
        raise errors.ReadWriteDenied("no read access")
    _authenticated_only(mode, secured)


def check_write(mode, secured):
    """As check_read, for writing."""
    if not can_write(mode):
        raise errors.ReadWriteDenied("no write access")
    _authenticated_only(mode, secured)


def check_method(mode, secured):
    """As check_read, for invoking a method."""
    if mode == METHOD_NONE:
        raise errors.ReadWriteDenied("no method access")
    if mode == METHOD_AUTH and not secured:
        raise errors.ScopeViolated("method needs an authenticated request")


def resolve(spec, ic):
    """(attribute modes, method modes) of one client's spec for interface class ic.

    Raises ValueError for a malformed spec, a count that does not match the class, or a right
    the class cannot honour (reading a secret attribute, writing a read-only one)."""
    nattr = len(ic.ATTRS)
    nmeth = len(ic.METHODS)
    if spec == "r*":
        attrs = bytes(NO_ACCESS if ic.secret(n) else READ for n in range(1, nattr + 1))
        return attrs, bytes(nmeth)
    a, _, m = _split(spec)
    if len(a) != nattr or (m and len(m) != nmeth):
        raise ValueError("access spec %r does not fit class %d" % (spec, ic.CLASS_ID))
    attrs = bytearray(nattr)
    for i in range(nattr):
        mode = _ATTR_CHARS.find(a[i])
        if mode < 0:
            raise ValueError("bad attribute access character in %r" % spec)
        n = i + 1
        if (can_read(mode) and ic.secret(n)) or (can_write(mode) and not ic.writable(n)):
            raise ValueError("class %d cannot grant %r to attribute %d" % (ic.CLASS_ID, a[i], n))
        attrs[i] = mode
    methods = bytearray(nmeth)
    for i in range(len(m)):
        mode = _METHOD_CHARS.find(m[i])
        if mode < 0:
            raise ValueError("bad method access character in %r" % spec)
        methods[i] = mode
    return bytes(attrs), bytes(methods)


def _split(spec):
    k = spec.find("/")
    if k < 0:
        return spec, "", ""
    return spec[:k], "/", spec[k + 1:]


def profile(ic, specs, cache):
    """The resolved profile of a row: one entry per client (None = invisible).

    `cache` (a dict kept while a table is built) shares equal profiles, entries and mode strings
    between rows, so a table holds each distinct one once."""
    key = (ic, specs)
    p = cache.get(key)
    if p is None:
        p = tuple(None if s is None else _entry(ic, s, cache) for s in specs)
        p = cache.setdefault(p, p)
        cache[key] = p
    return p


def _entry(ic, spec, cache):
    key = (ic, spec)
    e = cache.get(key)
    if e is None:
        a, m = resolve(spec, ic)
        e = (cache.setdefault(a, a), cache.setdefault(m, m))
        e = cache.setdefault(e, e)
        cache[key] = e
    return e
