"""The Secure Messaging state a v2 phone hands over and gets back (docval.emrtd.handover).

The wire form is what Kinegram's Android SDK writes and reads: a signed 64-bit SSC,
standard base64 keys, DESede keys of 24 bytes.  The counting is JMRTD's: the handed
value is that of the phone's last unwrap, so the server's first command uses +1.
The arithmetic is checked against an implementation of the ICAO 9303-11 formulas
written here from ``cryptography`` primitives, and against a real passport session
recorded by another reader (gmrtd), never only against docval.emrtd.sm itself.
"""
from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from docval import verdicts
from docval.emrtd import crypto, handover
from docval.emrtd.apdu import CommandAPDU, ResponseAPDU
from docval.emrtd.handover import InvalidSMInfo, SMInfo, secure_messaging, sm_info
from docval.emrtd.sm import SecureMessaging

try:  # cryptography >= 43
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # cryptography 38 (Debian 12)
    TripleDES = algorithms.TripleDES

AES16 = bytes(range(16))
MAC16 = bytes(range(16, 32))
K1, K2 = bytes.fromhex("0123456789ABCDEF"), bytes.fromhex("FEDCBA9876543210")
M1, M2 = bytes.fromhex("1032547698BADCFE"), bytes.fromhex("89674523016745AB")
TWO_64 = 1 << 64


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def wire(algorithm="AES", enc=AES16, mac=MAC16, ssc=14, **extra):
    obj = {"algorithm": algorithm, "encKey": b64(enc) if isinstance(enc, bytes) else enc,
           "macKey": b64(mac) if isinstance(mac, bytes) else mac, "ssc": ssc}
    obj.update(extra)
    return obj


def through_json(obj):
    return json.loads(json.dumps(obj))


# -- the wire form ----------------------------------------------------------------------------


def test_the_protocol_example_round_trips():
    obj = {"algorithm": "AES", "encKey": "AAECAwQFBgcICQoLDA0ODw==", "macKey": "EBESExQVFhcYGRobHB0eHw==", "ssc": 14}
    info = SMInfo.from_wire(obj)
    assert (info.algorithm, info.enc_key, info.mac_key, info.ssc) == ("AES", AES16, MAC16, 14)
    assert info.spec == crypto.AES128
    assert through_json(info.to_wire()) == obj


@pytest.mark.parametrize("signed, unsigned", [
    (0, 0),
    (14, 14),
    (-1, TWO_64 - 1),
    (-8474146102351802655, TWO_64 - 8474146102351802655),     # observed from Android after BAC
    ((1 << 63) - 1, (1 << 63) - 1),
    (-(1 << 63), 1 << 63),
    (-(1 << 63) + 1, (1 << 63) + 1),
])
def test_ssc_is_signed_on_the_wire_and_unsigned_inside(signed, unsigned):
    info = SMInfo.from_wire(wire(ssc=signed))
    assert info.ssc == unsigned
    assert info.signed_ssc == signed
    assert info.to_wire()["ssc"] == signed
    assert SMInfo.from_wire(through_json(info.to_wire())) == info


@pytest.mark.parametrize("unsigned, signed", [
    ((1 << 63) - 1, (1 << 63) - 1), (1 << 63, -(1 << 63)), (TWO_64 - 1, -1), (TWO_64 - 2, -2), (0, 0)])
def test_ssc_at_or_above_2_63_is_written_negative(unsigned, signed):
    # Android's getLong clamps a number above 2^63 - 1 to Long.MAX_VALUE: never send one.
    out = SMInfo("DESede", K1 + K2, M1 + M2, unsigned).to_wire()["ssc"]
    assert out == signed and -(1 << 63) <= out < 1 << 63


@pytest.mark.parametrize("ssc", [1 << 63, -(1 << 63) - 1, TWO_64 - 1, TWO_64, 10 ** 30])
def test_ssc_outside_signed_64_bits_is_refused(ssc):
    with pytest.raises(InvalidSMInfo, match="signed 64-bit"):
        SMInfo.from_wire(wire(ssc=ssc))


