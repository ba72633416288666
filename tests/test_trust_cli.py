from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from docval.trust.cli import main
from docval.trust.store import TrustStore

from tests.testdata import MASTER_LISTS as TESTDATA
NL_ML = TESTDATA / "NL_ML_2026-07-22.ml"
DE_ROOT = TESTDATA / "DE_ROOT_CA_CSCA07.cer"
NOW = datetime.datetime.now(datetime.timezone.utc)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def csca(directory: Path, country: str, not_after: datetime.datetime, name: str) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=3650)).not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                       critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.der"
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return path


@pytest.mark.testdata
def test_import_master_list_writes_one_pem_per_anchor(tmp_path):
    target = tmp_path / "csca"
    code, out, _ = run("import", str(NL_ML), "--into", str(target))
    assert code == 0
    source = TrustStore.load([NL_ML])
    files = sorted(target.iterdir())
    assert len(files) == source.count == 411
    assert all(f.suffix == ".pem" and (f.stat().st_mode & 0o777) == 0o644 for f in files)
    assert "Masterlist Signer NL" in out and "added 411" in out
    # The directory is the same set of anchors as the list it came from.
    imported = TrustStore.load([target])
    assert imported.version == source.version and not imported.problems
    # Importing again changes nothing.
    code, out, _ = run("import", str(NL_ML), "--into", str(target))
    assert code == 0 and "added 0 new" in out and "411 already there" in out
    assert len(list(target.iterdir())) == 411


@pytest.mark.testdata
def test_import_one_country_and_a_single_certificate(tmp_path):
    target = tmp_path / "csca"
    code, out, _ = run("import", str(NL_ML), "--country", "NL", "--into", str(target))
    assert code == 0
    nl = [c for c in TrustStore.load([NL_ML]).certificates if c.subject_country == "NL"]
    assert 0 < len(nl) == len(list(target.iterdir()))
    assert all(f.name.startswith("nl-") for f in target.iterdir())
    code, out, _ = run("import", str(DE_ROOT), "--into", str(target))
    assert code == 0 and "added 1 new" in out
    assert len(list(target.glob("de-*.pem"))) == 1


@pytest.mark.testdata
def test_import_dry_run_and_nothing_to_import(tmp_path):
    target = tmp_path / "csca"
    code, out, _ = run("import", str(NL_ML), "--into", str(target), "-n")
    assert code == 0 and "would add 411" in out
    assert not target.exists()
    junk = tmp_path / "junk.der"
    junk.write_bytes(b"\x30\x03\x02\x01\x00")
    code, _, err = run("import", str(junk), "--into", str(target))
    assert code == 1
    assert "junk.der" in err and "no trust anchor" in err


def test_list_by_country(tmp_path):
    csca(tmp_path, "XA", NOW + datetime.timedelta(days=900), "alpha-1")
    csca(tmp_path, "XA", NOW - datetime.timedelta(days=1), "alpha-old")
    csca(tmp_path, "XB", NOW + datetime.timedelta(days=900), "beta")
    code, out, _ = run("list", str(tmp_path))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("XA") and "2 certificates (1 valid today)" in lines[0]
    assert lines[1].startswith("XB") and "1 certificates (1 valid today)" in lines[1]
    assert "total 3 certificates from 2 countries" in lines[-1]
    code, out, _ = run("list", str(tmp_path), "--country", "xb", "-v")
    assert "beta" in out and "alpha" not in out and "total 1 certificates" in out


def test_expiring_shows_expired_and_soon_in_date_order(tmp_path):
    csca(tmp_path, "XA", NOW + datetime.timedelta(days=10), "soon")
    csca(tmp_path, "XA", NOW - datetime.timedelta(days=5), "gone")
    csca(tmp_path, "XB", NOW + datetime.timedelta(days=2000), "later")
    code, out, _ = run("expiring", str(tmp_path), "--days", "30")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("EXPIRED ") and "gone" in lines[0]
    assert lines[1].startswith("expires ") and "soon" in lines[1]
    assert "2 of 3 certificates" in lines[2]
    code, out, _ = run("expiring", str(tmp_path), "--days", "3000")
    assert "3 of 3" in out
    assert run("expiring", str(tmp_path), "--days", "-1")[0] == 2


def test_reads_trust_paths_from_the_config(tmp_path):
    anchors = tmp_path / "csca"
    anchors.mkdir()
    csca(anchors, "XC", NOW + datetime.timedelta(days=900), "gamma")
    config = tmp_path / "docval.toml"
    config.write_text('[trust]\ncsca = ["csca"]\n[[client]]\nclient_id = "c"\n')
    code, out, err = run("list", "--config", str(config))
    assert code == 0, err
    assert out.startswith("XC") and "total 1 certificates" in out


def test_unusable_config_and_problems_are_reported(tmp_path):
    code, _, err = run("list", "--config", str(tmp_path / "missing.toml"))
    assert code == 2 and "missing.toml" in err
    (tmp_path / "broken.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n")
    code, out, err = run("list", str(tmp_path))
    assert code == 0 and "warning:" in err and "broken.pem" in err
    assert "total 0 certificates" in out


def test_usage_errors_exit_2():
    with pytest.raises(SystemExit) as exc:
        run("frobnicate")
    assert exc.value.code == 2
