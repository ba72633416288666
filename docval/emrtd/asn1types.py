"""ASN.1 schemas of the eMRTD structures DocVal parses itself, as asn1crypto classes.

BSI TR-03110-3 A.1 (SecurityInfos) and RFC 5280 (SubjectPublicKeyInfo).  The
classes only describe shapes: callers cap sizes and nesting with
:func:`docval.emrtd.tlv.check_depth` *before* handing bytes to asn1crypto
(docs/reliability.md T2/T3/K6) and turn every asn1crypto error into ParseError.
"""
from __future__ import annotations

from asn1crypto import core as asn1


class AlgorithmIdentifier(asn1.Sequence):
    # Our own rather than asn1crypto's: that one refuses algorithm OIDs it does
    # not know (TR-03110 standardizedDomainParameters, id-PK-DH).
    _fields = [("algorithm", asn1.ObjectIdentifier), ("parameters", asn1.Any, {"optional": True})]


class SubjectPublicKeyInfo(asn1.Sequence):
    _fields = [("algorithm", AlgorithmIdentifier), ("public_key", asn1.OctetBitString)]


class Fields(asn1.SequenceOf):
    """Any SEQUENCE seen as its list of fields, to check a shape before loading it typed."""

    _child_spec = asn1.Any


class SecurityInfoSet(asn1.SetOf):
    """``SecurityInfos ::= SET OF SecurityInfo``; each kept raw until its OID is known."""

    _child_spec = asn1.Any


class PACEInfo(asn1.Sequence):
    _fields = [("protocol", asn1.ObjectIdentifier), ("version", asn1.Integer),
               ("parameter_id", asn1.Integer, {"optional": True})]


class PACEDomainParameterInfo(asn1.Sequence):
    _fields = [("protocol", asn1.ObjectIdentifier), ("domain_parameter", AlgorithmIdentifier),
               ("parameter_id", asn1.Integer, {"optional": True})]


class ChipAuthenticationInfo(asn1.Sequence):
    _fields = [("protocol", asn1.ObjectIdentifier), ("version", asn1.Integer),
               ("key_id", asn1.Integer, {"optional": True})]


class ChipAuthenticationDomainParameterInfo(asn1.Sequence):
    _fields = [("protocol", asn1.ObjectIdentifier), ("domain_parameter", AlgorithmIdentifier),
               ("key_id", asn1.Integer, {"optional": True})]


class ChipAuthenticationPublicKeyInfo(asn1.Sequence):
    _fields = [("protocol", asn1.ObjectIdentifier), ("chip_authentication_public_key", SubjectPublicKeyInfo),
               ("key_id", asn1.Integer, {"optional": True})]


class ActiveAuthenticationInfo(asn1.Sequence):
    _fields = [("protocol", asn1.ObjectIdentifier), ("version", asn1.Integer),
               ("signature_algorithm", asn1.ObjectIdentifier)]


class TerminalAuthenticationInfo(asn1.Sequence):
    # efCVCA (a FileID) is optional and not used by a passive reader.
    _fields = [("protocol", asn1.ObjectIdentifier), ("version", asn1.Integer),
               ("ef_cvca", asn1.Any, {"optional": True})]


class PrivilegedTerminalInfo(asn1.Sequence):
    _fields = [("protocol", asn1.ObjectIdentifier), ("privileged_terminal_infos", SecurityInfoSet)]
