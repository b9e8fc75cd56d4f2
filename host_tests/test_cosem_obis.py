"""OBIS text <-> 6-octet logical name: vectors, round trips (hypothesis), refusals."""
import pytest
from dlms_cosem import cosem as dc
from hypothesis import given, settings
from hypothesis import strategies as st

from cosem import obis


@pytest.mark.parametrize("text, ln", [
    ("1-0:1.8.0*255", "0100010800FF"),
    ("1-0:1.8.0", "0100010800FF"),
    ("1-0:1.8.0.255", "0100010800FF"),
    ("1.0.1.8.0.255", "0100010800FF"),
    ("0-0:42.0.0", "00002A0000FF"),
    ("1-1:0.2.8*101", "010100020865"),
    ("0-6:25.9.0", "0006190900FF"),
    ("255-255:255.255.255*255", "FFFFFFFFFFFF"),
    ("0-0:0.0.0*0", "000000000000"),
])
def test_vectors(text, ln):
    assert obis.parse(text) == bytes.fromhex(ln)


@pytest.mark.parametrize("text", [
    "", "1-0:1.8", "1-0:1.8.0*", "1-0:1.8.0*2555", "1-0:1.8.0*256", "1-0:1.8.0.1.2",
    "1.0.1.8.0", "1.0.1.8.0.255.1", "1-0-1.8.0", "1-0:1:8.0", "1-0:1.8.0*-1", "a-0:1.8.0",
    "1-0:01.8.0 ", " 1-0:1.8.0", "1--0:1.8.0", "0001-0:1.8.0", "1-0:1.8.0**1", "1-0.1.8.0.255",
])
def test_malformed_text_is_refused(text):
    with pytest.raises(ValueError):
        obis.parse(text)


def test_non_text_and_wrong_lengths_are_refused():
    with pytest.raises(ValueError):
        obis.parse(b"1-0:1.8.0")
    for ln in (b"", bytes(5), bytes(7)):
        with pytest.raises(ValueError):
            obis.text(ln)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=6, max_size=6))
def test_bytes_text_bytes(ln):
    t = obis.text(ln)
    assert obis.parse(t) == ln
    # The dotted form of dlms-cosem names the same code.
    assert obis.parse(dc.Obis.from_bytes(ln).to_string(separator=".")) == ln


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=6, max_size=6), st.sampled_from(["*", "."]))
def test_text_bytes_text(groups, sep):
    canonical = "%d-%d:%d.%d.%d*%d" % tuple(groups)
    text = "%d-%d:%d.%d.%d" % tuple(groups[:5]) + sep + str(groups[5])
    assert obis.parse(text) == bytes(groups)
    assert obis.text(obis.parse(text)) == canonical


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789-:.*x ", max_size=24))
def test_random_text_parses_or_raises_value_error(text):
    try:
        ln = obis.parse(text)
    except ValueError:
        return
    assert len(ln) == 6 and obis.parse(obis.text(ln)) == ln
