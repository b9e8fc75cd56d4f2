"""Class 9 Script table: the scripts (attribute 2) are the row argument, method 1 execute runs one.

Row argument: a tuple of scripts (script_identifier, actions), each action a tuple
(service_id, class_id, logical name, index, parameter): service_id 1 write attribute / 2 execute
method, the logical name as OBIS text or 6 octets, parameter a Data tuple of hashable values
(build them with `action`). The scripts are fixed by the model: what a script does is carried out
by the service bound to the row, not interpreted here.

execute(script_identifier) calls the source action "<binding>.execute" with the identifier. An
identifier the table does not hold is refused with other-reason (the Blue Book defines no answer
for it; this is the answer of a well-typed value out of range) and nothing is called.
"""
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

from dlms import axdr
from cosem import dtype, errors, ic, obis

WRITE_ATTRIBUTE = const(1)
EXECUTE_METHOD = const(2)

NULL = (axdr.NULL, None)

SCRIPT_ID = (axdr.LONG_UNSIGNED, 0, 0xFFFF)
_ACTION = (axdr.STRUCTURE, (axdr.ENUM, axdr.LONG_UNSIGNED, ic.LOGICAL_NAME, axdr.INTEGER, None))
SCRIPTS = (axdr.ARRAY, (axdr.STRUCTURE, (axdr.LONG_UNSIGNED, (axdr.ARRAY, _ACTION))))


def action(service_id, class_id, ln, index, parameter=NULL):
    """One action of a script: write attribute (service 1) or execute method (2) `index` of
    object (class_id, ln) with `parameter` (a Data tuple)."""
    a = (service_id, class_id, obis.parse(ln) if isinstance(ln, str) else bytes(ln), index,
         parameter)
    _check_action(a)
    return a


def _check_action(a):
    if not isinstance(a, tuple) or len(a) != 5:
        raise ValueError("a script action is (service, class, ln, index, parameter)")
    service, class_id, ln, index, param = a
    if service not in (WRITE_ATTRIBUTE, EXECUTE_METHOD):
        raise ValueError("script action service must be 1 (write) or 2 (execute)")
    if not isinstance(class_id, int) or not 0 <= class_id <= 0xFFFF:
        raise ValueError("bad class id in a script action")
    if isinstance(ln, str):
        obis.parse(ln)
    elif not isinstance(ln, bytes) or len(ln) != 6:
        raise ValueError("bad logical name in a script action")
    if not isinstance(index, int) or not -128 <= index <= 127:
        raise ValueError("bad attribute or method index in a script action")
    try:
        dtype.check(None, param)
        hash(param)
    except (errors.AccessError, TypeError):
        raise ValueError("script action parameter must be a hashable Data value")


def _scripts(view, row, n, selector, params):
    out = []
    for sid, actions in row[ic.ARG]:
        acts = []
        for service, class_id, ln, index, param in actions:
            if isinstance(ln, str):
                ln = obis.parse(ln)
            acts.append((axdr.STRUCTURE, [(axdr.ENUM, service), (axdr.LONG_UNSIGNED, class_id),
                                          (axdr.OCTET_STRING, ln), (axdr.INTEGER, index),
                                          param]))
        out.append((axdr.STRUCTURE, [(axdr.LONG_UNSIGNED, sid), (axdr.ARRAY, acts)]))
    return axdr.ARRAY, out


def _execute(view, row, m, data):
    sid = data[1]
    for script in row[ic.ARG]:
        if script[0] == sid:
            view.call(ic.source_name(row, "execute", False), sid)
            return None
    raise errors.OtherReason("no such script")


def ids(arg):
    """The script identifiers of a row argument."""
    return tuple(s[0] for s in arg)


class ScriptTable(ic.Interface):
    """Class 9, version 0: logical_name, scripts; method 1 execute(script_identifier)."""

    CLASS_ID = 9
    VERSION = 0
    ATTRS = ic.Interface.ATTRS + (("scripts", SCRIPTS, 0, _scripts, None),)
    METHODS = (("execute", SCRIPT_ID, _execute),)

    @classmethod
    def check_arg(cls, arg):
        if not isinstance(arg, tuple):
            raise ValueError("script table argument must be a tuple of scripts")
        seen = []
        for s in arg:
            if not isinstance(s, tuple) or len(s) != 2 or not isinstance(s[1], tuple):
                raise ValueError("a script is (identifier, actions)")
            sid = s[0]
            if not isinstance(sid, int) or not 0 <= sid <= 0xFFFF or sid in seen:
                raise ValueError("script identifiers must be distinct long-unsigned")
            seen.append(sid)
            for a in s[1]:
                _check_action(a)

    @classmethod
    def check_row(cls, bind, arg):
        cls.check_arg(arg)
        if bind is None:
            raise ValueError("class 9 needs a binding")

    @classmethod
    def source_names(cls, row):
        if any(r is not None and r[1][0] for r in row[ic.ACC]):
            yield ic.source_name(row, "execute", False)
