"""The ``[[client]]`` sections: who may use the server and where each client's results go.

One client is an API key (``client_id``) with its Result Server: the URL, how DocVal
authenticates to it (HMAC signature secrets, a bearer token, a client certificate) and
which CAs it trusts for it.  Every secret is read from a file the operator controls and
checked here, once, at start-up, with a message that names the key.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

from docval.configerror import ConfigError, no_unknown


@dataclass(frozen=True)
class ResultTLS:
    """TLS settings of one client's Result Server connection, as loaded PEM bytes.

    ``ca_pems`` replaces the system trust store when not empty; the client
    certificate is sent for mutual TLS when set.  Kept as bytes (not Twisted
    objects) so this module stays free of Twisted, and hashable so the poster
    can share one connection pool between clients with the same settings.
    """

    ca_pems: tuple[bytes, ...] = ()
    client_certificate_pem: bytes | None = None
    # The certificates sent after the client certificate (intermediates), if any.
    client_chain_pems: tuple[bytes, ...] = ()
    client_key_pem: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ClientConfig:
    # repr=False: the client id is an API access key and must not end up in logs.
    client_id: str = field(repr=False)
    result_url: str | None = None
    files_binary: bool = False
    # What logs and metrics call the client; never the client_id (default_name()).
    name: str = ""
    # HMAC keys for DocVal-Signature, the current one first.
    result_signing_secrets: tuple[bytes, ...] = field(default=(), repr=False)
    result_bearer_token: str | None = field(default=None, repr=False)
    result_tls: ResultTLS = field(default_factory=ResultTLS)
    # Adds emrtd_passport_jws (signed with [signing] key_file) to the result sent to the phone.
    sign_returned_result: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", default_name(self.client_id))

    @property
    def returns_only(self) -> bool:
        """True when the client has no Result Server (results go to the phone only)."""
        return self.result_url is None


def default_name(client_id: str) -> str:
    """A stable, short label for a client without a ``name``: a hash prefix, never the id.

    32 bits of SHA-256 tell nothing usable about a long random id, yet keep the
    labels of a handful of clients apart.
    """
    return "client-" + hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]


_CLIENT_KEYS = {
    "client_id", "name", "result_url", "files_binary", "allow_insecure_result_url",
    "result_signing_secret_file", "result_bearer_token_file", "result_ca_file",
    "result_client_certificate_file", "result_client_key_file", "sign_returned_result",
}
# Letters, digits and . _ - : safe in a log line, a Prometheus label and a file name.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def parse_clients(value: Any, base_dir: Path | None = None) -> tuple[ClientConfig, ...]:
    if value is None:
        raise ConfigError("[[client]]: at least one client must be configured")
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise ConfigError("[[client]]: must be an array of tables ([[client]] sections)")
    if not value:
        raise ConfigError("[[client]]: at least one client must be configured")
    clients = []
    seen: set[str] = set()
    names: set[str] = set()
    for i, t in enumerate(value, 1):
        where = f"[[client]] #{i}"
        no_unknown(t, _CLIENT_KEYS, f"[client] #{i}")
        name = t.get("name")
        if name is not None:
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise ConfigError(
                    f"{where} name: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
                )
            # From here on messages name the client as the operator does.
            where = f'{where} "{name}"'
        cid = t.get("client_id")
        if not isinstance(cid, str) or not cid.strip():
            raise ConfigError(f"{where} client_id: required, a non-empty string")
        if len(cid) > 256 or not cid.isprintable():
            raise ConfigError(f"{where} client_id: at most 256 printable characters")
        if cid in seen:
            # The message must not repeat the id: it is a secret.
            raise ConfigError(f"{where} client_id: the same client_id is configured twice")
        seen.add(cid)
        if name is not None and hmac.compare_digest(name.encode(), cid.encode("utf-8")):
            # The name goes into every log line and metric; the id is a secret (and
            # so is this name: the message numbers the client instead).
            raise ConfigError(f"[[client]] #{i} name: must not be the client_id (the name is logged)")
        name = name if name is not None else default_name(cid)
        if name in names:
            raise ConfigError(f"{where} name: another client already has this name")
        names.add(name)
        fb = t.get("files_binary", False)
        if type(fb) is not bool:
            raise ConfigError(f"{where} files_binary: must be true or false")
        sign = t.get("sign_returned_result", False)
        if type(sign) is not bool:
            raise ConfigError(f"{where} sign_returned_result: must be true or false")
        clients.append(replace(_parse_delivery(t, where, cid, name, fb, base_dir),
                               sign_returned_result=sign))
    return tuple(clients)


_DELIVERY_FILES = (
    "result_signing_secret_file", "result_bearer_token_file", "result_ca_file",
    "result_client_certificate_file", "result_client_key_file",
)


def _parse_delivery(t: dict[str, Any], where: str, cid: str, name: str, files_binary: bool,
                    base_dir: Path | None) -> ClientConfig:
    """The client's Result Server: URL, authentication and TLS settings."""
    insecure = t.get("allow_insecure_result_url", False)
    if type(insecure) is not bool:
        raise ConfigError(f"{where} allow_insecure_result_url: must be true or false")
    url = t.get("result_url")
    if url is None:
        for key in _DELIVERY_FILES + ("allow_insecure_result_url",):
            if key in t:
                raise ConfigError(f"{where} {key}: needs a result_url (this client has no Result Server)")
        return ClientConfig(client_id=cid, name=name, files_binary=files_binary)
    url = _result_url(url, f"{where} result_url", insecure)
    https = urlsplit(url).scheme == "https"
    paths = {}
    for key in _DELIVERY_FILES:
        if key in t:
            value = t[key]
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{where} {key}: must be a path")
            p = Path(value).expanduser()
            if not p.is_absolute() and base_dir is not None:
                p = base_dir / p
            paths[key] = p

    secrets: tuple[bytes, ...] = ()
    if "result_signing_secret_file" in paths:
        secrets = _signing_secrets(_secret_file(paths["result_signing_secret_file"],
                                                f"{where} result_signing_secret_file"),
                                   f"{where} result_signing_secret_file")
    token = None
    if "result_bearer_token_file" in paths:
        key = f"{where} result_bearer_token_file"
        token = _bearer_token(_secret_file(paths["result_bearer_token_file"], key), key)

    tls_keys = [k for k in ("result_ca_file", "result_client_certificate_file", "result_client_key_file")
                if k in paths]
    if tls_keys and not https:
        raise ConfigError(f"{where} {tls_keys[0]}: only used for an https:// result_url")
    has_cert = "result_client_certificate_file" in paths
    has_key = "result_client_key_file" in paths
    if has_cert != has_key:
        missing = "result_client_key_file" if has_cert else "result_client_certificate_file"
        present = "result_client_certificate_file" if has_cert else "result_client_key_file"
        raise ConfigError(f"{where} {missing}: required together with {present} (mutual TLS needs both)")
    tls = ResultTLS()
    if tls_keys:
        ca: tuple[bytes, ...] = ()
        if "result_ca_file" in paths:
            key = f"{where} result_ca_file"
            ca = _certificates(_read(paths["result_ca_file"], key), key)
        cert = chain = key_pem = None
        if has_cert:
            ckey = f"{where} result_client_certificate_file"
            certs = _certificates(_read(paths["result_client_certificate_file"], ckey), ckey)
            kkey = f"{where} result_client_key_file"
            key_pem = _private_key(_secret_file(paths["result_client_key_file"], kkey), certs[0], kkey)
            cert, chain = certs[0], certs[1:]
        tls = ResultTLS(ca_pems=ca, client_certificate_pem=cert, client_chain_pems=chain or (),
                        client_key_pem=key_pem)
    return ClientConfig(
        client_id=cid, name=name, result_url=url, files_binary=files_binary,
        result_signing_secrets=secrets, result_bearer_token=token, result_tls=tls,
    )


