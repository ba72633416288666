"""Every repr of the pure layer, the trust store and the virtual chip names what an
object is, never the bytes, keys or passwords it holds (they may reach a log or a
traceback)."""
from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec as cec

from docval.emrtd import files, tlv
from docval.emrtd.certificate import parse_certificate
from docval.emrtd.lds.cms import parse_signed_data
from docval.emrtd.securityinfo import ID_STANDARDIZED_DOMAIN_PARAMETERS, AlgorithmIdentifier
from docval.sim import pki
from docval.sim.aa_chip import AaChip
from docval.sim.ca_chip import CaChip, CaKey
from docval.trust.crl import parse_crl
from docval.trust.masterlist import verify_master_list
from docval.trust.store import TrustStore

SECRET = b"HOLDER<<SECRET<NAME"


def _shows_nothing_of(text: str, *secrets: bytes) -> bool:
    return all(s.hex() not in text.lower() and repr(s)[2:-1] not in text for s in secrets)


def test_tlv_and_file_reader():
    item = tlv.TLV(0x5F0E, SECRET)
    assert repr(item) == f"TLV(tag=5F0E, len={len(SECRET)})"
    reader = files._FileReader(files.dg(11), files.ReadLimits(max_le=100), files.MAX_FILE_SIZE)
    reader.buf += SECRET
    assert repr(reader) == f"_FileReader(EF.DG11, {len(SECRET)} bytes)"


def test_signed_data_and_signer_info():
    sod = pki.sod_for_data_groups({1: tlv.encode(0x61, tlv.encode(0x5F1F, SECRET))})
    signed = parse_signed_data(tlv.parse_single(sod, 0x77).value)
    signer = signed.signer_infos[0]
    assert repr(signed) == "<SignedData 2.23.136.1.1.1 signers=1>"
    assert repr(signer).startswith("<SignerInfo ") and _shows_nothing_of(repr(signer), signer.signature)


def test_algorithm_identifier():
    der = bytes.fromhex("300c060a04007f00070102") + b"\x02\x01\x0d"
    alg = AlgorithmIdentifier(ID_STANDARDIZED_DOMAIN_PARAMETERS, der, 13)
    assert repr(alg) == f"AlgorithmIdentifier({ID_STANDARDIZED_DOMAIN_PARAMETERS}, standardized_id=13)"


def test_crl_master_list_and_trust_store():
    demo = pki.demo_pki()
    crl = parse_crl(pki.make_crl(demo.csca, [demo.dsc.cert.serial_number]))
    assert repr(crl).startswith("<CRL ") and "revoked=1" in repr(crl)
    ml = verify_master_list(pki.make_master_list([demo.csca.cert_der], demo.dsc),
                            [parse_certificate(demo.csca.cert_der)])
    assert repr(ml).startswith("<MasterList by ") and repr(ml).endswith(": 1 CSCAs>")
    store = TrustStore.from_certificates([demo.csca.cert_der])
    assert repr(store) == f"<TrustStore 1 CSCAs, 0 CRLs, version {store.version}>"


def test_virtual_chip_mechanisms_hide_their_private_keys():
    ec_key = cec.generate_private_key(cec.SECP256R1())
    assert repr(AaChip(ec_key)) == "<AaChip EC SHA-1>"
    ca_key = CaKey.generate_ec("brainpoolP256r1")
    secret = ca_key.private.to_bytes(32, "big")
    assert repr(ca_key) == "<CaKey brainpoolP256r1>"
    assert repr(CaChip({1: ca_key})) == "<CaChip keys=1>" and _shows_nothing_of(repr(CaChip(ca_key)), secret)
