"""Server endpoints from Twisted endpoint strings, with TLS 1.2 as the floor for ``ssl:``.

``serverFromString("ssl:...")`` builds its context with Twisted's defaults, and Twisted
22.4 (Debian 12) still accepts TLS 1.0 and 1.1. Phones relay passport chip traffic over
this socket, so DocVal parses ``ssl:`` descriptions itself and raises the minimum to TLS
1.2; every other description (``tcp:``, ``unix:``, ``systemd:``...) goes to Twisted as is.
"""
from __future__ import annotations

import re

from twisted.internet import ssl
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.python.filepath import FilePath

_SSL_KEYS = frozenset(
    {"port", "interface", "backlog", "privateKey", "certKey", "extraCertChain", "dhParameters"}
)
_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


class EndpointError(ValueError):
    """An endpoint description that cannot be used; the message names the offending part."""


def _tokenize(description: str) -> list[list[str]]:
    """Split like Twisted: ':' separates arguments, the first '=' of an argument separates
    key from value, and a backslash escapes the next character."""
    args: list[list[str]] = [[""]]
    chars = iter(description)
    for ch in chars:
        if ch == "\\":
            try:
                args[-1][-1] += next(chars)
            except StopIteration:
                raise EndpointError("endpoint description ends with a lone backslash") from None
        elif ch == ":":
            args.append([""])
        elif ch == "=" and len(args[-1]) == 1:
            args[-1].append("")
        else:
            args[-1][-1] += ch
    return args


def parse_ssl(description: str) -> tuple[list[str], dict[str, str]]:
    """Positional and keyword arguments of an ``ssl:`` description (without the ``ssl``)."""
    tokens = _tokenize(description)
    if tokens[0] != ["ssl"]:
        raise EndpointError("not an ssl: endpoint description")
    positional: list[str] = []
    keywords: dict[str, str] = {}
    for token in tokens[1:]:
        if len(token) == 1:
            if keywords:
                raise EndpointError("ssl: positional argument after keyword arguments")
            positional.append(token[0])
        else:
            key, value = token
            if key == "sslmethod":
                raise EndpointError(
                    "ssl: sslmethod is not supported: DocVal always negotiates TLS 1.2 or newer"
                )
            if key not in _SSL_KEYS:
                raise EndpointError(f"ssl: unknown option {key!r}")
            if key in keywords:
                raise EndpointError(f"ssl: option {key!r} given twice")
            keywords[key] = value
    names = ("port", "privateKey", "certKey")
    if len(positional) > len(names):
        raise EndpointError("ssl: too many positional arguments")
    for name, value in zip(names, positional):
        if name in keywords:
            raise EndpointError(f"ssl: option {name!r} given twice")
        keywords[name] = value
    if "port" not in keywords:
        raise EndpointError("ssl: a port is required, e.g. ssl:8443:privateKey=key.pem")
    return positional, keywords


def _read(path: str, option: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise EndpointError(f"ssl: cannot read {option} file {path!r}: {e.strerror}") from None


def tls_options(
    privateKey: str, certKey: str | None = None, extraCertChain: str | None = None,
    dhParameters: str | None = None,
) -> ssl.CertificateOptions:
    """Server TLS options: the certificate and key from PEM files, TLS 1.2 minimum."""
    key_pem = _read(privateKey, "privateKey")
    cert_pem = _read(certKey, "certKey") if certKey else key_pem
    try:
        private_cert = ssl.PrivateCertificate.loadPEM(cert_pem + b"\n" + key_pem)
    except Exception as e:   # pyOpenSSL raises its own Error types for bad PEM
        raise EndpointError(f"ssl: cannot load certificate and key: {e}") from None
    chain = []
    if extraCertChain:
        pems = _PEM_CERT.findall(_read(extraCertChain, "extraCertChain"))
        if not pems:
            raise EndpointError(
                f"ssl: extraCertChain file {extraCertChain!r} contains no PEM certificate"
            )
        chain = [ssl.Certificate.loadPEM(pem).original for pem in pems]
    kwargs = {}
    if dhParameters:
        _read(dhParameters, "dhParameters")
        kwargs["dhParameters"] = ssl.DiffieHellmanParameters.fromFile(FilePath(dhParameters))
    return ssl.CertificateOptions(
        privateKey=private_cert.privateKey.original,
        certificate=private_cert.original,
        extraCertChain=chain or None,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        **kwargs,
    )


def server_endpoint(reactor, description: str) -> IStreamServerEndpoint:
    """Like ``serverFromString``, but ``ssl:`` endpoints refuse anything older than TLS 1.2."""
    if not description.startswith("ssl:"):
        return serverFromString(reactor, description)
    _, kw = parse_ssl(description)
    try:
        port = int(kw["port"])
        backlog = int(kw.get("backlog", "50"))
    except ValueError:
        raise EndpointError("ssl: port and backlog must be integers") from None
    if not 0 <= port <= 65535:
        raise EndpointError("ssl: port must be between 0 and 65535")
    options = tls_options(
        kw.get("privateKey", "server.pem"), kw.get("certKey"),
        kw.get("extraCertChain"), kw.get("dhParameters"),
    )
    return SSL4ServerEndpoint(
        reactor, port, options, backlog=backlog, interface=kw.get("interface", "")
    )
