"""The fixed demo PKI of Utopia: the same CSCA and document signers in every process,
because their keys are the constants below.

THE DEMO KEYS ARE PUBLIC TEST MATERIAL.  Never trust the demo CSCA in production.

Part of :mod:`docval.sim.pki`, which re-exports every public name here; most of
this module is the declared table of PEM constants.
"""
from __future__ import annotations

import functools
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from docval.emrtd import signatures
from docval.sim.pki_certs import PKI, Signer, generate_pki, issue_certificate


@functools.lru_cache(maxsize=1)
def demo_pki() -> PKI:
    """The fixed demo PKI of Utopia (same in every process)."""
    def load(pem: str) -> Any:
        return serialization.load_pem_private_key(pem.encode("ascii"), password=None)

    def cert(pem: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))

    return PKI(
        csca=Signer(load(_DEMO_CSCA_KEY), cert(_DEMO_CSCA_CERT), signatures.ECDSA),
        dsc=Signer(load(_DEMO_DSC_KEY), cert(_DEMO_DSC_CERT), signatures.ECDSA),
        dsc_rsa_pss=Signer(load(_DEMO_DSC_RSA_KEY), cert(_DEMO_DSC_RSA_CERT), signatures.RSA_PSS),
    )


def demo_csca_pem() -> bytes:
    """The demo CSCA certificate the demo server trusts (PEM)."""
    return _DEMO_CSCA_CERT.encode("ascii")


def demo_csca_der() -> bytes:
    return demo_pki().csca.cert_der


def _generate_demo_material() -> str:
    """Python source of fresh demo constants (how the ones below were made)."""
    pki = generate_pki(common_name="DocVal Demo CSCA (TEST ONLY)")
    # Rebuild the DSCs with demo names.
    csca = pki.csca
    dsc = Signer(pki.dsc.key, issue_certificate(csca, pki.dsc.key.public_key(), serial=2,
                                                common_name="DocVal Demo DS (TEST ONLY)"))
    rsa_dsc = Signer(pki.dsc_rsa_pss.key, issue_certificate(csca, pki.dsc_rsa_pss.key.public_key(), serial=3,
                                                            common_name="DocVal Demo DS RSA-PSS (TEST ONLY)"))

    def key_pem(k: Any) -> str:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption()).decode("ascii")

    parts = []
    for name, value in (("_DEMO_CSCA_KEY", key_pem(csca.key)), ("_DEMO_CSCA_CERT", csca.cert_pem.decode()),
                        ("_DEMO_DSC_KEY", key_pem(dsc.key)), ("_DEMO_DSC_CERT", dsc.cert_pem.decode()),
                        ("_DEMO_DSC_RSA_KEY", key_pem(rsa_dsc.key)),
                        ("_DEMO_DSC_RSA_CERT", rsa_dsc.cert_pem.decode())):
        parts.append(f'{name} = """\\\n{value}"""\n')
    return "\n".join(parts)


# DEMO MATERIAL - PUBLIC TEST KEYS, NOT SECRET, NEVER FOR PRODUCTION.
# Made once with _generate_demo_material(); brainpoolP256r1 CSCA and DSC, RSA-2048 DSC.
_DEMO_CSCA_KEY = """\
-----BEGIN PRIVATE KEY-----
MIGIAgEAMBQGByqGSM49AgEGCSskAwMCCAEBBwRtMGsCAQEEIB9OK3ylcfX8QQ1N
0r5exo6BsXpPnRN/TMtfZo2Uek1ToUQDQgAEYgABLHwfXsxABK7cNCSz7pe9eYWx
fxQLN8nPT5NaBaID2rr0VTQMw1uh0ffHhT9PLJjnu9Zi+JwzcS6l488Eyw==
-----END PRIVATE KEY-----
"""

_DEMO_CSCA_CERT = """\
-----BEGIN CERTIFICATE-----
MIIB6TCCAZCgAwIBAgIBATAKBggqhkjOPQQDAjBKMQswCQYDVQQGEwJVVDEUMBIG
A1UECgwLRG9jVmFsIERlbW8xJTAjBgNVBAMMHERvY1ZhbCBEZW1vIENTQ0EgKFRF
U1QgT05MWSkwHhcNMjQwMTAxMDAwMDAwWhcNNDkxMjMxMDAwMDAwWjBKMQswCQYD
VQQGEwJVVDEUMBIGA1UECgwLRG9jVmFsIERlbW8xJTAjBgNVBAMMHERvY1ZhbCBE
ZW1vIENTQ0EgKFRFU1QgT05MWSkwWjAUBgcqhkjOPQIBBgkrJAMDAggBAQcDQgAE
YgABLHwfXsxABK7cNCSz7pe9eYWxfxQLN8nPT5NaBaID2rr0VTQMw1uh0ffHhT9P
LJjnu9Zi+JwzcS6l488Ey6NmMGQwEgYDVR0TAQH/BAgwBgEB/wIBADAOBgNVHQ8B
Af8EBAMCAQYwHQYDVR0OBBYEFKCoyCqJlVnAuVwocc+RnzbyxYKbMB8GA1UdIwQY
MBaAFKCoyCqJlVnAuVwocc+RnzbyxYKbMAoGCCqGSM49BAMCA0cAMEQCIFhPTqjr
i+qS4dHQmSxc1FHUMBlWm2KcOB0W4TBdfurfAiAOc1lIMdvw8YcYlcOX2+y9OvXt
QIe2PGe8zTFmh/o34Q==
-----END CERTIFICATE-----
"""

