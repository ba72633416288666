"""Server endpoints from Twisted endpoint strings, with TLS 1.2 as the floor for ``ssl:``.

``serverFromString("ssl:...")`` builds its context with Twisted's defaults, and Twisted
22.4 (Debian 12) still accepts TLS 1.0 and 1.1. Phones relay passport chip traffic over
this socket, so DocVal parses ``ssl:`` descriptions itself and raises the minimum to TLS
1.2; every other description (``tcp:``, ``unix:``, ``systemd:``...) goes to Twisted as is.
"""
from __future__ import annotations

import ipaddress
import re

from twisted.internet import ssl
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
# serverFromString's parser and tokenizer: private names, but the same in Twisted 22.4
# and the latest release, and the only way to read a description as Twisted does.
from twisted.internet.endpoints import _parse as _twisted_parse
from twisted.internet.endpoints import _STRING as _TOKEN_STRING
from twisted.internet.endpoints import _tokenize as _twisted_tokenize
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


def _check_escapes(description: str) -> None:
    # Twisted's tokenizer fails with a bare RuntimeError on a trailing escape.  A run of
    # backslashes pairs up from the left, so an odd run at the end leaves one unescaped.
    trailing = len(description) - len(description.rstrip("\\"))
    if trailing % 2:
        raise EndpointError("endpoint description ends with a lone backslash")


def _split(description: str) -> tuple[list[str], dict[str, str]]:
    """Positional and keyword arguments (type first) exactly as ``serverFromString`` reads
    them: Twisted's own parser, so that where a keyword is repeated, the value checked here
    is the one Twisted will use (the last)."""
    _check_escapes(description)
    args, kw = _twisted_parse(description)
    return list(args) or [""], dict(kw)      # "=x" has no type: checked as an empty one


def _arguments(description: str) -> list[list[str]]:
    """The ':'-separated arguments in order, each ``[value]`` or ``[key, value]``, from
    Twisted's tokenizer.  Only parse_ssl needs the order (to refuse repeats and positionals
    after keywords, which Twisted's parser would silently merge)."""
    _check_escapes(description)
    args: list[list[str]] = [[]]
    for kind, value in _twisted_tokenize(description):
        if kind == _TOKEN_STRING:
            args[-1].append(value)
        elif value == ":":
            args.append([])
    return args


def parse_ssl(description: str) -> tuple[list[str], dict[str, str]]:
    """Positional and keyword arguments of an ``ssl:`` description (without the ``ssl``)."""
    tokens = _arguments(description)
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
    for name, value in zip(names, positional, strict=False):  # fewer positionals is fine
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


# --------------------------------------------------------------------------- checking
# Operators type endpoint strings by hand (config file, --listen, --admin, the docval@ unit).
# Twisted reports a mistyped keyword as a TypeError, an unknown type as a ValueError and an
# out-of-range port only when binding (OverflowError): check them all up front, so each
# mistake is one line that names the key or option, not a traceback.

_KNOWN_OPTIONS = {
    "tcp": ("port", "interface", "backlog"),
    "tcp6": ("port", "interface", "backlog"),
    "ssl": tuple(sorted(_SSL_KEYS)),
    "unix": ("address", "mode", "backlog", "lockfile"),
    "systemd": ("domain", "index"),
}
_PORTED = {"tcp", "tcp6", "ssl"}
EXAMPLE = "tcp:8080:interface=127.0.0.1"


class _NoReactor:
    """Parsing a description builds an endpoint object but never touches the reactor."""


def check_endpoint(description: str, key: str) -> str:
    """Raises EndpointError (message starting with ``key``) unless ``description`` is usable."""
    where = f"{key}: {description!r}"
    try:
        args, kw = _split(description)
    except EndpointError as e:
        raise EndpointError(f"{where}: {e}") from None
    kind = args[0].lower()
    if len(args) + len(kw) < 2 or not kind.isidentifier():
        raise EndpointError(f"{where} is not a Twisted endpoint string: write e.g. {EXAMPLE!r}")
    known = _KNOWN_OPTIONS.get(kind)
    if known is not None:
        for option in kw:
            if option not in known:
                raise EndpointError(
                    f"{where}: unknown option {option!r} for {kind}: (known: {', '.join(known)})")
    if kind in _PORTED:
        port = port_of(description)
        if port is None:
            raise EndpointError(f"{where}: needs a port number, e.g. {EXAMPLE!r}")
        if not 0 <= port <= 65535:
            raise EndpointError(
                f"{where}: port {port} is out of range (1-65535, or 0 for any free port)")
    try:
        if kind == "ssl":
            parse_ssl(description)
        elif kind != "systemd":   # systemd: looks up inherited sockets while parsing
            serverFromString(_NoReactor(), description)
    except EndpointError as e:
        raise EndpointError(f"{where}: {e}") from None
    except (TypeError, ValueError, LookupError) as e:
        raise EndpointError(f"{where}: {_twisted_reason(e)}; write e.g. {EXAMPLE!r}") from None
    return description


def _twisted_reason(error: Exception) -> str:
    text = str(error)
    unexpected = re.search(r"unexpected keyword argument '([^']*)'", text)
    if unexpected:
        return f"unknown option {unexpected.group(1)!r}"
    unknown = re.search(r"Unknown endpoint type: '([^']*)'", text)
    if unknown:
        return f"unknown endpoint type {unknown.group(1)!r}"
    return text.splitlines()[0] if text else type(error).__name__


_LOOPBACK_NAMES = {"localhost", "ip6-localhost", "ip6-loopback"}


def is_loopback(description: str) -> bool:
    """True when the endpoint accepts connections from this machine only.

    ``unix:`` sockets are local; ``tcp``/``tcp6``/``ssl`` are local only with a loopback
    ``interface`` (none means every interface). Anything else (``systemd:`` sockets, other
    plugins) cannot be told from the string and counts as reachable from outside.
    """
    try:
        args, kw = _split(description)
    except EndpointError:
        return False
    kind = args[0].lower()
    if kind == "unix":
        return True
    if kind not in _PORTED:
        return False
    # tcp:PORT:INTERFACE is Twisted's positional form; ssl's fifth positional is too far
    # for parse_ssl, which refuses it.
    positional = args[2] if kind != "ssl" and len(args) > 2 else ""
    interface = kw.get("interface", positional)
    if interface.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(interface.strip("[]")).is_loopback
    except ValueError:
        return False


def port_of(description: str) -> int | None:
    """The port of a ``tcp``/``tcp6``/``ssl`` description as Twisted reads it (a ``port=``
    keyword, else the first positional argument); None for other kinds or no number."""
    try:
        args, kw = _split(description)
    except EndpointError:
        return None
    if args[0].lower() not in _PORTED:
        return None
    port = kw.get("port", args[1] if len(args) > 1 else None)
    if port is None or not port.strip().isdigit():
        return None
    return int(port)
