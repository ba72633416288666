"""DocVal's configuration: a TOML file read into frozen dataclasses.

Every key is checked here, once, with a message that names it: a typo in a
production config must stop the server at start-up instead of silently running
with a default.  Unknown keys are errors for the same reason.

Without a file the server runs on built-in demo defaults (:func:`default_config`):
127.0.0.1:8080, one client ``YOUR CLIENT ID`` without a Result Server, trusting
the demo CSCA of the virtual passport.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

from docval.emrtd.files import (
    MAX_COMMANDS_PER_FILE,
    MAX_FILE_SIZE,
    MIN_COMMANDS_PER_FILE_CAP,
    MIN_FILE_SIZE_CAP,
)
from docval.clients import ClientConfig, ResultTLS, default_name, parse_clients
from docval.configerror import ConfigError, no_unknown
from docval.endpoints import EndpointError, is_loopback
from docval.endpoints import check_endpoint as _check_endpoint

__all__ = ["ClientConfig", "ConfigError", "ResultTLS", "default_name"]

_T = TypeVar("_T")

DEMO_CLIENT_ID = "YOUR CLIENT ID"
DEFAULT_LISTEN = "tcp:8080:interface=127.0.0.1"

ADDRESS_POLICIES = ("truncated", "hashed", "full", "none")
#: The WebSocket APIs: v1 on /ws1/validate, v2 (the Kinegram SDKs 2.x) on /ws2/validate.
APIS = ("v1", "v2")
DEFAULT_PER_ADDRESS = 50


@dataclass(frozen=True)
class ServerConfig:
    listen: tuple[str, ...] = (DEFAULT_LISTEN,)
    max_connections: int = 1000
    # None: 0 (off) when every listener is on loopback (a local proxy is every phone's
    # address), else DEFAULT_PER_ADDRESS; see per_address_limit().
    max_connections_per_address: int | None = None
    log_addresses: str = "truncated"
    # The WebSocket APIs served; a disabled one answers its path with 404 like an unknown path.
    apis: tuple[str, ...] = APIS

    def per_address_limit(self) -> int:
        """Connections one address may hold (handshakes included); 0 means no limit."""
        if self.max_connections_per_address is not None:
            return self.max_connections_per_address
        return 0 if all(is_loopback(e) for e in self.listen) else DEFAULT_PER_ADDRESS


@dataclass(frozen=True)
class Timeouts:
    """Seconds.  The first three are the WebSocket API's (docs/websocket-api.md); the handshake ones bound idle sockets."""

    start_message: float = 10.0
    apdu_response: float = 15.0
    max_session: float = 90.0
    open_handshake: float = 5.0
    close_handshake: float = 1.0
    # API v2 (docs/websocket-api-v2.md): the phone reads the chip itself between messages.
    # From ACCEPT until CA_HANDOVER or FINISH (it covers the phone's tag search and its reading):
    v2_read: float = 120.0
    # From CA_HANDBACK until FINISH (the phone reads the remaining files, DG2 among them):
    v2_after_handback: float = 60.0


@dataclass(frozen=True)
class TrustConfig:
    csca: tuple[Path, ...] = ()
    crl: tuple[Path, ...] = ()
    # Trusting the virtual passport's CSCA is for demos and package tests only.
    demo_csca: bool = False
    reload_interval: float = 3600.0   # 0 disables the timer; SIGHUP always reloads
    # Start (and keep running) with no CSCA loaded, every Passive Authentication failing.
    allow_empty: bool = False


@dataclass(frozen=True)
class AdminConfig:
    listen: tuple[str, ...] = ()


@dataclass(frozen=True)
class LimitsConfig:
    """Caps on what one session may read from a chip, and so on the result it delivers."""

    max_file_bytes: int = MAX_FILE_SIZE
    max_commands_per_file: int = MAX_COMMANDS_PER_FILE


@dataclass(frozen=True)
class SigningConfig:
    key_file: Path | None = None   # EC P-256 private key (PEM) for emrtd_passport_jws


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    timeouts: Timeouts = field(default_factory=Timeouts)
    trust: TrustConfig = field(default_factory=TrustConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    clients: tuple[ClientConfig, ...] = ()
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    signing: SigningConfig = field(default_factory=SigningConfig)

    def find_client(self, client_id: str) -> ClientConfig | None:
        """The client with this id, comparing every configured id in constant time.

        All ids are compared (no early exit) so the answer time does not tell a
        prober how many clients exist or which prefix matched.
        """
        # Digests make every comparison the same length, so not even the length
        # of a configured id shows in the timing.
        probe = hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).digest()
        found = None
        for client in self.clients:
            known = hashlib.sha256(client.client_id.encode("utf-8")).digest()
            if hmac.compare_digest(probe, known) and found is None:
                found = client
        return found


def default_config() -> Config:
    """The built-in demo configuration used when no --config is given."""
    return Config(
        trust=TrustConfig(demo_csca=True),
        clients=(ClientConfig(client_id=DEMO_CLIENT_ID),),
    )


