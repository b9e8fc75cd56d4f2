# MicroPython-only checks of the ACSE and xDLMS Initiate codecs: the spec vectors of protocol.md
# section 4 decoded and encoded byte for byte, the reject paths, memoryview input.
import binascii

from dlms import acse, initiate


def h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def raises(cls, f, *args):
    try:
        f(*args)
    except cls as e:
        return e
    raise AssertionError("no " + cls.__name__)


INIT_REQ = "01 00 00 00 06 5F 1F 04 00 00 7E 1F 04 B0"
INIT_RSP = "08 00 06 5F 1F 04 00 00 50 1F 01 F4 00 07"
A1 = h("60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E " + INIT_REQ)
A3 = h("60 42 A1 09 06 07 60 85 74 05 08 01 01 A6 0A 04 08 4D 4D 4D 00 00 00 00 01 8A 02 07 80 8B"
       " 07 60 85 74 05 08 02 05 AC 0A 80 08 4B 35 36 69 56 61 67 59 BE 10 04 0E " + INIT_REQ)
GLO_REQ_A5 = h("21 30 30 01 23 45 67 80 13 02 FF 8A 78 74 13 3D 41 4C ED 25 B4 25 34 D2 8D B0 04 77"
               " 20 60 6B 17 5B D5 22 11 BE 68 41 DB 20 4D 39 EE 6F DB 8E 35 68 55")
A5 = h("60 66 A1 09 06 07 60 85 74 05 08 01 03 A6 0A 04 08 4D 4D 4D 00 00 BC 61 4E 8A 02 07 80 8B"
       " 07 60 85 74 05 08 02 01 AC 0A 80 08 31 32 33 34 35 36 37 38 BE 34 04 32") + GLO_REQ_A5
GLO_RSP_A4R = h("28 1F 30 01 23 45 67 89 12 14 A0 84 5E 47 57 38 38 3A 91 BC 19 71 17 58 1D 85 AD"
                " B6 48 D9 79 E2 FB")
A1R = h("61 29 A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 00 A3 05 A1 03 02 01 00 BE 10 04 0E "
        + INIT_RSP)
A2V = h("61 1F A1 09 06 07 60 85 74 05 08 01 01 A2 03 02 01 01 A3 05 A1 03 02 01 01 BE 06 04 04 0E"
        " 01 06 01")
A4R = h("61 61 A1 09 06 07 60 85 74 05 08 01 03 A2 03 02 01 00 A3 05 A1 03 02 01 0E A4 0A 04 08 4D"
        " 4D 4D 00 00 BC 61 4E 88 02 07 80 89 07 60 85 74 05 08 02 05 AA 0A 80 08 50 36 77 52 4A 32"
        " 31 46 BE 23 04 21") + GLO_RSP_A4R


def test_aarq_vectors():
    r = acse.decode_aarq(A1)
    check(r == acse.Aarq(1, None, None, False, 0, None, h(INIT_REQ), False), "A1")
    r = acse.decode_aarq(memoryview(bytearray(A3)))
    check(r.calling_ap_title == h("4D4D4D0000000001"), "A3 title")
    check((r.authentication, r.mechanism, r.auth_value) == (True, 5, b"K56iVagY"), "A3 auth")
    r = acse.decode_aarq(A5)
    check((r.context, r.mechanism, r.ciphered, r.user_info) == (3, 1, True, GLO_REQ_A5), "A5")


def test_initiate_exchange():
    req = initiate.decode_request(acse.decode_aarq(A1).user_info)
    ctx = initiate.negotiate(req, 0x00501F, 500)
    check(ctx == initiate.Context(0x00501F, 1200, 500), "negotiated")
    ui = initiate.encode_response(ctx.conformance, ctx.server_max_pdu)
    check(acse.encode_aare(acse.CONTEXT_LN, acse.ACCEPTED, acse.NULL, user_info=ui) == A1R, "A1r")
    low = initiate.decode_request(h("01 00 00 00 05 5F 1F 04 00 00 7E 1F 04 B0"))
    e = raises(initiate.InitiateError, initiate.negotiate, low, 0x00501F, 500)
    aare = acse.encode_aare(acse.CONTEXT_LN, acse.REJECTED_PERMANENT, acse.NO_REASON_GIVEN,
                            user_info=e.response())
    check(aare == A2V, "A2v")


def test_hls_aare_vector():
    aare = acse.encode_aare(acse.CONTEXT_LN_CIPHERED, acse.ACCEPTED, acse.AUTHENTICATION_REQUIRED,
                            ap_title=h("4D4D4D0000BC614E"), mechanism=acse.MECHANISM_HLS_GMAC,
                            auth_value=b"P6wRJ21F", user_info=GLO_RSP_A4R)
    check(aare == A4R, "A4r")


def test_release_vectors():
    check(acse.decode_rlrq(h("62 03 80 01 00")) == acse.Rlrq(0, None, False), "RLRQ")
    check(acse.encode_rlre() == h("63 03 80 01 00"), "RLRE")
    ui = initiate.encode_response(0x001E1D, 1224, quality_of_service=0)
    check(acse.encode_rlre(0, ui) == h("63 16 80 01 00 BE 11 04 0F 08 01 00 06 5F 1F 04 00 00 1E"
                                       " 1D 04 C8 00 07"), "RLRE with user-information")


def test_reject_paths():
    e = raises(acse.AcseError, acse.decode_aarq,
               h("60 1D A1 09 06 07 60 85 74 05 08 01 07 BE 10 04 0E " + INIT_REQ))
    check(e.diagnostic == acse.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED, "context")
    e = raises(acse.BerError, acse.decode_aarq, h("60 80") + A1[2:])
    check((e.args[0], e.pos, e.diagnostic) == ("indefinite length", 1, acse.NO_REASON_GIVEN),
          "indefinite")
    raises(acse.ApduTypeError, acse.decode_aarq, A1R)
    raises(acse.BerError, acse.decode_aarq, h("60 82 FF FF A1 82 FF FB"))
    for n in range(1, len(A3)):
        raises(acse.BerError, acse.decode_aarq, A3[:n])
    e = raises(initiate.InitiateError, initiate.decode_request, h(INIT_REQ)[:-1])
    check(e.error == initiate.OTHER, "initiate other")


def test_conformance_names():
    check(initiate.conformance_names(0x00501F) == [
        "priority-mgmt-supported", "block-transfer-with-get-or-read", "get", "set",
        "selective-access", "event-notification", "action"], "names")
    check(initiate.conformance_block(initiate.conformance_names(0xABCDEF)) == 0xABCDEF, "block")
