"""The protocol OIDs of PACE, Chip Authentication, Terminal Authentication and Active
Authentication (BSI TR-03110-3 A.1.1, ICAO 9303-11 §9.2), and what a PACE or CA OID says:
key agreement, mapping, cipher and the protocol's name.

Protocol OIDs (BSI TR-03110-3 A.1.1, bsi-de = 0.4.0.127.0.7):

- ``id-PK-DH/ECDH`` (2.2.1.1/2) ChipAuthenticationPublicKeyInfo
- ``id-TA`` (2.2.2) TerminalAuthenticationInfo
- ``id-CA-DH/ECDH`` (2.2.3.1/2) ChipAuthenticationDomainParameterInfo; with a
  cipher arc (.1 3DES, .2 AES-128, .3 AES-192, .4 AES-256) ChipAuthenticationInfo
- ``id-PACE-{DH,ECDH}-{GM,IM}``, ``id-PACE-ECDH-CAM`` (2.2.4.1/.2/.3/.4/.6)
  PACEDomainParameterInfo; with a cipher arc PACEInfo
- ``id-PT`` privileged terminal info (2.2.8), a nested SecurityInfos
- ActiveAuthenticationInfo ``id-icao-mrtd-security-aaProtocolObject`` 2.23.136.1.1.5
"""
from __future__ import annotations

from dataclasses import dataclass

from docval.emrtd.errors import UnsupportedError

BSI_DE = "0.4.0.127.0.7"
ID_PK = BSI_DE + ".2.2.1"
ID_PK_DH = ID_PK + ".1"
ID_PK_ECDH = ID_PK + ".2"
ID_TA = BSI_DE + ".2.2.2"
ID_CA = BSI_DE + ".2.2.3"
ID_CA_DH = ID_CA + ".1"
ID_CA_ECDH = ID_CA + ".2"
ID_PACE = BSI_DE + ".2.2.4"
ID_PT = BSI_DE + ".2.2.8"
# AlgorithmIdentifier for "standardized domain parameters" (TR-03110-3 A.2.1.1):
# its parameter is the PACE/CA domain parameter id (0-2 MODP, 8-18 curves).
ID_STANDARDIZED_DOMAIN_PARAMETERS = BSI_DE + ".1.2"
ID_AA = "2.23.136.1.1.5"

# Last arc of id-PACE-* / id-CA-* naming the key agreement and mapping.
PACE_FAMILIES = {
    1: ("DH", "GM"),
    2: ("ECDH", "GM"),
    3: ("DH", "IM"),
    4: ("ECDH", "IM"),
    6: ("ECDH", "CAM"),
}
CA_FAMILIES = {1: "DH", 2: "ECDH"}

# Cipher arc -> (cipher name used by crypto.CipherSpec, key bits, suffix in protocol names).
CIPHERS = {
    1: ("TDES", 112, "3DES-CBC-CBC"),
    2: ("AES128", 128, "AES-CBC-CMAC-128"),
    3: ("AES192", 192, "AES-CBC-CMAC-192"),
    4: ("AES256", 256, "AES-CBC-CMAC-256"),
}


def arcs_after(oid: str, prefix: str) -> list[int] | None:
    if not oid.startswith(prefix + "."):
        return None
    return [int(a) for a in oid[len(prefix) + 1:].split(".")]



@dataclass(frozen=True)
class ProtocolParts:
    """What a PACE or CA protocol OID says, e.g. ECDH, GM, AES128 with 128-bit keys."""

    family: str                  # "PACE" or "CA"
    key_agreement: str           # "ECDH" or "DH"
    mapping: str | None          # "GM", "IM", "CAM" (PACE only)
    cipher: str                  # "TDES", "AES128", "AES192", "AES256"
    key_bits: int
    name: str                    # "PACE-ECDH-GM-AES-CBC-CMAC-128", "CA-DH-3DES-CBC-CBC"


def protocol_parts(oid: str) -> ProtocolParts | None:
    """Decompose an id-PACE-* or id-CA-* protocol OID with a cipher arc, else None."""
    pace = arcs_after(oid, ID_PACE)
    if pace is not None and len(pace) == 2 and pace[0] in PACE_FAMILIES and pace[1] in CIPHERS:
        ka, mapping = PACE_FAMILIES[pace[0]]
        if mapping == "CAM" and pace[1] == 1:
            return None                      # TR-03110 defines no 3DES variant of CAM
        cipher, bits, suffix = CIPHERS[pace[1]]
        return ProtocolParts("PACE", ka, mapping, cipher, bits, f"PACE-{ka}-{mapping}-{suffix}")
    ca = arcs_after(oid, ID_CA)
    if ca is not None and len(ca) == 2 and ca[0] in CA_FAMILIES and ca[1] in CIPHERS:
        ka = CA_FAMILIES[ca[0]]
        cipher, bits, suffix = CIPHERS[ca[1]]
        return ProtocolParts("CA", ka, None, cipher, bits, f"CA-{ka}-{suffix}")
    return None


def require_parts(oid: str) -> ProtocolParts:
    parts = protocol_parts(oid)
    if parts is None:
        raise UnsupportedError("not a PACE or CA protocol identifier")
    return parts


def protocol_name(oid: str) -> str:
    parts = protocol_parts(oid)
    return parts.name if parts else oid


def ca_oid(key_agreement: str, cipher: str) -> str:
    """The id-CA-* OID for a key agreement ("ECDH"/"DH") and cipher ("TDES", "AES128", ...)."""
    fam = {v: k for k, v in CA_FAMILIES.items()}[key_agreement]
    arc = next(k for k, v in CIPHERS.items() if v[0] == cipher)
    return f"{ID_CA}.{fam}.{arc}"


def pace_oid(key_agreement: str, mapping: str, cipher: str) -> str:
    fam = next(k for k, v in PACE_FAMILIES.items() if v == (key_agreement, mapping))
    arc = next(k for k, v in CIPHERS.items() if v[0] == cipher)
    return f"{ID_PACE}.{fam}.{arc}"
