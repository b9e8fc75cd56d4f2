"""Security setup key transfer (class 64 method 2) and activation (method 1) for suite 0, and the
NV record that keeps the keys.

global_key_transfer takes an array of {key_id, key_wrapped}: every key is RFC 3394 wrapped under
the master key (KEK). Key ids: 0 global unicast encryption key, 2 authentication key; 1
(broadcast) and 3 (the master key itself) are refused. The whole array is unwrapped before
anything changes: one bad entry refuses all of it.

security_activate takes the new security_policy (version 0: 0 none, 1 all messages
authenticated, 2 encrypted, 3 both) and may only add protection, never remove it.

Keys record, little-endian: version u8 | policy u8 | EK 16 | AK 16. It is never readable over
COSEM (no attribute maps it).
"""
from dlms import keywrap, security

# Green Book test master key until a production key is provisioned.
DEFAULT_KEK = b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
KEY_EK = 0
KEY_AK = 2
_VERSION = 1
RECORD_SIZE = 34
# security_policy (version 0) -> SC bits every ciphered request must carry.
POLICY_SC = (0, security.SC_AUTH, security.SC_ENC, security.SC_AUTH_ENC)


def unwrap_all(kek, items):
    """{key id: key} of a global_key_transfer argument (Data array of {enum, octet-string});
    ValueError (answered other-reason) for an unknown key id, a repeated one, or a wrapped key
    that does not unwrap under `kek` to 16 octets."""
    out = {}
    for item in items[1]:
        key_id = item[1][0][1]
        wrapped = item[1][1][1]
        if key_id != KEY_EK and key_id != KEY_AK:
            raise ValueError("key id %d not transferable" % key_id)
        if key_id in out:
            raise ValueError("key id %d given twice" % key_id)
        if len(wrapped) != 24:
            raise ValueError("wrapped key must be 24 octets")
        out[key_id] = keywrap.unwrap(kek, wrapped)
    if not out:
        raise ValueError("no key to transfer")
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
