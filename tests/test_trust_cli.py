from __future__ import annotations

import datetime
import errno
import io
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from docval.trust.cli import main
from docval.trust.store import TrustStore

from docval import __version__
from docval.emrtd.certificate import parse_certificate
from docval.sim import pki
from docval.trust import cli
from tests.trust.realdata import DE_ROOT, NL_ML, NL_ROOT

NOW = datetime.datetime.now(datetime.timezone.utc)
REAL_RUNNING_UNITS = cli.running_units


@pytest.fixture(autouse=True)
def no_systemd(monkeypatch):
    """Tests never ask the host's systemd which units run."""
    monkeypatch.setattr(cli, "running_units", lambda: None)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def openssl_style(fingerprint: str) -> str:
    return "sha256 Fingerprint=" + ":".join(fingerprint[i:i + 2].upper() for i in range(0, 64, 2))


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
    target.mkdir()
    code, out, err = run("import", str(NL_ROOT), str(NL_ML), "--into", str(target))
    assert code == 0, err
    source = TrustStore.load([NL_ROOT, NL_ML])
    files = sorted(target.iterdir())
    assert len(files) == source.count == 411
    assert all(f.suffix == ".pem" and (f.stat().st_mode & 0o777) == 0o644 for f in files)
    assert "Masterlist Signer NL" in out and "added 411" in out
    # The directory is the same set of anchors as the list it came from.
    imported = TrustStore.load([target])
    assert imported.version == source.version and not imported.problems
    # Importing again changes nothing; the root already in the directory now vouches for the list.
    code, out, _ = run("import", str(NL_ML), "--into", str(target))
    assert code == 0 and "added 0 new" in out and "411 already there" in out
    assert len(list(target.iterdir())) == 411


@pytest.mark.testdata
def test_import_shows_the_list_signer_and_pinned_csca_with_full_fingerprints(tmp_path):
    target = tmp_path / "csca"
    code, out, _ = run("import", str(NL_ROOT), str(NL_ML), "--into", str(target), "-n")
    assert code == 0
    (ml,) = TrustStore.load([NL_ROOT, NL_ML]).master_lists
    root = parse_certificate(NL_ROOT.read_bytes())
    lines = out.splitlines()
    assert lines[0] == f"master list {NL_ML}: 411 CSCAs"
    assert lines[1].startswith("  signed by   ") and "Masterlist Signer NL" in lines[1]
    assert lines[2].strip() == openssl_style(ml.signer_fingerprint)
    assert lines[3].startswith("  pinned CSCA ") and "CSCA NL" in lines[3]
    assert lines[4].strip() == openssl_style(root.fingerprint)
    assert openssl_style(root.fingerprint) == (
        "sha256 Fingerprint=41:13:56:D2:06:B9:9D:A1:5E:FA:DF:4B:84:14:9F:86:"
        "00:EE:62:60:C6:72:7C:D6:BC:23:0D:6B:6E:15:1A:24")


@pytest.mark.testdata
def test_import_refuses_a_master_list_without_its_pinned_csca(tmp_path):
    target = tmp_path / "csca"
    target.mkdir()
    code, out, err = run("import", str(NL_ML), "--into", str(target))
    assert code == 1 and list(target.iterdir()) == []
    assert f"warning: {NL_ML}: master list signer is not issued by a CSCA trusted independently" in err
    assert "CSCA NL" in err and "next to the master list" in err
    assert "no trust anchor to import" in err and "master list" not in out
    # A root of another country already in the directory does not help.
    assert run("import", str(DE_ROOT), "--into", str(target))[0] == 0
    assert run("import", str(NL_ML), "--into", str(target))[0] == 1


@pytest.mark.testdata
def test_import_one_country_and_a_single_certificate(tmp_path):
    target = tmp_path / "csca"
    code, out, _ = run("import", str(NL_ROOT), str(NL_ML), "--country", "NL", "--into", str(target),
                       "--create")
    assert code == 0 and f"created {target}" in out
    nl = [c for c in TrustStore.load([NL_ROOT, NL_ML]).certificates if c.subject_country == "NL"]
    assert 0 < len(nl) == len(list(target.iterdir()))
    assert all(f.name.startswith("nl-") for f in target.iterdir())
    code, out, _ = run("import", str(DE_ROOT), "--into", str(target))
    assert code == 0 and "added 1 new" in out
    assert len(list(target.glob("de-*.pem"))) == 1