@pytest.mark.parametrize("ssc", [True, False, 14.0, 1e3, "14", None, [14], {"v": 14}])
def test_ssc_must_be_a_json_integer(ssc):
    # bool is an int subclass in Python: JSON true must not become SSC 1.
    with pytest.raises(InvalidSMInfo, match="ssc must be an integer"):
        SMInfo.from_wire(wire(ssc=ssc))


@pytest.mark.parametrize("ssc", [-1, TWO_64, True, 3.0])
def test_constructor_checks_the_unsigned_range(ssc):
    with pytest.raises(InvalidSMInfo):
        SMInfo("AES", AES16, MAC16, ssc)


@pytest.mark.parametrize("text, expected", [
    ("AES", "AES"), ("aes", "AES"), ("Aes", "AES"),
    ("DESede", "DESede"), ("desede", "DESede"), ("DESEDE", "DESede"),
    ("3DES", "DESede"), ("3des", "DESede"), ("DES3", "DESede"), ("des3", "DESede"),
])
def test_algorithm_names(text, expected):
    key, mac = (AES16, MAC16) if expected == "AES" else (K1 + K2, M1 + M2)
    info = SMInfo.from_wire(wire(text, key, mac))
    assert info.algorithm == expected
    assert info.to_wire()["algorithm"] == expected      # always Android's spelling back


@pytest.mark.parametrize("text", ["DES", "AES128", "AES-128", "TripleDES", "TDES", " AES", "AES ", "", "ÄES",
                                  None, 1, True, ["AES"]])
def test_other_algorithms_are_refused(text):
    with pytest.raises(InvalidSMInfo, match="algorithm"):
        SMInfo.from_wire(wire(text))


def test_invalid_sm_info_is_a_value_error():
    # docval.emrtd may not import the session layer: the ws layer maps this to 1008 UNEXPECTED_MESSAGE.
    assert issubclass(InvalidSMInfo, ValueError)


@pytest.mark.parametrize("size", [16, 24, 32])
def test_aes_key_sizes(size):
    info = SMInfo.from_wire(wire("AES", bytes(range(size)), bytes(range(1, size + 1))))
    assert len(info.enc_key) == size and info.spec.key_length == size
    assert base64.b64decode(info.to_wire()["encKey"]) == bytes(range(size))


@pytest.mark.parametrize("size", [0, 8, 15, 17, 31, 33, 48, 64])
def test_aes_keys_of_other_sizes_are_refused(size):
    with pytest.raises(InvalidSMInfo):
        SMInfo.from_wire(wire("AES", bytes(size), bytes(size)))


def test_aes_keys_of_different_sizes_are_refused():
    with pytest.raises(InvalidSMInfo, match="differ"):
        SMInfo.from_wire(wire("AES", bytes(16), bytes(32)))


def test_desede_24_byte_keys_are_k1_k2_k1_and_go_back_as_24_bytes():
    info = SMInfo.from_wire(wire("DESede", K1 + K2 + K1, M1 + M2 + M1))
    assert (info.enc_key, info.mac_key) == (K1 + K2, M1 + M2)
    assert info.spec == crypto.TDES
    out = info.to_wire()
    # Android's JMRTD refuses a 16-byte DESede key ("Wrong key size"): always 24.
    assert base64.b64decode(out["encKey"]) == K1 + K2 + K1
    assert base64.b64decode(out["macKey"]) == M1 + M2 + M1


def test_desede_16_byte_keys_are_accepted_and_go_back_as_24_bytes():
    info = SMInfo.from_wire(wire("3DES", K1 + K2, M1 + M2))
    assert info == SMInfo.from_wire(wire("DESede", K1 + K2 + K1, M1 + M2 + M1))
    assert len(base64.b64decode(info.to_wire()["encKey"])) == 24


@pytest.mark.parametrize("enc", [K1 + K2 + M1, K1, K1 + K2 + K1 + K2, bytes(20)])
def test_desede_keys_that_are_not_two_key_3des_are_refused(enc):
    with pytest.raises(InvalidSMInfo):
        SMInfo.from_wire(wire("DESede", enc, M1 + M2))


