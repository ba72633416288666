"""docval.emrtd.crypto against ICAO 9303-11 Appendix D/G, RFC 4493 and OpenSSL."""
from __future__ import annotations

import hashlib
import warnings

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings, strategies as st

from docval.emrtd import crypto
from docval.emrtd.crypto import (AES128, AES192, AES256, KDF_ENC, KDF_MAC, KDF_PI, TDES,
                                 adjust_parity, cbc_decrypt, cbc_encrypt, constant_time_equal,
                                 ecb_decrypt_block, ecb_encrypt_block, kdf, mac, pad, unpad)
from docval.emrtd.errors import SecureMessagingError

h = bytes.fromhex

# ICAO 9303-11 Appendix D.1 / D.3 (BAC worked example)
K_SEED = h("239AB9CB282DAF66231DC5A4DF6BFBAE")
K_ENC = h("AB94FDECF2674FDFB9B391F85D7F76F2")
K_MAC = h("7962D9ECE03D1ACD4C76089DCE131543")
S = h("781723860C06C2264608F919887022120B795240CB7049B01C19B33E32804F0B")
E_IFD = h("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
M_IFD = h("5F1448EEA8AD90A7")


def test_appendix_d1_kdf_3des():
    assert kdf(K_SEED, KDF_ENC, TDES) == K_ENC
    assert kdf(K_SEED, KDF_MAC, TDES) == K_MAC


def test_appendix_d3_session_keys():
    k_seed = bytes(a ^ b for a, b in zip(h("0B795240CB7049B01C19B33E32804F0B"),
                                         h("0B4F80323EB3191CB04970CB4052790B"), strict=True))
    assert k_seed == h("0036D272F5C350ACAC50C3F572D23600")
    assert kdf(k_seed, KDF_ENC, TDES) == h("979EC13B1CBFE9DCD01AB0FED307EAE5")
    assert kdf(k_seed, KDF_MAC, TDES) == h("F1CB1F1FB5ADF208806B89DC579DC1F8")


def test_appendix_g1_kdf_aes128():
    secret = h("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925")
    assert kdf(secret, KDF_ENC, AES128) == h("F5F0E35C0D7161EE6724EE513A0D9A7F")
    assert kdf(secret, KDF_MAC, AES128) == h("FE251C7858B356B24514B3BD5F4297D1")
    # PACE password key from the MRZ password of Appendix G.1
    assert kdf(h("7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD"), KDF_PI, AES128) == \
        h("89DED1B26624EC1E634C1989302849DD")


@pytest.mark.parametrize("spec, n", [(AES192, 24), (AES256, 32)])
def test_kdf_aes_192_256_use_sha256(spec, n):
    secret = b"\x01" * 32
    out = kdf(secret, KDF_ENC, spec)
    assert out == hashlib.sha256(secret + b"\x00\x00\x00\x01").digest()[:n]
    assert len(out) == spec.key_length


def test_adjust_parity():
    assert adjust_parity(h("AB94FDECF2674FDF")) == h("AB94FDECF2674FDF")  # already odd
    assert adjust_parity(b"\x00\x01\xff\xfe") == h("0101FEFE")
    for b in adjust_parity(bytes(range(256))):
        assert bin(b).count("1") % 2 == 1


def test_appendix_d3_encryption_and_mac():
    assert cbc_encrypt(TDES, K_ENC, b"\x00" * 8, S) == E_IFD
    assert cbc_decrypt(TDES, K_ENC, b"\x00" * 8, E_IFD) == S
    assert mac(TDES, K_MAC, pad(E_IFD, 8)) == M_IFD


def test_retail_mac_matches_an_independent_construction():
    # MAC algorithm 3 = DES-CBC with K1 over all blocks but the last, then 3DES(K1,K2,K1)
    # on the last chained block; built here straight from OpenSSL's 3DES.
    data = pad(b"some message that spans several blocks", 8)
    k1 = K_MAC[:8]
    enc = Cipher(crypto._TripleDES(k1 * 3), modes.CBC(b"\x00" * 8)).encryptor()
    chained = (enc.update(data[:-8]) + enc.finalize())[-8:]
    last = bytes(a ^ b for a, b in zip(chained, data[-8:], strict=True))
    e3 = Cipher(crypto._TripleDES(K_MAC + k1), modes.ECB()).encryptor()
    assert mac(TDES, K_MAC, data) == e3.update(last) + e3.finalize()


def test_retail_mac_requires_block_multiple():
    with pytest.raises(ValueError):
        mac(TDES, K_MAC, b"abc")
    with pytest.raises(ValueError):
        mac(TDES, K_MAC, b"")


def test_aes_cmac_rfc4493():
    key = h("2b7e151628aed2a6abf7158809cf4f3c")
    assert mac(AES128, key, b"") == h("bb1d6929e9593728")
    assert mac(AES128, key, h("6bc1bee22e409f96e93d7e117393172a")) == h("070a16b46b4d4144")


@pytest.mark.parametrize("spec", [AES128, AES192, AES256])
def test_aes_cmac_matches_openssl(spec):
    key = bytes(range(spec.key_length))
    data = b"x" * 37
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    assert mac(spec, key, data) == c.finalize()[:8]


@pytest.mark.parametrize("spec", [AES128, AES192, AES256])
def test_aes_cbc_and_ecb_match_openssl(spec):
    key = bytes(range(spec.key_length))
    iv = b"\x42" * 16
    data = bytes(range(48))
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    expected = enc.update(data) + enc.finalize()
    assert cbc_encrypt(spec, key, iv, data) == expected
    assert cbc_decrypt(spec, key, iv, expected) == data
    block = ecb_encrypt_block(spec, key, data[:16])
    assert block == cbc_encrypt(spec, key, b"\x00" * 16, data[:16])
    assert ecb_decrypt_block(spec, key, block) == data[:16]


def test_tdes_ecb_roundtrip():
    block = ecb_encrypt_block(TDES, K_ENC, b"12345678")
    assert ecb_decrypt_block(TDES, K_ENC, block) == b"12345678"
    assert block == cbc_encrypt(TDES, K_ENC, b"\x00" * 8, b"12345678")


def test_programming_errors_are_value_errors():
    with pytest.raises(ValueError):
        cbc_encrypt(AES128, b"\x00" * 15, b"\x00" * 16, b"\x00" * 16)
    with pytest.raises(ValueError):
        cbc_encrypt(AES128, b"\x00" * 16, b"\x00" * 16, b"\x00" * 15)
    with pytest.raises(ValueError):
        ecb_encrypt_block(TDES, K_ENC, b"\x00" * 16)
    with pytest.raises(ValueError):
        cbc_decrypt(TDES, b"\x00" * 24, b"\x00" * 8, b"\x00" * 8)


def test_pad_unpad():
    assert pad(b"", 8) == h("8000000000000000")
    assert pad(h("011E"), 8) == h("011E800000000000")
    assert pad(b"\x00" * 8, 8) == b"\x00" * 8 + h("8000000000000000")
    assert len(pad(b"\x00" * 15, 16)) == 16
    assert unpad(h("011E800000000000")) == h("011E")
    assert unpad(h("011E800000000000"), 8) == h("011E")
    for bad in (b"", b"\x00" * 8, h("011E000000000000"), h("011E80000000000001")):
        with pytest.raises(SecureMessagingError):
            unpad(bad)
    with pytest.raises(SecureMessagingError):   # two blocks of padding
        unpad(h("80") + b"\x00" * 15, 8)
    with pytest.raises(SecureMessagingError):   # not a block multiple
        unpad(h("0180"), 8)


@settings(max_examples=100)
@given(st.binary(max_size=100), st.sampled_from([8, 16]))
def test_pad_roundtrip(data, bs):
    padded = pad(data, bs)
    assert len(padded) % bs == 0 and 0 < len(padded) - len(data) <= bs
    assert unpad(padded, bs) == data


@settings(max_examples=100)
@given(st.binary(max_size=64))
def test_unpad_raises_only_sm_error(data):
    try:
        unpad(data, 8)
    except SecureMessagingError:
        pass


def test_constant_time_equal():
    assert constant_time_equal(b"abc", b"abc")
    assert not constant_time_equal(b"abc", b"abd")
    assert not constant_time_equal(b"abc", b"ab")


def test_no_deprecation_warning_on_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mac(TDES, K_MAC, pad(b"x", 8))
        cbc_encrypt(TDES, K_ENC, b"\x00" * 8, b"\x00" * 8)
