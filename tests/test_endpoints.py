from __future__ import annotations

import socket
import ssl

import pytest
import pytest_twisted
from twisted.internet import protocol, reactor
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.threads import deferToThread

from docval.endpoints import EndpointError, check_endpoint, is_loopback, parse_ssl, port_of, server_endpoint
from tests.deploy.tlsutil import make_tls_files

pytestmark = [
    pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning"),
    # Twisted's CertificateOptions still hands pyOpenSSL objects to newer pyOpenSSL.
    pytest.mark.filterwarnings("ignore:Passing pyOpenSSL:DeprecationWarning"),
]


class Echo(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


def handshake(port: int, version: ssl.TLSVersion, root: str | None = None) -> str:
    """Blocking TLS client pinned to one protocol version; returns the negotiated version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if root:
        ctx.load_verify_locations(root)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    # Let the client offer old versions at all, so that the server is what refuses them.
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    ctx.minimum_version = ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"ping")
            assert tls.recv(4) == b"ping"
            return tls.version()


@pytest_twisted.inlineCallbacks
def test_tls_below_1_2_refused_1_2_and_1_3_work(tmp_path):
    f = make_tls_files(tmp_path)
    ep = server_endpoint(
        reactor, f"ssl:0:interface=127.0.0.1:privateKey={f.key}:certKey={f.cert}"
        f":extraCertChain={f.chain}",
    )
    assert isinstance(ep, SSL4ServerEndpoint)
    port = yield ep.listen(protocol.Factory.forProtocol(Echo))
    try:
        number = port.getHost().port
        for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with pytest.raises(ssl.SSLError) as err:
                yield deferToThread(handshake, number, old)
            # The server's protocol_version alert: refused for the version, not for some
            # other reason (Twisted 22.4's defaults fail these with internal_error instead).
            assert "PROTOCOL_VERSION" in str(err.value)
        # Verified against the root only: the intermediate comes from extraCertChain.
        got = yield deferToThread(handshake, number, ssl.TLSVersion.TLSv1_2, str(f.root))
        assert got == "TLSv1.2"
        got = yield deferToThread(handshake, number, ssl.TLSVersion.TLSv1_3, str(f.root))
        assert got == "TLSv1.3"
    finally:
        yield port.stopListening()


@pytest_twisted.inlineCallbacks
def test_certificate_and_key_in_one_file(tmp_path):
    f = make_tls_files(tmp_path)
    both = tmp_path / "both.pem"
    both.write_bytes(f.cert.read_bytes() + f.key.read_bytes())
    # Positional form, as Twisted documents it: ssl:PORT:KEYFILE
    ep = server_endpoint(reactor, f"ssl:0:{both}:interface=127.0.0.1")
    port = yield ep.listen(protocol.Factory.forProtocol(Echo))
    try:
        got = yield deferToThread(handshake, port.getHost().port, ssl.TLSVersion.TLSv1_2)
        assert got == "TLSv1.2"
    finally:
        yield port.stopListening()


def test_non_ssl_descriptions_go_to_twisted():
    assert isinstance(server_endpoint(reactor, "tcp:8080:interface=127.0.0.1"), TCP4ServerEndpoint)


def test_parse_ssl_escapes_and_keywords():
    positional, kw = parse_ssl(r"ssl:443:privateKey=C\:\\k.pem:interface=\:\:1:dhParameters=a=b")
    assert positional == ["443"]
    assert kw == {"port": "443", "privateKey": "C:\\k.pem", "interface": "::1", "dhParameters": "a=b"}


@pytest.mark.parametrize("description, message", [
    ("ssl:443:sslmethod=TLSv1_METHOD:privateKey=k", "sslmethod"),
    ("ssl:443:cipher=NULL", "unknown option 'cipher'"),
    ("ssl:interface=127.0.0.1", "port is required"),
    ("ssl:443:port=444", "given twice"),
    ("ssl:443:interface=a:interface=b", "given twice"),
    ("ssl:443:a:b:c", "too many"),
    ("ssl:443:privateKey=k:x", "positional argument after"),
    ("ssl:443\\", "lone backslash"),
])
def test_parse_ssl_rejects(description, message):
    with pytest.raises(EndpointError, match=message):
        parse_ssl(description)


def test_unusable_files_name_the_option(tmp_path):
    with pytest.raises(EndpointError, match="privateKey"):
        server_endpoint(reactor, f"ssl:0:privateKey={tmp_path / 'missing.pem'}")
    f = make_tls_files(tmp_path)
    with pytest.raises(EndpointError, match="extraCertChain"):
        server_endpoint(reactor, f"ssl:0:privateKey={f.key}:certKey={f.cert}:extraCertChain={f.key}")
    with pytest.raises(EndpointError, match="certificate and key"):
        server_endpoint(reactor, f"ssl:0:privateKey={f.key}:certKey={f.key}")
    with pytest.raises(EndpointError, match="integers"):
        server_endpoint(reactor, f"ssl:https:privateKey={f.key}:certKey={f.cert}")
    with pytest.raises(EndpointError, match="between"):
        server_endpoint(reactor, f"ssl:70000:privateKey={f.key}:certKey={f.cert}")


# --- reading descriptions as Twisted does ----------------------------------------------

@pytest.mark.parametrize("description, loopback", [
    ("tcp:8080:interface=127.0.0.1", True),
    ("tcp:8080", False),
    ("unix:/run/docval.sock", True),
    ("systemd:domain=INET:index=0", False),
    # Twisted binds the last of repeated keywords: so must the check.
    ("tcp:8080:interface=127.0.0.1:interface=0.0.0.0", False),
    ("tcp:8080:interface=0.0.0.0:interface=127.0.0.1", True),
    # tcp:PORT:INTERFACE is Twisted's positional form of the interface.
    ("tcp:8080:127.0.0.1", True),
    ("tcp6:8080:\\:\\:1", True),
    ("ssl:8443:privateKey=k.pem:interface=localhost", True),
    ("tcp:8080:interface=127.0.0.1\\", False),          # unparsable: not trusted as local
])
def test_is_loopback_reads_the_description_as_twisted_does(description, loopback):
    assert is_loopback(description) is loopback


def test_port_of_takes_the_keyword_or_the_first_positional():
    assert port_of("tcp:8080:interface=127.0.0.1") == 8080
    assert port_of("tcp:interface=127.0.0.1:port=8081") == 8081
    assert port_of("ssl:8443:privateKey=k.pem") == 8443
    assert port_of("unix:/run/x.sock") is None
    assert port_of("tcp:http") is None
    assert port_of("tcp:8080\\") is None


@pytest.mark.parametrize("description", ["tcp:8080\\", "tcp:8080:interface=a\\\\\\"])
def test_a_lone_trailing_backslash_is_one_clean_error(description):
    with pytest.raises(EndpointError, match="lone backslash"):
        check_endpoint(description, "[server] listen")


def test_an_escaped_trailing_backslash_is_not_lone():
    # 'unix:C\\' is the path 'C\': the backslash is escaped, nothing is left dangling.
    assert check_endpoint("unix:C\\\\", "[server] listen") == "unix:C\\\\"


def test_a_description_without_a_type_is_not_an_endpoint_string():
    with pytest.raises(EndpointError, match="is not a Twisted endpoint string"):
        check_endpoint("=8080", "--listen")