@pytest.mark.parametrize("text", [
    "AAECAwQFBgcICQoLDA0ODw",            # padding missing
    "AAECAwQFBgcICQoLDA0ODw=",           # half the padding
    "AAECAwQFBgcICQoLDA0ODx==",          # stray bits in the last character
    "AAECAwQFBgcI\nCQoLDA0ODw==",        # line break (MIME style)
    " AAECAwQFBgcICQoLDA0ODw==",
    "AAECAwQFBgcICQoLDA0ODw==\n",
    "AAECAwQFBgcICQoLDA0OD-_A",          # URL-safe alphabet
    "AAECAwQFBgcICQoLDA0ODw==AAAA",      # data after the padding
    "ÀAECAwQFBgcICQoLDA0ODw==",          # not ASCII
    "",
    "A" * 100,
])
def test_keys_must_be_canonical_standard_base64(text):
    with pytest.raises(InvalidSMInfo, match="encKey"):
        SMInfo.from_wire(wire(enc=text))


@pytest.mark.parametrize("value", [None, 16, True, ["AAECAwQFBgcICQoLDA0ODw=="], {"k": 1}])
def test_keys_must_be_strings(value):
    with pytest.raises(InvalidSMInfo, match="macKey"):
        SMInfo.from_wire(wire(mac=value))


@pytest.mark.parametrize("missing", ["algorithm", "encKey", "macKey", "ssc"])
def test_every_field_is_required(missing):
    obj = wire()
    del obj[missing]
    with pytest.raises(InvalidSMInfo, match=missing):
        SMInfo.from_wire(obj)


@pytest.mark.parametrize("obj", [None, [], "AES", 14, True])
def test_the_object_must_be_an_object(obj):
    with pytest.raises(InvalidSMInfo):
        SMInfo.from_wire(obj)


def test_unknown_fields_are_ignored():
    assert SMInfo.from_wire(wire(keyReference=3, extra={"x": 1})) == SMInfo.from_wire(wire())


def test_no_key_in_repr_or_errors():
    secret = bytes.fromhex("DEADBEEF" * 4)
    info = SMInfo("AES", secret, secret, 5)
    text = repr(info) + str(info)
    assert "DEADBEEF" not in text.upper() and b64(secret) not in text and "3q2+7" not in text
    assert text == "SMInfo(AES-128, ssc=5)" * 2
    for bad in (wire(enc=b64(secret)[:-2]), wire("AES", secret, bytes(24)), wire("DESede", secret + bytes(8), secret)):
        with pytest.raises(InvalidSMInfo) as err:
            SMInfo.from_wire(bad)
        assert b64(secret)[:8] not in str(err.value) and "DEADBEEF" not in str(err.value).upper()
    outcome = handover.RelayOutcome("SUCCESS", info, b"P<UTOTRAVELLER<<HAPPY", "proven", "x", None)
    assert "TRAVELLER" not in repr(outcome) and "DEADBEEF" not in repr(outcome).upper()


def test_words_are_those_of_the_verdict_rules():
    # Repeated in handover because docval.emrtd must not import docval.verdicts.
    assert (handover.SUCCESS, handover.FAILED, handover.UNAVAILABLE) == (
        verdicts.SUCCESS, verdicts.FAILED, verdicts.UNAVAILABLE)
    assert (handover.PROVEN, handover.DISPROVEN, handover.REFUSED, handover.COMMAND_TOO_LONG,
            handover.RESPONSE_TOO_LONG) == (verdicts.PROVEN, verdicts.DISPROVEN, verdicts.REFUSED,
                                            verdicts.COMMAND_TOO_LONG, verdicts.RESPONSE_TOO_LONG)


# -- sm_info / secure_messaging ---------------------------------------------------------------


@pytest.mark.parametrize("spec, algorithm", [(crypto.TDES, "DESede"), (crypto.AES128, "AES"),
                                             (crypto.AES192, "AES"), (crypto.AES256, "AES")])