_DEMO_DSC_KEY = """\
-----BEGIN PRIVATE KEY-----
MIGIAgEAMBQGByqGSM49AgEGCSskAwMCCAEBBwRtMGsCAQEEIBDfNpgTlO3u59CX
OQr15Bzlyk4Fo5BHz2XRdD3Y61GZoUQDQgAEbiJfADFpkmWhtIylyX0VLeMw9cdX
o4C7wjzfmKidsvIIg9JZ8FqUDTlvm6l4jYvhYxwPr4hq/FCrE5HGwbeFSA==
-----END PRIVATE KEY-----
"""

_DEMO_DSC_CERT = """\
-----BEGIN CERTIFICATE-----
MIIB1DCCAXqgAwIBAgIBAjAKBggqhkjOPQQDAjBKMQswCQYDVQQGEwJVVDEUMBIG
A1UECgwLRG9jVmFsIERlbW8xJTAjBgNVBAMMHERvY1ZhbCBEZW1vIENTQ0EgKFRF
U1QgT05MWSkwHhcNMjQwMTAxMDAwMDAwWhcNNDkxMjMxMDAwMDAwWjBIMQswCQYD
VQQGEwJVVDEUMBIGA1UECgwLRG9jVmFsIERlbW8xIzAhBgNVBAMMGkRvY1ZhbCBE
ZW1vIERTIChURVNUIE9OTFkpMFowFAYHKoZIzj0CAQYJKyQDAwIIAQEHA0IABG4i
XwAxaZJlobSMpcl9FS3jMPXHV6OAu8I835ionbLyCIPSWfBalA05b5upeI2L4WMc
D6+IavxQqxORxsG3hUijUjBQMB8GA1UdIwQYMBaAFKCoyCqJlVnAuVwocc+Rnzby
xYKbMB0GA1UdDgQWBBTcU+xnPIs5zOY9roaqL4t2ACxhnDAOBgNVHQ8BAf8EBAMC
B4AwCgYIKoZIzj0EAwIDSAAwRQIhAJFz3QmIoU8LhEq8J4Bw1r04ob2kvoOAsQsb
z6WdBiydAiAjBhqnilEZ32ukIrdXkp9AibgxCgZ7iyE/bfzxjPqOYg==
-----END CERTIFICATE-----
"""

