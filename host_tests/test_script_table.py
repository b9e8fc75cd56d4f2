"""Class 9 Script table: scripts from the row argument, execute through the source action, an
unknown script id refused with nothing called, bad row arguments refused when the table is built."""
import pytest
from dlms_cosem.utils import parse_as_dlms_data

from cosem import errors, obis
from cosem.association import Client
from cosem.objects import Model
from cosem.script_table import ScriptTable, action
from cosem.sources import DictSources
from dlms import axdr

import mpy

CLIENTS = (Client(16, "public", 1, 1, 0),)
TARIFF = tuple((n, (action(1, 1, "0-0:96.14.0", 2, (axdr.LONG_UNSIGNED, n)),))
               for n in range(1, 5))
BILLING = ((1, (action(2, 9, "0-0:10.0.1", 1, (axdr.LONG_UNSIGNED, 1)),)), (2, ()))


def _model(calls, arg=TARIFF, spec="rr/x"):
    rows = [("0-0:10.0.100", ScriptTable, "tariff_scripts", arg, (spec,))]
    src = DictSources(actions={"tariff_scripts.execute": calls.append})
    m = Model(rows, CLIENTS, src)
    view = m.associate(16)
    return m, view, view.find(9, obis.parse("0-0:10.0.100"))


def test_scripts_attribute_encodes_as_the_blue_book_layout():
    _, view, obj = _model([])
    data = view.get(obj, 2)
    raw = axdr.encode(data)
    parsed = parse_as_dlms_data(raw)
    assert len(parsed) == 4
    assert parsed[0][0] == 1
    act = parsed[2][1][0]
    assert act[0] == 1 and act[1] == 1
    assert bytes(act[2]) == obis.parse("0-0:96.14.0")
    assert act[3] == 2 and act[4] == 3


def test_execute_calls_the_source_with_the_script_id():
    calls = []
    _, view, obj = _model(calls)
    assert view.action(obj, 1, (axdr.LONG_UNSIGNED, 3)) == (errors.SUCCESS, None)
    assert calls == [3]


@pytest.mark.parametrize("sid", [0, 5, 0xFFFF])
def test_unknown_script_refused_and_nothing_called(sid):
    calls = []
    _, view, obj = _model(calls)
    assert view.action(obj, 1, (axdr.LONG_UNSIGNED, sid)) == (errors.OTHER_REASON, None)
    assert calls == []


def test_wrong_parameter_type_refused():
    calls = []
    _, view, obj = _model(calls)
    assert view.action(obj, 1, (axdr.UNSIGNED, 1))[0] == errors.TYPE_UNMATCHED
    assert view.action(obj, 1, None)[0] == errors.TYPE_UNMATCHED
    assert calls == []


def test_method_access_checked():
    calls = []
    _, view, obj = _model(calls, spec="rr")
    assert view.action(obj, 1, (axdr.LONG_UNSIGNED, 1))[0] == errors.READ_WRITE_DENIED
    assert calls == []


def test_scripts_not_writable():
    _, view, obj = _model([])
    with pytest.raises(errors.ReadWriteDenied):
        view.set(obj, 2, (axdr.ARRAY, []))


def test_source_names_list_execute():
    m, _, _ = _model([])
    assert m.source_names() == ["tariff_scripts.execute"]


def test_text_logical_names_in_literal_rows():
    arg = ((1, ((2, 9, "0-0:10.0.1", 1, (axdr.LONG_UNSIGNED, 1)),)),)
    _, view, obj = _model([], arg=arg)
    data = view.get(obj, 2)
    assert data[1][0][1][1][1][0][1][2] == (axdr.OCTET_STRING, obis.parse("0-0:10.0.1"))
    assert ScriptTable.get(None, (b"", ScriptTable, "x", BILLING, None), 2, None, None)[1][1] == (
        axdr.STRUCTURE, [(axdr.LONG_UNSIGNED, 2), (axdr.ARRAY, [])])


@pytest.mark.parametrize("arg", [
    None, [], ((1, ()), (1, ())), ((-1, ()),), ((0x10000, ()),), ((1, []),),
    ((1, ((3, 1, "0-0:96.14.0", 2, (axdr.NULL, None)),)),),
    ((1, ((1, 1, "0-0:96.14", 2, (axdr.NULL, None)),)),),
    ((1, ((1, 1, b"\x00" * 5, 2, (axdr.NULL, None)),)),),
    ((1, ((1, 1, "0-0:96.14.0", 200, (axdr.NULL, None)),)),),
    ((1, ((1, 1, "0-0:96.14.0", 2, (axdr.ARRAY, [])),)),),
    ((1, ((1, 1, "0-0:96.14.0", 2, 5),)),),
])
def test_bad_row_arguments_refused(arg):
    with pytest.raises(ValueError):
        Model([("0-0:10.0.100", ScriptTable, "s", arg, ("rr/x",))], CLIENTS, DictSources())


def test_needs_a_binding():
    with pytest.raises(ValueError):
        Model([("0-0:10.0.100", ScriptTable, None, TARIFF, ("rr/x",))], CLIENTS, DictSources())


def test_under_micropython():
    out = mpy.run_code("""
from cosem import obis
from cosem.association import Client
from cosem.objects import Model
from cosem.script_table import ScriptTable, action
from cosem.sources import DictSources
from dlms import axdr
calls = []
arg = ((1, (action(2, 9, "0-0:10.0.1", 1, (axdr.LONG_UNSIGNED, 1)),)), (2, ()))
m = Model([("0-0:10.0.1", ScriptTable, "billing_scripts", arg, ("rr/x",))],
          (Client(16, "public", 1, 1, 0),),
          DictSources(actions={"billing_scripts.execute": calls.append}))
v = m.associate(16)
o = v.find(9, obis.parse("0-0:10.0.1"))
print(axdr.encode(v.get(o, 2)).hex())
print(v.action(o, 1, (axdr.LONG_UNSIGNED, 2)), v.action(o, 1, (axdr.LONG_UNSIGNED, 7)), calls)
""")
    lines = out.split("\n")
    arg = ((1, (action(2, 9, "0-0:10.0.1", 1, (axdr.LONG_UNSIGNED, 1)),)), (2, ()))
    expect = ScriptTable.get(None, (b"", ScriptTable, "x", arg, None), 2, None, None)
    assert lines[0] == axdr.encode(expect).hex()
    assert lines[1] == "(0, None) (250, None) [2]"