def test_sm_info_and_secure_messaging_are_inverse(spec, algorithm):
    k, m = bytes(range(spec.key_length)), bytes(range(100, 100 + spec.key_length))
    sm = SecureMessaging(spec, k, m, 77)
    info = sm_info(sm)
    assert (info.algorithm, info.enc_key, info.mac_key, info.ssc) == (algorithm, k, m, 77)
    again = secure_messaging(SMInfo.from_wire(through_json(info.to_wire())))
    assert again.spec == spec and again.ssc == 77
    cmd = CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")
    assert again.wrap(cmd) == SecureMessaging(spec, k, m, 77).wrap(cmd)


def test_sm_info_reduces_a_counter_the_link_left_unreduced():
    # flow.Link sets sm.ssc = base + 2 * count without reducing it.
    sm = SecureMessaging(crypto.TDES, K1 + K2, M1 + M2, TWO_64 + 3)
    assert sm_info(sm).ssc == 3


# -- the counter, checked with an implementation of the 9303-11 formulas written here ---------


def _pad(data: bytes, bs: int) -> bytes:
    data += b"\x80"
    return data + bytes(-len(data) % bs)


def _aes_ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def _aes_cbc(key: bytes, iv: bytes, data: bytes, decrypt: bool = False) -> bytes:
    c = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def _aes_mac(key: bytes, data: bytes) -> bytes:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()[:8]


def _des(key: bytes, block: bytes, decrypt: bool = False) -> bytes:
    c = Cipher(TripleDES(key * 3), modes.ECB())      # K1 = K2 = K3: single DES
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(block) + op.finalize()


