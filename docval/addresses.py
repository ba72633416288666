"""How client addresses appear in logs: ``[server] log_addresses``.

DocVal's own session lines carry no client address.  Autobahn's and Twisted's lines do
(a handshake that failed or timed out, a dropped connection), and an address is personal
data of the phone's owner.  The policy applies to every line that shows one:

* ``truncated`` (default): IPv4 keeps its /24 (``203.0.113.x``), IPv6 its /48 -- enough
  to see that failures come from one network, not enough to identify a subscriber;
* ``hashed``: a keyed hash, equal for one address within one process run only (the key
  is random per process, so hashes cannot be reversed by trying all IPv4 addresses);
* ``full``: the address as is (for debugging on a test system);
* ``none``: no address at all.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os

_KEY = os.urandom(16)


def show_address(host: str, policy: str) -> str:
    """``host`` (an IP address or a name) as ``policy`` allows it in a log line."""
    if policy == "full":
        return host
    if policy == "none":
        return "-"
    if policy == "hashed":
        return "h-" + hmac.new(_KEY, host.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:12]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "-"          # not an address (a UNIX socket path): nothing to show
    if address.version == 4:
        return str(ipaddress.ip_network(f"{address}/24", strict=False).network_address)[:-1] + "x"
    if address.ipv4_mapped is not None:
        return show_address(str(address.ipv4_mapped), policy)
    network = ipaddress.ip_network(f"{address}/48", strict=False).network_address
    return f"{network.compressed.rstrip(':')}::/48"


def show_peer(peer: str | None, policy: str) -> str | None:
    """Autobahn's ``peer`` string (``tcp4:203.0.113.7:50312``) under ``policy``; the port goes
    too unless the policy is ``full``."""
    if peer is None or policy == "full":
        return peer
    kind, _, rest = peer.partition(":")
    if not rest:
        return show_address(peer, policy)
    host = rest.rsplit(":", 1)[0] if kind in ("tcp4", "tcp6", "tcp") else rest
    host = host.strip("[]")
    return f"{kind}:{show_address(host, policy)}"
