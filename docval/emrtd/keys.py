"""Compatibility names for the key, hash and signature code, now in three modules.

:mod:`docval.emrtd.hashes` (hash names, OIDs, digests), :mod:`docval.emrtd.publickey`
(loading a SubjectPublicKeyInfo) and :mod:`docval.emrtd.signatures` (verification).
Code in docval.emrtd and docval.sim imports those directly; this module keeps
``keys.X`` working for the trust store (docval/trust) and the tests that use it.
"""
from __future__ import annotations

from docval.emrtd.hashes import (  # noqa: F401
    HASH_NAMES, HASH_OIDS, OID_FOR_HASH, crypto_hash, digest, digest_size, hash_name_for_oid,
)
from docval.emrtd.publickey import (  # noqa: F401
    CURVE_OIDS, MAX_DH_BITS, MAX_RSA_E, MAX_SPKI_BYTES, OID_DH_KEY_AGREEMENT, OID_DH_PUBLIC_NUMBER,
    OID_EC_PUBLIC_KEY, OID_PK_DH, OID_PK_ECDH, OID_PRIME_FIELD, OID_RSA, OID_RSASSA_PSS,
    OID_STANDARDIZED_DOMAIN_PARAMETERS, PublicKey, TRUSTED_MAX_RSA_BITS, curve_by_oid,
    load_public_key,
)
from docval.emrtd.signatures import (  # noqa: F401
    ECDSA, ECDSA_PLAIN, OID_MGF1, PSSParams, RSA_PKCS1, RSA_PSS, SIGNATURE_OIDS, SIGNATURE_SCHEMES,
    parse_pss_params, verify_signature,
)
