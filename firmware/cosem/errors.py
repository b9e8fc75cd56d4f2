"""Access errors of the object model; each carries the Data-Access-Result (or Action-Result) code
that answers it on the wire. Bindings may raise these to choose the answer themselves."""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SUCCESS = const(0)
HARDWARE_FAULT = const(1)
TEMPORARY_FAILURE = const(2)
READ_WRITE_DENIED = const(3)
OBJECT_UNDEFINED = const(4)
OBJECT_CLASS_INCONSISTENT = const(9)
OBJECT_UNAVAILABLE = const(11)
TYPE_UNMATCHED = const(12)
SCOPE_OF_ACCESS_VIOLATED = const(13)
OTHER_REASON = const(250)


class AccessError(Exception):
    """A refused GET/SET/ACTION; `result` is the code to answer with."""

    result = OTHER_REASON

    def __init__(self, message, result=None):
        super().__init__(message)
        if result is not None:
            self.result = result


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
