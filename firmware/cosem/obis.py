"""OBIS codes: the 6-octet logical name <-> text "A-B:C.D.E*F".

Accepted text forms: "A-B:C.D.E*F", "A-B:C.D.E.F", "A-B:C.D.E" (F = 255) and the dotted
"A.B.C.D.E.F" used by Gurux and dlms-cosem. Every group is a decimal 0..255 of 1..3 digits.
"""

# Separator sequences of the accepted forms.
_FORMS = ("-:..*", "-:...", "-:..", ".....")


def parse(text):
    """6-octet logical name of an OBIS text; ValueError if it is not one of the accepted forms."""
    if not isinstance(text, str):
        raise ValueError("OBIS code must be text")
    groups = bytearray(6)
    seps = ""
    n = 0
    digits = 0
    for ch in text:
        if "0" <= ch <= "9":
            if digits == 3 or n == 6:
                raise ValueError("bad OBIS code: " + text)
            v = groups[n] * 10 + ord(ch) - 48
            if v > 255:
                raise ValueError("OBIS group above 255: " + text)
            groups[n] = v
            digits += 1
        else:
            if digits == 0:
                raise ValueError("bad OBIS code: " + text)
            seps += ch
            n += 1
            digits = 0
    if digits == 0 or seps not in _FORMS:
        raise ValueError("bad OBIS code: " + text)
    if len(seps) == 4:
        groups[5] = 255
    return bytes(groups)


def text(ln):
    """Text "A-B:C.D.E*F" of a 6-octet logical name; ValueError for another length."""
    if len(ln) != 6:
        raise ValueError("logical name must be 6 octets")
    return "%d-%d:%d.%d.%d*%d" % tuple(ln)
