"""The hash algorithms of ICAO 9303 PKI: names, OIDs and digests.

DocVal names hashes "SHA-1" ... "SHA-512" everywhere; an unknown name or OID
raises UnsupportedError, never a KeyError.
"""
from __future__ import annotations

import hashlib
from typing import Callable

from cryptography.hazmat.primitives import hashes

from docval.emrtd.errors import UnsupportedError

HASH_NAMES = ("SHA-1", "SHA-224", "SHA-256", "SHA-384", "SHA-512")

HASH_OIDS = {
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.4": "SHA-224",
    "2.16.840.1.101.3.4.2.1": "SHA-256",
    "2.16.840.1.101.3.4.2.2": "SHA-384",
    "2.16.840.1.101.3.4.2.3": "SHA-512",
}
OID_FOR_HASH = {v: k for k, v in HASH_OIDS.items()}

_HASHLIB = {"SHA-1": "sha1", "SHA-224": "sha224", "SHA-256": "sha256",
            "SHA-384": "sha384", "SHA-512": "sha512"}
_CRYPTO_HASH: dict[str, Callable[[], hashes.HashAlgorithm]] = {"SHA-1": hashes.SHA1, "SHA-224": hashes.SHA224, "SHA-256": hashes.SHA256,
                "SHA-384": hashes.SHA384, "SHA-512": hashes.SHA512}


def hash_name_for_oid(oid: str) -> str:
    try:
        return HASH_OIDS[oid]
    except KeyError:
        raise UnsupportedError(f"unsupported hash algorithm {oid}") from None


def digest(hash_name: str, data: bytes) -> bytes:
    try:
        return hashlib.new(_HASHLIB[hash_name], data).digest()
    except KeyError:
        raise UnsupportedError(f"unsupported hash algorithm {hash_name}") from None


def digest_size(hash_name: str) -> int:
    try:
        return hashlib.new(_HASHLIB[hash_name]).digest_size
    except KeyError:
        raise UnsupportedError(f"unsupported hash algorithm {hash_name}") from None


def crypto_hash(hash_name: str) -> hashes.HashAlgorithm:
    try:
        return _CRYPTO_HASH[hash_name]()
    except KeyError:
        raise UnsupportedError(f"unsupported hash algorithm {hash_name}") from None

