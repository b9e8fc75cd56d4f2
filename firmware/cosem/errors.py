"""Access errors of the object model; each carries the Data-Access-Result (or Action-Result) code
that answers it on the wire. Bindings may raise these to choose the answer themselves.
AccessError derives from dlms.xdlms.AccessError (a ValueError): catch AccessError before
ValueError where the two mean different answers."""
from dlms import xdlms
# The result codes are defined once, with the xDLMS codec that puts them on the wire.
from dlms.xdlms import (SUCCESS, HARDWARE_FAULT, TEMPORARY_FAILURE, READ_WRITE_DENIED,
                        OBJECT_UNDEFINED, OBJECT_CLASS_INCONSISTENT, OBJECT_UNAVAILABLE,
                        TYPE_UNMATCHED, SCOPE_OF_ACCESS_VIOLATED, OTHER_REASON)


class AccessError(xdlms.AccessError):
    """A refused GET/SET/ACTION of the object model; `result` is the code to answer with (the
    protocol layer catches xdlms.AccessError, which covers these and the codec's own)."""


class ObjectUndefined(AccessError):
    """No such object, attribute or method for this association (4)."""
    result = OBJECT_UNDEFINED


class ClassInconsistent(AccessError):
    """The logical name exists with another class id (9)."""
    result = OBJECT_CLASS_INCONSISTENT


class ReadWriteDenied(AccessError):
    """The access rights of the association forbid the operation (3)."""
    result = READ_WRITE_DENIED


class TypeUnmatched(AccessError):
    """A value of the wrong A-XDR type or shape (12)."""
    result = TYPE_UNMATCHED


class ScopeViolated(AccessError):
    """Outside the scope of the access right: an unsupported selector, or an authenticated-only
    access mode used without an authenticated request (13)."""
    result = SCOPE_OF_ACCESS_VIOLATED


class TemporaryFailure(AccessError):
    """A binding failed or gave an unusable value (2)."""
    result = TEMPORARY_FAILURE


class OtherReason(AccessError):
    """A well-typed value refused by range checks or by the service (250)."""
    result = OTHER_REASON