_DEMO_DSC_RSA_KEY = """\
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQD2Un4qUVEJ7eDw
iRn7W8HTFuhMbzKT9N6YJ3aHQtdxBAZWVSZBQpx7e4NmFN5p/ORUdETXzwD4Pa4c
xfpQ1e+TNUaXDrJaZ+lOpbcote2ZL8IxU7UAVMgAAmCSWwX6BW7ZbvV6Hvi2yL59
6LXumGLGwXFrNrC2S/qFfK+LD5tyOJYlETly6am5jbblM6UsJPsxx4uT65vCnwgK
iGzDePKnz8BuxC0n7wkDGhFy0Vsz1smjVq9826u2c+sAlC5bdiDe/Y7/xItqXiTh
5leX7cd2diBUeyZoBZMXjH2YBOVLSUIhHQg/PzhZmqYoPhAOxd0OnAxGm191CzfH
0urs3WsFAgMBAAECggEAOSZzolLimAiqn3RX5GNqKZVPiWhlVkHCoY/KZuChxtV1
uPMhoJOZZecG2hjub63eth+R13ZuVapN6tweU0IHx2Jdge/FfsdMMNSvFdF8EoYr
qrEutih1jNcAXASlcthu2yDs8IweDZ6u39yt1XFivZWlQIhcYLdpJS6ENiIFYW7+
EFgo8e/BWU2m0lFbUZPxX1U/PBlF1mDScRilPkktmvOEtFCex4QW5E8wOQoZutbD
1XXd6L7CXNwvzFoxPwosBi0eOOnhpxF0Kq79OkfVWJEqyjGMazjqfY/pnGNUrSg6
Ma0KGTLgPaBlohRQRUUWsgo7U3DQQE2JbCRzGAIwUQKBgQD/T+DuCZ24gEyRBqJh
QyQ/uZAyI77qIXu1VMcGyFUC43NOMZsNIfg4pOXHeh1c0cjVqRJ5eoKtBqSP6E22
L0g5+FHbDOpZtOtNCtk59I17HQ/z6uFOqJFcFrz3ylxymkyjuncpYUVx3mEQ+jgY
4K7toiJqIjeom8UayuBqdx643QKBgQD2/Gms3W2XuPBVPPBPiVpiiYE5guM/ce9/
F1GVrbimozvzOxe/rUqB3yzYzez+8rOBzw2uax+swr3CcSlB3TYbwqF+W+yT9vBc
LV3pzdGYFEukcFRkbva5WzrmXHqYE2/fR7mDeinvjYGrkEvHUn/1eV9sBRbJiwyF
mHsDPABESQKBgEy8w4yIU2GLHnhQmCnHtnN44MBRQia5Haeo7ZE6UWLm3ldYTZQq
66KK3Y2RRJYLb+PYR3c/vVsoLfobBpCFsZ3K5z+BqEaCPF8Rrazftk6Us6DKriGo
RNh69R09M4A2pGZpuzsyw16wSliB/K5tieZe3x0rX7NL7nhZFg6p8w/5AoGBAOli
itj2Q+DiuPdSpiICQI5sMNgPfn0tRIprloRBrAKKrNOiO0a8kXM3WEFmFVS0Mjuv
U9ZFE6FEQ9vA4qOCTObee4vTgTIwXeA8XknYWv3B79hq7NQaprlwI7AaIx4g/82V
EQ/UGFxs8uMTbwfiRVfIYQrJpEa+Rg7XjyX3RKlBAoGAUsA4eJPH0dzTm0IXu3FQ
Ux1YZk5adMC5YPC2DSnC6e5Xhez2063EnuOwAOUZbkiC5DIKM8e064VX8XmSWZmM
O0o+R3KJOms3NnqAyziQLLcKe0rYGdiU3DTBQR8117ACZUQQDIOrV8g0ewSlXpkN
5NP2p5opPfCxqAuSf3Efn+g=
-----END PRIVATE KEY-----
"""

_DEMO_DSC_RSA_CERT = """\
-----BEGIN CERTIFICATE-----
MIICpTCCAkygAwIBAgIBAzAKBggqhkjOPQQDAjBKMQswCQYDVQQGEwJVVDEUMBIG
A1UECgwLRG9jVmFsIERlbW8xJTAjBgNVBAMMHERvY1ZhbCBEZW1vIENTQ0EgKFRF
U1QgT05MWSkwHhcNMjQwMTAxMDAwMDAwWhcNNDkxMjMxMDAwMDAwWjBQMQswCQYD
VQQGEwJVVDEUMBIGA1UECgwLRG9jVmFsIERlbW8xKzApBgNVBAMMIkRvY1ZhbCBE
ZW1vIERTIFJTQS1QU1MgKFRFU1QgT05MWSkwggEiMA0GCSqGSIb3DQEBAQUAA4IB
DwAwggEKAoIBAQD2Un4qUVEJ7eDwiRn7W8HTFuhMbzKT9N6YJ3aHQtdxBAZWVSZB
Qpx7e4NmFN5p/ORUdETXzwD4Pa4cxfpQ1e+TNUaXDrJaZ+lOpbcote2ZL8IxU7UA
VMgAAmCSWwX6BW7ZbvV6Hvi2yL596LXumGLGwXFrNrC2S/qFfK+LD5tyOJYlETly
6am5jbblM6UsJPsxx4uT65vCnwgKiGzDePKnz8BuxC0n7wkDGhFy0Vsz1smjVq98
26u2c+sAlC5bdiDe/Y7/xItqXiTh5leX7cd2diBUeyZoBZMXjH2YBOVLSUIhHQg/
PzhZmqYoPhAOxd0OnAxGm191CzfH0urs3WsFAgMBAAGjUjBQMB8GA1UdIwQYMBaA
FKCoyCqJlVnAuVwocc+RnzbyxYKbMB0GA1UdDgQWBBSpm4PoZ9imyR31sWoI6c6t
PNhEJzAOBgNVHQ8BAf8EBAMCB4AwCgYIKoZIzj0EAwIDRwAwRAIgLmdptAH6E2XY
zfjBJkWYKac4kvoBxYXRfEaf9iQ3GFMCIDKzRoUu4L/xKGl/qFreHpQfPckQlvnM
z0s7zgi2oTxU
-----END CERTIFICATE-----
"""