@pytest.mark.testdata
def test_import_dry_run_and_nothing_to_import(tmp_path):
    target = tmp_path / "csca"
    code, out, _ = run("import", str(NL_ROOT), str(NL_ML), "--into", str(target), "-n")
    assert code == 0 and "would add 411" in out and "needs --create" in out
    assert not target.exists()
    junk = tmp_path / "junk.der"
    junk.write_bytes(b"\x30\x03\x02\x01\x00")
    target.mkdir()
    code, _, err = run("import", str(junk), "--into", str(target))
    assert code == 1
    assert "junk.der" in err and "no trust anchor" in err


def test_import_never_creates_a_directory_silently(tmp_path):
    anchor = tmp_path / "root.pem"
    anchor.write_bytes(pki.generate_pki().csca.cert_pem)
    target = tmp_path / "etc" / "csca"
    code, out, err = run("import", str(anchor), "--into", str(target))
    assert code == 2 and out == "" and not target.exists()
    assert err == (f"docval-trust: error: --into {target}: no such directory; add --create to make it "
                   "(or create it with install -d -m 0755)\n")
    (tmp_path / "file").write_bytes(b"")
    code, _, err = run("import", str(anchor), "--into", str(tmp_path / "file"))
    assert code == 2 and err == f"docval-trust: error: --into {tmp_path / 'file'}: not a directory\n"
    code, out, _ = run("import", str(anchor), "--into", str(target), "--create")
    assert code == 0 and f"created {target}" in out and len(list(target.iterdir())) == 1


def test_reload_hint_names_the_running_units(tmp_path, monkeypatch):
    anchors = [pki.generate_pki().csca.cert_pem for _ in range(3)]
    target = tmp_path / "csca"
    target.mkdir()
    config = tmp_path / "docval.toml"
    config.write_text('[trust]\ncsca = ["csca"]\n')

    def import_one(index: int) -> str:
        (tmp_path / f"{index}.pem").write_bytes(anchors[index])
        code, out, err = run("import", str(tmp_path / f"{index}.pem"), "--into", str(target),
                             "--config", str(config))
        assert code == 0, err
        return out.splitlines()[-1]

    monkeypatch.setattr(cli, "running_units", lambda: ["docval@8081", "docval@8082"])
    assert import_one(0) == "reload the server to use them: systemctl reload docval@8081 docval@8082"
    monkeypatch.setattr(cli, "running_units", lambda: ["docval"])
    assert import_one(1) == "reload the server to use them: systemctl reload docval"
    monkeypatch.setattr(cli, "running_units", lambda: None)
    assert import_one(2) == ("reload the server to use them: systemctl reload docval "
                             "(with docval@ instances: systemctl reload 'docval@*')")


def test_running_units_parses_systemctl(monkeypatch, tmp_path):
    import subprocess

    calls = []

    def fake_run(argv, **kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, stdout=(
            "docval@8082.service loaded active running DocVal document validation server (instance on port 8082)\n"
            "docval@8081.service loaded active running DocVal document validation server (instance on port 8081)\n"),
            stderr="")
    monkeypatch.setattr(cli.shutil, "which", lambda name: "/bin/systemctl")
    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    assert REAL_RUNNING_UNITS() == ["docval@8081", "docval@8082"]
    assert calls[0][-2:] == ["docval.service", "docval@*.service"]
    monkeypatch.setattr(cli.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", ""))
    assert REAL_RUNNING_UNITS() is None
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    assert REAL_RUNNING_UNITS() is None


def test_import_warns_when_the_server_does_not_read_the_directory(tmp_path):
    (tmp_path / "root.pem").write_bytes(pki.generate_pki().csca.cert_pem)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "csca").mkdir()
    config = tmp_path / "docval.toml"
    config.write_text('[trust]\ncsca = ["csca"]\n')
    code, out, _ = run("import", str(tmp_path / "root.pem"), "--into", str(tmp_path / "elsewhere"),
                       "--config", str(config))
    assert code == 0
    assert f"note: [trust] csca of {config} does not include {tmp_path / 'elsewhere'}" in out
    code, out, _ = run("import", str(tmp_path / "root.pem"), "--into", str(tmp_path / "csca"),
                       "--config", str(config))
    assert code == 0 and "note:" not in out


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
    beta = TrustStore.load([tmp_path / "beta.der"]).certificates[0]
    assert f"  {openssl_style(beta.fingerprint)}  Common Name: beta, Country: XB" in out.splitlines()[1]


