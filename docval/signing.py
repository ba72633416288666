"""Signed results for the phone: a compact JWS (ES256) an app's backend can verify.

A client without a Result Server gets its result only through the phone, which
the integrator does not control; the unsigned ``emrtd_passport`` can be edited
there at will.  With ``sign_returned_result = true`` the result message also
carries ``emrtd_passport_jws``, signed with the server's EC P-256 key
(``[signing] key_file``), whose public half is published as a JWKS (``docval-keys
jwks``, the admin endpoint's ``/jwks.json``).  The JWS itself is made and checked
by PyJWT: nothing here encodes or verifies a signature by hand.

Error messages name the file and what is wrong with it, never key material.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"
# A PEM EC key is a few hundred bytes; anything much larger is not one.
MAX_KEY_FILE_BYTES = 64 * 1024


class SigningKeyError(ValueError):
    """The signing key cannot be used; the message names the file."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The public key as a JWK with ``kid`` (its RFC 7638 thumbprint), ``use`` and ``alg``."""
    jwk = json.loads(ECAlgorithm.to_jwk(public_key))
    # Only the public members, whatever the library version adds.
    jwk = {name: jwk[name] for name in ("kty", "crv", "x", "y")}
    jwk["kid"] = thumbprint(jwk)
    jwk["use"] = "sig"
    jwk["alg"] = ALGORITHM
    return jwk


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC public key.

    Derived from the key alone, so the same key always has the same ``kid`` and a
    verifier can recompute it from the JWKS.
    """
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


class Signer:
    """Signs returned results with one EC P-256 private key."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey):
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or \
                not isinstance(private_key.curve, ec.SECP256R1):
            raise SigningKeyError("the signing key must be an EC P-256 private key")
        self._key = private_key
        self._jwk = public_jwk(private_key.public_key())

    @property
    def kid(self) -> str:
        return self._jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        """The public JWKS: ``{"keys": [<public JWK>]}``."""
        return {"keys": [dict(self._jwk)]}

    def sign_result(
        self, emrtd_passport: dict[str, Any], validation_id: str, session_id: str, iat: int
    ) -> str:
        """Compact JWS over the result, the phone's validation id and the session id."""
        payload = {
            "emrtd_passport": emrtd_passport,
            "client_validation_id": validation_id,
            "session_id": session_id,
            "iat": int(iat),
        }
        token = jwt.encode(
            payload, self._key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"}
        )
        # PyJWT 1.x returned bytes; 2.x (the only versions we accept) return str.
        return token if isinstance(token, str) else token.decode("ascii")

    def __repr__(self) -> str:
        return f"Signer(kid={self.kid!r})"


def load_private_key(path: str | Path) -> ec.EllipticCurvePrivateKey:
    """Reads an unencrypted EC P-256 private key (PKCS#8 or traditional PEM).

    Refuses a file other users can read or write: whoever reads it can sign results
    that backends will trust.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise SigningKeyError(f"{path}: not a regular file")
            data = f.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as e:
        raise SigningKeyError(f"{path}: cannot read the signing key: {e.strerror or type(e).__name__}") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise SigningKeyError(f"{path}: the signing key is accessible to other users (chmod o-rwx)")
    if len(data) > MAX_KEY_FILE_BYTES:
        raise SigningKeyError(f"{path}: too large for a PEM private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningKeyError(f"{path}: the signing key is encrypted; store it unencrypted") from None
    except Exception:
        # The library's message may quote parts of the file: ours says what is expected.
        raise SigningKeyError(f"{path}: not a PEM private key (PKCS#8 or traditional EC)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SigningKeyError(f"{path}: not an EC P-256 private key")
    return key


def load_signer(path: str | Path) -> Signer:
    return Signer(load_private_key(path))


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_new_key(path: str | Path) -> Signer:
    """Creates a new key at ``path`` (mode 0600); never overwrites an existing file."""
    path = Path(path)
    key = generate_private_key()
    try:
        # O_EXCL: a key that backends already trust must not be replaced by accident.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise SigningKeyError(f"{path}: already exists; not overwriting a signing key") from None
    except OSError as e:
        raise SigningKeyError(f"{path}: cannot create: {e.strerror or type(e).__name__}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(private_key_pem(key))
    except OSError as e:
        path.unlink(missing_ok=True)
        raise SigningKeyError(f"{path}: cannot write: {e.strerror or type(e).__name__}") from None
    return Signer(key)
