"""Security setup key transfer (class 64 method 2) and activation (method 1) for suite 0, and the
NV records that keep the keys.

global_key_transfer takes an array of {key_id, key_wrapped}: every key is RFC 3394 wrapped under
the master key (KEK) in force when the call arrives. Key ids (Blue Book): 0 global unicast
encryption key (EK), 1 global broadcast encryption key (BK), 2 authentication key (AK), 3 master
key (MK, the KEK of the next transfers). The whole array is unwrapped before anything changes:
one bad entry refuses all of it.

Two NV records hold the keys: "keys" (policy, EK, AK: the record of older firmware, unchanged)
and "keys_ext" (BK, MK). A transfer is all-or-nothing across a power cut only if it writes one
record: the record store replaces one record atomically (old or new copy), but no write order
of two records is safe, because neither record has room for the old or the new keys of the
other (a cut between the writes would leave the first record new and the second old, and the
information to finish or undo the transfer would be gone). A transfer naming keys of both
records (EK or AK together with BK or MK) is therefore refused: send {EK, AK} and {BK, MK} in
separate calls.

security_activate takes the new security_policy (version 0: 0 none, 1 all messages
authenticated, 2 encrypted, 3 both) and may only add protection, never remove it.

Keys record, little-endian: version u8 (1) | policy u8 | EK 16 | AK 16.
Keys_ext record: version u8 (1) | flags u8 (bit 0: a broadcast key was transferred) | BK 16
(zeros without one) | MK 16. Neither is readable over COSEM (no attribute maps them).
"""
from dlms import keywrap, security

# Green Book test master key until a production key is provisioned.
DEFAULT_KEK = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
KEY_EK = 0
KEY_BK = 1
KEY_AK = 2
KEY_MK = 3
# NV record of the broadcast and master keys (runtime.nvlayout).
KEY_EXT = "keys_ext"
_VERSION = 1
_EXT_VERSION = 1
_EXT_HAS_BK = 1
RECORD_SIZE = 34
EXT_RECORD_SIZE = 34
# security_policy (version 0) -> SC bits every ciphered request must carry.
POLICY_SC = (0, security.SC_AUTH, security.SC_ENC, security.SC_AUTH_ENC)


def unwrap_all(kek, items):
    """{key id: key} of a global_key_transfer argument (Data array of {enum, octet-string});
    ValueError (answered other-reason) for an unknown key id, a repeated one, a wrapped key that
    does not unwrap under `kek` to 16 octets, or keys of both NV records in one call."""
    out = {}
    for item in items[1]:
        key_id = item[1][0][1]
        wrapped = item[1][1][1]
        if not 0 <= key_id <= KEY_MK:
            raise ValueError("key id %d not transferable" % key_id)
        if key_id in out:
            raise ValueError("key id %d given twice" % key_id)
        if len(wrapped) != 24:
            raise ValueError("wrapped key must be 24 octets")
        out[key_id] = keywrap.unwrap(kek, wrapped)
    if not out:
        raise ValueError("no key to transfer")
    ext = KEY_BK in out or KEY_MK in out
    if ext and (KEY_EK in out or KEY_AK in out):
        raise ValueError("EK/AK and BK/MK need separate transfers")
    return out


def raise_policy(current, new):
    """The policy after security_activate(new); ValueError if it would drop protection."""
    if not 0 <= new < len(POLICY_SC) or POLICY_SC[current] & ~POLICY_SC[new]:
        raise ValueError("security policy can only be raised")
    return new


def pack(policy, ek, ak):
    """The keys record."""
    return bytes((_VERSION, policy)) + bytes(ek) + bytes(ak)


def unpack(data):
    """(policy, EK, AK) of a keys record; ValueError if it is not a valid one."""
    if len(data) != RECORD_SIZE or data[0] != _VERSION or data[1] >= len(POLICY_SC):
        raise ValueError("keys record unusable")
    return data[1], bytes(data[2:18]), bytes(data[18:34])


def pack_ext(bk, mk):
    """The keys_ext record of broadcast key `bk` (None: not transferred) and master key `mk`."""
    if bk is None:
        return bytes((_EXT_VERSION, 0)) + bytes(16) + bytes(mk)
    return bytes((_EXT_VERSION, _EXT_HAS_BK)) + bytes(bk) + bytes(mk)


def unpack_ext(data):
    """(BK or None, MK) of a keys_ext record; ValueError if it is not a valid one."""
    if len(data) != EXT_RECORD_SIZE or data[0] != _EXT_VERSION or data[1] & ~_EXT_HAS_BK:
        raise ValueError("keys_ext record unusable")
    bk = bytes(data[2:18]) if data[1] & _EXT_HAS_BK else None
    return bk, bytes(data[18:34])
