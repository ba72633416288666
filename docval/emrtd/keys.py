"""Compatibility names for the key, hash and signature code, now in three modules.

:mod:`docval.emrtd.hashes` (hash names, OIDs, digests), :mod:`docval.emrtd.publickey`
(loading a SubjectPublicKeyInfo) and :mod:`docval.emrtd.signatures` (verification).
Code in docval.emrtd and docval.sim imports those directly; this module keeps
``keys.X`` working for the trust store (docval/trust) and the tests that use it.
"""
from __future__ import annotations

from docval.emrtd.hashes import HASH_NAMES as HASH_NAMES
from docval.emrtd.hashes import HASH_OIDS as HASH_OIDS
from docval.emrtd.hashes import OID_FOR_HASH as OID_FOR_HASH
from docval.emrtd.hashes import crypto_hash as crypto_hash
from docval.emrtd.hashes import digest as digest
from docval.emrtd.hashes import digest_size as digest_size
from docval.emrtd.hashes import hash_name_for_oid as hash_name_for_oid
from docval.emrtd.publickey import CURVE_OIDS as CURVE_OIDS
from docval.emrtd.publickey import MAX_DH_BITS as MAX_DH_BITS
from docval.emrtd.publickey import MAX_RSA_E as MAX_RSA_E
from docval.emrtd.publickey import MAX_SPKI_BYTES as MAX_SPKI_BYTES
from docval.emrtd.publickey import OID_DH_KEY_AGREEMENT as OID_DH_KEY_AGREEMENT
from docval.emrtd.publickey import OID_DH_PUBLIC_NUMBER as OID_DH_PUBLIC_NUMBER
from docval.emrtd.publickey import OID_EC_PUBLIC_KEY as OID_EC_PUBLIC_KEY
from docval.emrtd.publickey import OID_PK_DH as OID_PK_DH
from docval.emrtd.publickey import OID_PK_ECDH as OID_PK_ECDH
from docval.emrtd.publickey import OID_PRIME_FIELD as OID_PRIME_FIELD
from docval.emrtd.publickey import OID_RSA as OID_RSA
from docval.emrtd.publickey import OID_RSASSA_PSS as OID_RSASSA_PSS
from docval.emrtd.publickey import (
    OID_STANDARDIZED_DOMAIN_PARAMETERS as OID_STANDARDIZED_DOMAIN_PARAMETERS,
)
from docval.emrtd.publickey import TRUSTED_MAX_RSA_BITS as TRUSTED_MAX_RSA_BITS
from docval.emrtd.publickey import PublicKey as PublicKey
from docval.emrtd.publickey import curve_by_oid as curve_by_oid
from docval.emrtd.publickey import load_public_key as load_public_key
from docval.emrtd.signatures import ECDSA as ECDSA
from docval.emrtd.signatures import ECDSA_PLAIN as ECDSA_PLAIN
from docval.emrtd.signatures import OID_MGF1 as OID_MGF1
from docval.emrtd.signatures import RSA_PKCS1 as RSA_PKCS1
from docval.emrtd.signatures import RSA_PSS as RSA_PSS
from docval.emrtd.signatures import SIGNATURE_OIDS as SIGNATURE_OIDS
from docval.emrtd.signatures import SIGNATURE_SCHEMES as SIGNATURE_SCHEMES
from docval.emrtd.signatures import PSSParams as PSSParams
from docval.emrtd.signatures import parse_pss_params as parse_pss_params
from docval.emrtd.signatures import verify_signature as verify_signature