def _read(path: Path, key: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(1 << 20)
    except OSError as e:
        raise ConfigError(f"{key}: cannot read {str(path)!r}: {e.strerror or e}") from None


def _secret_file(path: Path, key: str) -> bytes:
    """Reads a file holding a secret, refusing one that every user of the machine may read."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise ConfigError(f"{key}: cannot read {str(path)!r}: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{key}: {str(path)!r} is not a regular file")
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigError(
            f"{key}: {str(path)!r} is readable or writable by other users; "
            f"it holds a secret (chmod o-rw, e.g. 0640 root:docval)"
        )
    return _read(path, key)


def _signing_secrets(data: bytes, key: str) -> tuple[bytes, ...]:
    """One secret per line, the current one first.

    A secret is the line's bytes without its line ending (LF or CRLF); empty and
    whitespace-only lines are skipped, so a trailing newline or a blank line
    between old and new secrets is harmless.
    """
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: the file is not UTF-8 text") from None
    secrets = []
    for line in data.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.strip():
            secrets.append(line)
    if not secrets:
        raise ConfigError(f"{key}: the file holds no secret (one secret per line, the current one first)")
    return tuple(secrets)


def _bearer_token(data: bytes, key: str) -> str:
    if data.endswith(b"\n"):
        data = data[:-1]
        if data.endswith(b"\r"):
            data = data[:-1]
    if not data:
        raise ConfigError(f"{key}: the file is empty (it must hold the token)")
    # A header value: visible ASCII only, so the token cannot split or end the header.
    if not all(0x21 <= b <= 0x7E for b in data):
        raise ConfigError(f"{key}: the token must be one line of visible ASCII characters without spaces")
    return data.decode("ascii")


_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.S)


def _certificates(data: bytes, key: str) -> tuple[bytes, ...]:
    """The PEM certificates of a file, each checked to load."""
    pems = tuple(m.group(0) + b"\n" for m in _PEM_CERT.finditer(data))
    if not pems:
        raise ConfigError(f"{key}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file")
    for n, pem in enumerate(pems, 1):
        try:
            x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise ConfigError(f"{key}: certificate #{n} in the file does not load") from None
    return pems


def _private_key(data: bytes, cert_pem: bytes, key: str) -> bytes:
    """The PEM private key, checked to be unencrypted and to match the certificate."""
    try:
        private = load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(f"{key}: the key is encrypted; DocVal needs an unencrypted PEM key") from None
    except Exception:   # ValueError, UnsupportedAlgorithm: any unusable key
        raise ConfigError(f"{key}: not a PEM private key (PKCS#8 or traditional)") from None
    public = x509.load_pem_x509_certificate(cert_pem).public_key()
    spki = Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(*spki) != public.public_bytes(*spki):
        raise ConfigError(f"{key}: the key does not belong to result_client_certificate_file's certificate")
    return data


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _result_url(value: Any, key: str, allow_insecure: bool = False) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{key}: must be an http:// or https:// URL string")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        # Not repeated: a malformed URL may still carry a password.
        raise ConfigError(f"{key}: not a valid URL") from None
    del port
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        # Credentials in the URL would be logged with it; use result_bearer_token_file.
        raise ConfigError(f"{key}: must not contain user:password@ (use result_bearer_token_file)")
    # The URL is not repeated in messages: its path or query may hold a token.
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{key}: must be an http:// or https:// URL with a host")
    if parts.fragment or any(c.isspace() for c in value):
        raise ConfigError(f"{key}: must not contain spaces or a #fragment")
    if parts.scheme == "http" and not allow_insecure and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{key}: plain http:// to {parts.hostname!r}, not a loopback host; results hold personal "
            f"data: use https://, or set allow_insecure_result_url = true for this client"
        )
    return value