def load_config(path: str | Path) -> Config:
    return _load(path, lambda data, base: parse_config(data, base_dir=base))


def load_signing(path: str | Path) -> "SigningConfig":
    """``[signing]`` of a configuration file alone, for tools that need only the key.

    The server's other start-up rules (e.g. at least one client) do not apply: docval-keys
    must work on a fresh install, before any client is configured.
    """
    return _load(path, lambda data, base: _parse_signing(_table(data, "signing"), base, ()))


def _load(path: str | Path, parse: Callable[[dict[str, Any], Path], _T]) -> _T:
    """Reads the TOML file and parses it; every message starts with the file's path."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the configuration: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    try:
        return parse(data, Path(path).resolve().parent)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


# --- parsing -------------------------------------------------------------------

_SECTIONS = {"server", "timeouts", "trust", "admin", "client", "limits", "signing"}


def parse_config(data: dict[str, Any], base_dir: Path | None = None) -> Config:
    """Validate a parsed TOML document; relative trust paths are taken from ``base_dir``."""
    no_unknown(data, _SECTIONS, "")
    server = _parse_server(_table(data, "server"))
    timeouts = _parse_timeouts(_table(data, "timeouts"))
    trust = _parse_trust(_table(data, "trust"), base_dir)
    admin = _parse_admin(_table(data, "admin"))
    if not data.get("client"):
        raise ConfigError(NO_CLIENT)
    clients = parse_clients(data.get("client"), base_dir)
    limits = _parse_limits(_table(data, "limits"))
    signing = _parse_signing(_table(data, "signing"), base_dir, clients)
    config = Config(server=server, timeouts=timeouts, trust=trust, admin=admin, clients=clients,
                    limits=limits, signing=signing)
    check_demo(config)
    return config


# --- start-up checks ---------------------------------------------------------------

NO_CLIENT = ('no client is configured: add a [[client]] section with a secret client_id '
             '(and its result_url) at the end of this file, as its commented example shows')


def check_demo(config: Config) -> None:
    """Refuses the demo client id and the demo CSCA unless every listener is on loopback.

    Both are public: anyone can send ``YOUR CLIENT ID``, and the demo CSCA's private key
    ships inside DocVal, so anyone can sign a document it "verifies".  They are for a
    server only this machine can reach; the command-line overrides are checked too.
    """
    demo = []
    if any(c.client_id == DEMO_CLIENT_ID for c in config.clients):
        demo.append(f"the demo client_id {DEMO_CLIENT_ID!r}")
    if config.trust.demo_csca:
        demo.append("[trust] demo_csca = true")
    if not demo:
        return
    exposed = [("[server] listen", e) for e in config.server.listen if not is_loopback(e)]
    exposed += [("[admin] listen", e) for e in config.admin.listen if not is_loopback(e)]
    if exposed:
        key, endpoint = exposed[0]
        raise ConfigError(
            f"{' and '.join(demo)} may only be used when every listener is on loopback, but "
            f"{key} has {endpoint!r}: configure your own [[client]] client_id and [trust] csca, "
            f"or listen on interface=127.0.0.1")


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _endpoints(value: Any, key: str, allow_empty: bool) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ConfigError(f"{key}: must be an endpoint string or a list of them")
    items = [v.strip() for v in items]
    if not items and not allow_empty:
        raise ConfigError(f"{key}: needs at least one endpoint")
    for v in items:
        check_endpoint(v, key)
    return tuple(items)


def check_endpoint(description: str, key: str) -> str:
    """The endpoint string, or ConfigError naming ``key`` (mistyped option, port out of range...)."""
    try:
        return _check_endpoint(description, key)
    except EndpointError as e:
        raise ConfigError(str(e)) from None


def _parse_server(t: dict[str, Any]) -> ServerConfig:
    no_unknown(t, {"listen", "max_connections", "max_connections_per_address", "log_addresses", "apis"},
                "server")
    d = ServerConfig()
    listen = _endpoints(t["listen"], "[server] listen", False) if "listen" in t else d.listen
    max_conn = t.get("max_connections", d.max_connections)
    if type(max_conn) is not int or not 1 <= max_conn <= 1_000_000:
        raise ConfigError("[server] max_connections: must be an integer from 1 to 1000000")
    per_address = t.get("max_connections_per_address", d.max_connections_per_address)
    if per_address is not None and (type(per_address) is not int or not 0 <= per_address <= 1_000_000):
        raise ConfigError("[server] max_connections_per_address: must be an integer from 0 (no limit) "
                          "to 1000000")
    policy = t.get("log_addresses", d.log_addresses)
    if policy not in ADDRESS_POLICIES:
        raise ConfigError(f"[server] log_addresses: must be one of {', '.join(ADDRESS_POLICIES)}")
    apis = t.get("apis", list(d.apis))
    if (not isinstance(apis, list) or not apis or not all(isinstance(a, str) and a in APIS for a in apis)
            or len(set(apis)) != len(apis)):
        raise ConfigError(f"[server] apis: must be a non-empty list of distinct values from "
                          f"{', '.join(repr(a) for a in APIS)}, got {apis!r}")
    return ServerConfig(listen=listen, max_connections=max_conn,
                        max_connections_per_address=per_address, log_addresses=policy,
                        apis=tuple(apis))


def _seconds(value: Any, key: str, allow_zero: bool = False, maximum: float = 86400.0) -> float:
    ok = type(value) in (int, float) and math.isfinite(value)
    if ok:
        ok = (value >= 0 if allow_zero else value > 0) and value <= maximum
    if not ok:
        lower = "0" if allow_zero else "a positive number"
        raise ConfigError(f"{key}: must be {lower} up to {maximum:g} seconds, got {value!r}")
    return float(value)


def _parse_timeouts(t: dict[str, Any]) -> Timeouts:
    names = ("start_message", "apdu_response", "max_session", "open_handshake", "close_handshake",
             "v2_read", "v2_after_handback")
    no_unknown(t, names, "timeouts")
    d = Timeouts()
    values = {n: _seconds(t[n], f"[timeouts] {n}") if n in t else getattr(d, n) for n in names}
    return Timeouts(**values)


def _paths(value: Any, key: str, base_dir: Path | None) -> tuple[Path, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
        raise ConfigError(f"{key}: must be a path or a list of paths")
    out = []
    for v in items:
        p = Path(v).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        out.append(p)
    return tuple(out)


def _parse_trust(t: dict[str, Any], base_dir: Path | None) -> TrustConfig:
    no_unknown(t, {"csca", "crl", "demo_csca", "reload_interval", "allow_empty"}, "trust")
    d = TrustConfig()
    allow_empty = t.get("allow_empty", d.allow_empty)
    if type(allow_empty) is not bool:
        raise ConfigError("[trust] allow_empty: must be true or false")
    csca = _paths(t["csca"], "[trust] csca", base_dir) if "csca" in t else d.csca
    crl = _paths(t["crl"], "[trust] crl", base_dir) if "crl" in t else d.crl
    demo = t.get("demo_csca", d.demo_csca)
    if type(demo) is not bool:
        raise ConfigError("[trust] demo_csca: must be true or false")
    interval = (
        _seconds(t["reload_interval"], "[trust] reload_interval", allow_zero=True, maximum=7 * 86400)
        if "reload_interval" in t else d.reload_interval
    )
    if not csca and not demo and not allow_empty:
        raise ConfigError("[trust] csca: no trust anchors configured (give paths, or demo_csca = true)")
    return TrustConfig(csca=csca, crl=crl, demo_csca=demo, reload_interval=interval,
                       allow_empty=allow_empty)


def _parse_admin(t: dict[str, Any]) -> AdminConfig:
    no_unknown(t, {"listen"}, "admin")
    if "listen" not in t:
        return AdminConfig()
    return AdminConfig(listen=_endpoints(t["listen"], "[admin] listen", True))


def _parse_signing(t: dict[str, Any], base_dir: Path | None,
                   clients: tuple[ClientConfig, ...]) -> SigningConfig:
    no_unknown(t, {"key_file"}, "signing")
    key_file = None
    if "key_file" in t:
        if not isinstance(t["key_file"], str) or not t["key_file"]:
            raise ConfigError("[signing] key_file: must be a path")
        key_file = _paths(t["key_file"], "[signing] key_file", base_dir)[0]
    for i, client in enumerate(clients, 1):
        if client.sign_returned_result and key_file is None:
            raise ConfigError(f"[[client]] #{i} sign_returned_result: needs [signing] key_file")
    return SigningConfig(key_file=key_file)


def _parse_limits(t: dict[str, Any]) -> LimitsConfig:
    no_unknown(t, {"max_file_bytes", "max_commands_per_file"}, "limits")
    d = LimitsConfig()
    # Upper bounds: no LDS file is larger than 65535 bytes (ICAO 9303-10), and a file
    # needing more commands than that is a chip drip-feeding bytes to hold the session.
    size = _integer(t, "max_file_bytes", d.max_file_bytes, MIN_FILE_SIZE_CAP, MAX_FILE_SIZE)
    commands = _integer(t, "max_commands_per_file", d.max_commands_per_file,
                        MIN_COMMANDS_PER_FILE_CAP, 100_000)
    return LimitsConfig(max_file_bytes=size, max_commands_per_file=commands)


def _integer(t: dict[str, Any], name: str, default: int, lowest: int, highest: int) -> int:
    value = t.get(name, default)
    if type(value) is not int or not lowest <= value <= highest:
        raise ConfigError(f"[limits] {name}: must be an integer from {lowest} to {highest}, got {value!r}")
    return value