def test_expiring_shows_expired_and_soon_in_date_order(tmp_path):
    csca(tmp_path, "XA", NOW + datetime.timedelta(days=10), "soon")
    csca(tmp_path, "XA", NOW - datetime.timedelta(days=5), "gone")
    csca(tmp_path, "XB", NOW + datetime.timedelta(days=2000), "later")
    code, out, _ = run("expiring", str(tmp_path), "--days", "30")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("EXPIRED ") and "gone" in lines[0]
    gone = TrustStore.load([tmp_path / "gone.der"]).certificates[0]
    assert f"  XA  {openssl_style(gone.fingerprint)}  " in lines[0]
    assert lines[1].startswith("expires ") and "soon" in lines[1]
    assert "2 of 3 certificates" in lines[2]
    code, out, _ = run("expiring", str(tmp_path), "--days", "3000")
    assert "3 of 3" in out
    assert run("expiring", str(tmp_path), "--days", "-1")[0] == 2
    code, _, err = run("expiring", str(tmp_path), "--days", "99999999")
    assert code == 2 and err == "docval-trust: error: --days must be between 0 and 36500\n"


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


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        run("--version")
    assert exc.value.code == 0 and capsys.readouterr().out == f"docval-trust {__version__}\n"


def test_config_errors_are_one_line_naming_the_option(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[trust\n")
    code, _, err = run("list", "--config", str(bad))
    assert code == 2 and err.startswith(f"docval-trust: error: --config {bad}: not valid TOML")
    assert len(err.splitlines()) == 1
    typo = tmp_path / "typo.toml"
    typo.write_text('[trust]\ncsac = ["x"]\n')
    code, _, err = run("expiring", "--config", str(typo))
    assert code == 2 and "csac" in err and len(err.splitlines()) == 1
    # Any OSError (here: a directory; for operators mostly EACCES on the 0640 file).
    code, _, err = run("list", "--config", str(tmp_path))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"docval-trust: error: --config {tmp_path}: cannot read it (")
    assert "run as root or a member of group docval, or give trust anchor paths" in err


def test_only_the_trust_section_of_the_config_matters(tmp_path):
    """docval-trust must work where the server would refuse the rest (e.g. no [[client]] yet)."""
    (tmp_path / "csca").mkdir()
    csca(tmp_path / "csca", "XD", NOW + datetime.timedelta(days=900), "delta")
    config = tmp_path / "docval.toml"
    config.write_text('[server]\nlisten = "tcp:99999"\n[trust]\ncsca = ["csca"]\n')
    code, out, err = run("list", "--config", str(config))
    assert code == 0, err
    assert out.startswith("XD")


def test_unwritable_target_is_one_line_with_the_fix(tmp_path, monkeypatch):
    (tmp_path / "root.pem").write_bytes(pki.generate_pki().csca.cert_pem)
    target = tmp_path / "csca"
    target.mkdir()

    def denied(path, data):    # what a non-root user meets in /etc/docval/csca
        raise PermissionError(errno.EACCES, "Permission denied", str(path.parent / ".import-x"))
    monkeypatch.setattr(cli, "_write_atomically", denied)
    code, out, err = run("import", str(tmp_path / "root.pem"), "--into", str(target))
    assert code == 1
    assert err == f"docval-trust: error: {target / '.import-x'}: Permission denied (run as root)\n"


def test_as_a_console_script_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "docval.trust.cli", "import", str(tmp_path / "nope.pem"),
                           "--into", str(tmp_path / "missing")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("docval-trust: error: --into ")


def test_man_page_documents_the_new_options_and_exit_status():
    page = (Path(__file__).resolve().parents[1] / "debian" / "docval-trust.1").read_text()
    for text in ("\\-\\-create", "\\-\\-version", "sha256 Fingerprint=", "docval@", ".SH EXIT STATUS"):
        assert text in page, text
    section = page.split(".SH EXIT STATUS")[1].split(".SH")[0]
    assert [line[3:] for line in section.splitlines() if line.startswith(".B ") and line[3:].isdigit()] == \
        ["0", "1", "2"]