def _tdes_cbc(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    c = Cipher(TripleDES(key + key[:8]), modes.CBC(bytes(8)))     # two-key 3DES as three keys
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def _retail_mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES (padding already applied)."""
    h = bytes(8)
    for i in range(0, len(data), 8):
        h = _des(key[:8], bytes(a ^ b for a, b in zip(h, data[i:i + 8], strict=True)))
    return _des(key[:8], _des(key[8:16], h, decrypt=True))


class Spec9303:
    """Protect a command / a response as the chip expects, from the formulas alone."""

    def __init__(self, aes: bool, k_enc: bytes, k_mac: bytes):
        self.aes, self.k_enc, self.k_mac = aes, k_enc, k_mac
        self.bs = 16 if aes else 8

    def ssc_block(self, ssc: int) -> bytes:
        # JMRTD: a Java long; AES puts it after 8 zero bytes.
        counter = (ssc % TWO_64).to_bytes(8, "big")
        return bytes(8) + counter if self.aes else counter

    def mac(self, ssc: int, data: bytes) -> bytes:
        padded = _pad(self.ssc_block(ssc) + data, self.bs)
        return _aes_mac(self.k_mac, padded) if self.aes else _retail_mac(self.k_mac, padded)

    def encrypt(self, ssc: int, data: bytes) -> bytes:
        if self.aes:
            return _aes_cbc(self.k_enc, _aes_ecb(self.k_enc, self.ssc_block(ssc)), _pad(data, 16))
        return _tdes_cbc(self.k_enc, _pad(data, 8))

    def command(self, ssc: int, header: bytes, data: bytes, le: int | None) -> bytes:
        header = bytes([header[0] | 0x0C]) + header[1:]
        dos = b""
        if data:
            crypt = b"\x01" + self.encrypt(ssc, data)
            dos += b"\x87" + bytes([len(crypt)]) + crypt
        if le is not None:
            dos += b"\x97\x01" + bytes([le % 256])
        dos += b"\x8e\x08" + self.mac(ssc, _pad(header, self.bs) + dos)
        return header + bytes([len(dos)]) + dos + b"\x00"

    def response(self, ssc: int, data: bytes, sw: bytes = b"\x90\x00") -> bytes:
        dos = b""
        if data:
            crypt = b"\x01" + self.encrypt(ssc, data)
            dos += b"\x87" + bytes([len(crypt)]) + crypt
        dos += b"\x99\x02" + sw
        return dos + b"\x8e\x08" + self.mac(ssc, dos) + sw


AES_CASES = [14, -1, (1 << 63) - 1, -2, -(1 << 63)]
TDES_CASES = [-8474146102351802655, -2, -1, (1 << 63) - 2, 0]


@pytest.mark.parametrize("aes, handed", [(True, s) for s in AES_CASES] + [(False, s) for s in TDES_CASES])
def test_first_relayed_command_uses_ssc_plus_one_and_its_answer_plus_two(aes, handed):
    if aes:
        info = SMInfo.from_wire(wire("AES", AES16, MAC16, handed))
    else:
        info = SMInfo.from_wire(wire("DESede", K1 + K2 + K1, M1 + M2 + M1, handed))
    ref = Spec9303(aes, info.enc_key, info.mac_key)
    sm = secure_messaging(info)

    select = sm.wrap(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, b"\x01\x01")).encode()
    assert select == ref.command(handed + 1, b"\x00\xa4\x02\x0c", b"\x01\x01", None)
    sm.unwrap(ResponseAPDU.decode(ref.response(handed + 2, b"")))

    read = sm.wrap(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4)).encode()
    assert read == ref.command(handed + 3, b"\x00\xb0\x00\x00", b"", 4)
    assert sm.unwrap(ResponseAPDU.decode(ref.response(handed + 4, b"\x61\x5b\x5f\x1f"))).data == b"\x61\x5b\x5f\x1f"

    # Handed back: the counter of the last unwrap, as the phone's long (wrapping at 2^64).
    back = sm_info(sm).to_wire()["ssc"]
    expected = (handed + 4) % TWO_64
    assert back == (expected - TWO_64 if expected >= 1 << 63 else expected)


def test_an_answer_protected_with_the_wrong_counter_does_not_verify():
    from docval.emrtd.errors import SecureMessagingError
    info = SMInfo.from_wire(wire("AES", AES16, MAC16, -1))
    ref = Spec9303(True, AES16, MAC16)
    sm = secure_messaging(info)
    sm.wrap(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4))
    # 2^64 + 1 is what a 128-bit counter would use after 2^64 - 1; JMRTD's long gives 1.
    wrong = bytes(7) + b"\x01" + (1).to_bytes(8, "big")
    dos = b"\x99\x02\x90\x00"
    forged = dos + b"\x8e\x08" + _aes_mac(MAC16, _pad(wrong + dos, 16)) + b"\x90\x00"
    with pytest.raises(SecureMessagingError):
        sm.unwrap(ResponseAPDU.decode(forged))
    assert ref.ssc_block(TWO_64 + 1) == bytes(15) + b"\x01"


# A real passport session recorded by gmrtd (also in test_ca.py): AES-128 session keys after
# PACE and the SSC before MSE:Set AT of id-CA-ECDH-AES-CBC-CMAC-128 (no key id).
GMRTD_K_ENC = "524170DE3419B7AF2F23E45AD6EF9595"
GMRTD_K_MAC = "97893F5FDC29A5C13A924FE7D8ED44FD"
GMRTD_MSE = "0C2241A41D8711015D8F69B1EA365CCE4304970DB12421F38E085340D338128085E700"
GMRTD_MSE_ANSWER = "990290008E083F5136E82A6C34779000"


def test_handed_over_state_reproduces_a_recorded_passport_session():
    info = SMInfo.from_wire({"algorithm": "AES", "encKey": b64(bytes.fromhex(GMRTD_K_ENC)),
                             "macKey": b64(bytes.fromhex(GMRTD_K_MAC)), "ssc": 0xF0})
    sm = secure_messaging(info)
    oid_ca_ecdh_aes128 = bytes.fromhex("04007F00070202030202")
    mse = CommandAPDU(0x00, 0x22, 0x41, 0xA4, b"\x80\x0a" + oid_ca_ecdh_aes128)
    assert sm.wrap(mse).encode().hex().upper() == GMRTD_MSE
    assert sm.unwrap(ResponseAPDU.decode(bytes.fromhex(GMRTD_MSE_ANSWER))) == ResponseAPDU(b"", 0x9000)
    assert sm_info(sm).to_wire()["ssc"] == 0xF2
