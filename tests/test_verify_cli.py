"""docval-verify: JSON output shaped like emrtd_passport, exit status by verdict (0/1/2/3)."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from docval import __version__, verify_cli
from docval.emrtd import keys
from docval.sim import pki
from tests.trust.realdata import BSI_ETSI, CARD_SECURITY, DE_ML, DE_ROOT, IDN_CSCA, SOD_DIR

ROOT = Path(__file__).resolve().parents[1]


def run_main(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = verify_cli.main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


@pytest.fixture()
def demo_files(tmp_path):
    """A virtual DG1 and DG2 with an EF.SOD over them signed by the demo DSC (no data set needed)."""
    from docval.sim import datagroups as d

    mrz = d.make_td2_mrz(issuing_state="UTO", primary_identifier="ERIKSSON", secondary_identifier="ANNA MARIA",
                         document_number="L898902C3", nationality="UTO", date_of_birth="740812",
                         gender="F", date_of_expiry="120415")
    dgs = {1: d.encode_dg1(mrz), 2: d.encode_dg2([(d.make_face_jpeg(48, 64, seed=1, quality=30), 48, 64, "jpeg")])}
    (tmp_path / "sod.bin").write_bytes(pki.sod_for_data_groups(dgs))
    for n, data in dgs.items():
        (tmp_path / f"dg{n}.bin").write_bytes(data)
    (tmp_path / "csca.pem").write_bytes(pki.demo_csca_pem())
    return tmp_path, dgs


def test_valid_document(capsys, demo_files):
    d, dgs = demo_files
    code, out, err = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
                              "--dg", f"1={d / 'dg1.bin'}", "--dg", f"DG2={d / 'dg2.bin'}",
                              "--at", "2030-01-01T00:00:00Z")
    assert code == 0 and err == ""
    assert out["passive_authentication"] is True
    details = out["passive_authentication_details"]
    assert details["sod_signature_valid"] and details["document_certificate_valid"]
    assert details["data_groups_checked"] == [1, 2] == details["data_groups_with_valid_hash"]
    assert details["all_hashes_valid"] and details["error"] is None
    assert details["signature_algorithm"] == "ECDSA-SHA256" and details["evaluated_at"] == "2030-01-01T00:00:00Z"
    assert out["sod_info"]["hash_algorithm"] == "SHA-256"
    assert out["sod_info"]["hash_for_data_group"]["2"] == base64.b64encode(keys.digest("SHA-256", dgs[2])).decode()
    assert out["mrz_info"]["document_type"] == "TD2"
    assert out["errors"] == []
    assert out["trust_store_version"] and out["trust_store"]["csca_count"] == 1


def test_invalid_documents_exit_1(capsys, demo_files, tmp_path):
    d, dgs = demo_files
    tampered = bytearray(dgs[2])
    tampered[100] ^= 1
    (tmp_path / "bad2.bin").write_bytes(bytes(tampered))
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
                            "--dg", f"1={d / 'dg1.bin'}", "--dg", f"2={tmp_path / 'bad2.bin'}")
    assert code == 1 and out["passive_authentication"] is False
    assert out["passive_authentication_details"]["error"] == "DG2 hash does not match EF.SOD"
    assert out["errors"] == ["DG2 hash does not match EF.SOD"]
    (tmp_path / "garbage").write_bytes(b"\x77\x03abc")
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(tmp_path / "garbage"))
    assert code == 1 and out["sod_info"] is None and out["passive_authentication"] is False
    assert out["errors"][0].startswith("EF.SOD: ")


def test_data_groups_listed_but_not_supplied_are_named_and_exit_3(capsys, demo_files):
    """PA over a subset is never reported silently: the JSON names the missing DGs, errors and
    stderr say so, and the exit status is 3, not 0."""
    d, _ = demo_files
    code, out, err = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
                              "--dg", f"1={d / 'dg1.bin'}", "--at", "2030-01-01T00:00:00Z")
    assert code == 3
    details = out["passive_authentication_details"]
    assert out["passive_authentication"] is True and details["data_groups_checked"] == [1]
    assert details["data_groups_not_read"] == [2]
    assert out["errors"] == ["EF.SOD lists DG2, not supplied: their hashes were not checked"]
    assert err == ("docval-verify: EF.SOD lists DG2, not supplied: their hashes were not checked "
                   "(exit status 3 if everything else verified)\n")
    # Nothing supplied at all: PA is false (no hash checked) and that is a failure.
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"))
    assert code == 1 and out["passive_authentication_details"]["data_groups_not_read"] == [1, 2]
    # A failure stays a failure when DGs are missing too.
    code, _, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
                          "--dg", f"1={d / 'dg1.bin'}", "--at", "2090-01-01T00:00:00Z")
    assert code == 1


def test_version(capsys):
    assert verify_cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"docval-verify {__version__}\n"


def test_help_documents_the_exit_status(capsys):
    assert verify_cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "exit status:" in text
    for line in ("0  verified", "1  verification failed", "2  usage error", "3  the files supplied verified"):
        assert line in text


def _card_security(signer: pki.Signer | None = None) -> bytes:
    from docval.emrtd import tlv
    from docval.emrtd.securityinfo import ca_oid, encode_oid

    info = tlv.encode(0x30, tlv.encode(0x06, encode_oid(ca_oid("ECDH", "AES128"))) + b"\x02\x01\x01")
    infos = tlv.encode(0x31, info)
    signer = signer or pki.demo_pki().dsc
    return pki.sign_card_security(infos, signer.key, signer.cert)


def test_card_security_is_verified_against_the_trust_store(capsys, demo_files, tmp_path):
    d, _ = demo_files
    (tmp_path / "cs.bin").write_bytes(_card_security())
    code, out, err = run_main(capsys, "--csca", str(d / "csca.pem"), "--card-security", str(tmp_path / "cs.bin"),
                              "--at", "2030-01-01T00:00:00Z")
    assert code == 0 and err == ""
    cs = out["card_security"]
    assert cs["verified"] and cs["signature_valid"] and cs["document_certificate_valid"]
    assert cs["signature_algorithm"] == "ECDSA-SHA256" and "Demo CSCA" in cs["csca_subject"]
    assert out["passive_authentication"] is None and out["errors"] == []
    # with EF.SOD and both data groups as well: everything verified
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--card-security", str(tmp_path / "cs.bin"),
                            "--sod", str(d / "sod.bin"), "--dg", f"1={d / 'dg1.bin'}", "--dg", f"2={d / 'dg2.bin'}")
    assert code == 0 and out["passive_authentication"] is True and out["card_security"]["verified"]
    # signed by a DSC of an untrusted CSCA: exit 1 even though EF.SOD verifies
    (tmp_path / "cs-untrusted.bin").write_bytes(_card_security(pki.generate_pki().dsc))
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--card-security",
                            str(tmp_path / "cs-untrusted.bin"), "--sod", str(d / "sod.bin"),
                            "--dg", f"1={d / 'dg1.bin'}", "--dg", f"2={d / 'dg2.bin'}")
    assert code == 1 and out["passive_authentication"] is True
    cs = out["card_security"]
    assert cs["signature_valid"] and not cs["document_certificate_valid"] and not cs["verified"]
    assert out["errors"][0].startswith("EF.CardSecurity not verified: document signer certificate is not issued")
    # an EF.SOD passed as EF.CardSecurity, and garbage
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--card-security", str(d / "sod.bin"))
    assert code == 1 and out["card_security"]["error"].startswith("EF.CardSecurity: ")
    tampered = bytearray(_card_security())
    tampered[-3] ^= 0xFF
    (tmp_path / "cs-bad.bin").write_bytes(bytes(tampered))
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--card-security", str(tmp_path / "cs-bad.bin"))
    assert code == 1 and not out["card_security"]["verified"]


@pytest.mark.testdata
@pytest.mark.parametrize("country,algorithm", [("DE", "ECDSA-SHA384"), ("FI", "ECDSA-SHA512")])
def test_real_card_security_via_the_german_master_list(capsys, country, algorithm):
    """Real EF.CardSecurity files chain via the German master list, pinned by its root."""
    from datetime import timedelta

    from docval.emrtd.lds.cms import parse_signed_data

    path = CARD_SECURITY / f"{country}_EF.CardSecurity.bin"
    at = parse_signed_data(path.read_bytes()).certificates[0].not_before + timedelta(days=1)
    code, out, err = run_main(capsys, "--csca", str(DE_ROOT), "--csca", str(DE_ML),
                              "--card-security", str(path), "--at", at.isoformat())
    assert code == 0, out["errors"]
    assert err == "" and out["card_security"]["signature_algorithm"] == algorithm
    assert f"Country: {country}" in out["card_security"]["csca_subject"]
    assert out["trust_store"]["master_lists"][0]["pinned_csca"].startswith("Common Name: csca-germany")
    # The list alone vouches for nothing: stderr says what to add, and nothing verifies.
    code, out, err = run_main(capsys, "--csca", str(DE_ML), "--card-security", str(path), "--at", at.isoformat())
    assert code == 1 and out["trust_store"]["csca_count"] == 0
    assert "trusted independently of the list" in err and "no CSCA certificate loaded from --csca" in err


@pytest.mark.testdata
def test_real_sod_against_indonesian_cscas(capsys):
    code, out, _ = run_main(capsys, "--csca", str(IDN_CSCA), "--sod", str(SOD_DIR / "ID_EF.SOD.bin"),
                            "--at", "2025-05-19T04:03:14+00:00")
    assert code == 1      # no data group supplied: no hash checked
    assert out["passive_authentication_details"]["data_groups_not_read"] == [1, 2, 3, 14, 15]
    d = out["passive_authentication_details"]
    assert d["sod_signature_valid"] and d["document_certificate_valid"]
    assert d["signature_algorithm"] == "RSASSA-PSS-SHA256" and d["signing_time"] == "2025-05-19T04:03:14Z"
    assert sorted(out["sod_info"]["hash_for_data_group"], key=int) == ["1", "2", "3", "14", "15"]


@pytest.mark.testdata
def test_untrusted_csca_and_trust_store_problems_on_stderr(capsys, tmp_path):
    (tmp_path / "junk.der").write_bytes(b"junk")
    code, out, err = run_main(capsys, "--csca", str(IDN_CSCA), "--csca", str(tmp_path / "junk.der"),
                              "--sod", str(BSI_ETSI / "BSI_TR-03105-5_ReferenceDataSet_EF_SOD.bin"))
    assert code == 1
    assert out["passive_authentication_details"]["sod_signature_valid"] is True
    assert out["passive_authentication_details"]["document_certificate_valid"] is False
    assert "junk.der" in err and "trust store" in err


@pytest.mark.parametrize("argv", [
    [],
    ["--sod", "x"],
    ["--csca", "{csca}", "--sod", "{missing}"],
    ["--csca", "{missing}", "--sod", "{sod}"],
    ["--csca", "{csca}", "--sod", "{sod}", "--dg", "17={sod}"],
    ["--csca", "{csca}", "--sod", "{sod}", "--dg", "one={sod}"],
    ["--csca", "{csca}", "--sod", "{sod}", "--dg", "1"],
    ["--csca", "{csca}", "--sod", "{sod}", "--dg", "1={sod}", "--dg", "1={sod}"],
    ["--csca", "{csca}", "--sod", "{sod}", "--dg", "1={missing}"],
    ["--csca", "{csca}", "--sod", "{sod}", "--at", "yesterday"],
    ["--csca", "{csca}"],
    ["--csca", "{csca}", "--dg", "1={sod}", "--card-security", "{sod}"],
    ["--csca", "{csca}", "--card-security", "{missing}"],
    ["--csca", "{csca}", "--crl", "{missing}", "--sod", "{sod}"],
    ["--csca", "{csca}", "--sod", "{csca_dir}"],
    ["--csca", "{csca}", "--sod", "{sod}", "--frobnicate"],
])
def test_usage_errors_exit_2(capsys, demo_files, argv):
    d, _ = demo_files
    subst = {"csca": d / "csca.pem", "sod": d / "sod.bin", "missing": d / "missing.bin", "csca_dir": d}
    code, out, err = run_main(capsys, *[a.format(**subst) for a in argv])
    assert code == 2 and out is None and err and "Traceback" not in err
    # one line naming the option (argparse adds its usage line before its own)
    assert err.splitlines()[-1].startswith("docval-verify: ")
    assert any(option in err.splitlines()[-1] for option in ("--", "required", "unrecognized"))


def test_help_exits_zero(capsys):
    assert verify_cli.main(["--help"]) == 0
    assert "docval-verify" in capsys.readouterr().out


def test_as_a_subprocess(demo_files):
    d, _ = demo_files
    proc = subprocess.run(
        [sys.executable, "-m", "docval.verify_cli", "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
         "--dg", f"1={d / 'dg1.bin'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr      # DG2 is listed in EF.SOD but was not given
    out = json.loads(proc.stdout)
    assert out["passive_authentication"] is True and out["mrz_info"]["issuing_state"]
    complete = subprocess.run(
        [sys.executable, "-m", "docval.verify_cli", "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
         "--dg", f"1={d / 'dg1.bin'}", "--dg", f"2={d / 'dg2.bin'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert complete.returncode == 0, complete.stderr
    bad = subprocess.run([sys.executable, "-m", "docval.verify_cli", "--sod", str(d / "sod.bin")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""


def test_crl_revokes_the_document_signer(capsys, demo_files, tmp_path):
    d, _ = demo_files
    demo = pki.demo_pki()
    crl = tmp_path / "ut.crl"
    crl.write_bytes(pki.make_crl(demo.csca, [demo.dsc.cert.serial_number]))
    code, out, err = run_main(capsys, "--csca", str(d / "csca.pem"), "--crl", str(crl),
                              "--sod", str(d / "sod.bin"), "--dg", f"1={d / 'dg1.bin'}",
                              "--dg", f"2={d / 'dg2.bin'}")
    assert code == 1 and err == "" and out["trust_store"]["crl_count"] == 1
    details = out["passive_authentication_details"]
    assert details["sod_signature_valid"] and details["all_hashes_valid"]
    assert not details["document_certificate_valid"] and not out["passive_authentication"]
    assert details["error"] == "document signer certificate is revoked by its CSCA's CRL"


def test_without_at_the_command_supplies_now_not_the_pure_layer(capsys, demo_files, monkeypatch):
    """The clock is read by the command line, never by docval.emrtd (it is pure)."""
    from datetime import datetime, timezone

    import docval.emrtd.pa as pa

    class NoClock(datetime):
        @classmethod
        def now(cls, tz=None):
            raise AssertionError("docval.emrtd.pa read the clock")
    monkeypatch.setattr(pa, "datetime", NoClock)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    d, _ = demo_files
    code, out, err = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
                              "--dg", f"1={d / 'dg1.bin'}", "--dg", f"2={d / 'dg2.bin'}")
    assert code == 0 and err == ""
    evaluated = datetime.strptime(out["passive_authentication_details"]["evaluated_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert before <= evaluated.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)


def test_unparsable_dg1_is_an_error_entry_and_still_hashed(capsys, demo_files, tmp_path):
    d, _ = demo_files
    (tmp_path / "dg1-junk.bin").write_bytes(b"\x61\x03\x5f\x1f\x00")
    code, out, err = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
                              "--dg", f"1={tmp_path / 'dg1-junk.bin'}", "--at", "2030-01-01T00:00:00Z")
    assert code == 1 and out["mrz_info"] is None
    assert out["errors"][0].startswith("DG1: ") and "DG1 hash does not match EF.SOD" in out["errors"]
    assert out["passive_authentication_details"]["data_groups_checked"] == [1]


def test_man_page_documents_every_option_and_exit_status():
    page = (ROOT / "debian" / "docval-verify.1").read_text()
    for option in ("\\-\\-csca", "\\-\\-crl", "\\-\\-sod", "\\-\\-dg", "\\-\\-card\\-security", "\\-\\-at",
                   "\\-\\-version"):
        assert option in page, option
    section = page.split(".SH EXIT STATUS")[1].split(".SH")[0]
    codes = [line.split()[1] for line in section.splitlines() if line.startswith(".B ") and line[3:].isdigit()]
    assert codes == [str(c) for c in (verify_cli.EXIT_VERIFIED, verify_cli.EXIT_FAILED, verify_cli.EXIT_USAGE,
                                      verify_cli.EXIT_INCOMPLETE)]
