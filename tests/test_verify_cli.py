"""docval-verify: JSON output shaped like emrtd_passport, exit status 0 unless misused."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from docval import verify_cli
from docval.emrtd import keys
from docval.sim import pki
from tests.trust.realdata import BSI_ETSI, IDN_CSCA, SOD_DIR, TESTDATA

ROOT = Path(__file__).resolve().parents[1]
SPECIMEN = TESTDATA / "icao_specimen"


def run_main(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = verify_cli.main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out.strip() else None), captured.err


@pytest.fixture()
def demo_files(tmp_path):
    """The ICAO specimen DG1 and DG2 with an EF.SOD over them signed by the demo DSC."""
    dgs = {1: (SPECIMEN / "DG1_TD2.bin").read_bytes(), 2: (SPECIMEN / "DG2.bin").read_bytes()}
    (tmp_path / "sod.bin").write_bytes(pki.sod_for_data_groups(dgs))
    for n, data in dgs.items():
        (tmp_path / f"dg{n}.bin").write_bytes(data)
    (tmp_path / "csca.pem").write_bytes(pki.demo_csca_pem())
    return tmp_path, dgs


@pytest.mark.testdata
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


@pytest.mark.testdata
def test_invalid_documents_still_exit_zero(capsys, demo_files, tmp_path):
    d, dgs = demo_files
    tampered = bytearray(dgs[2])
    tampered[100] ^= 1
    (tmp_path / "bad2.bin").write_bytes(bytes(tampered))
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
                            "--dg", f"2={tmp_path / 'bad2.bin'}")
    assert code == 0 and out["passive_authentication"] is False
    assert out["passive_authentication_details"]["error"] == "DG2 hash does not match EF.SOD"
    assert out["errors"] == ["DG2 hash does not match EF.SOD"] and out["mrz_info"] is None
    (tmp_path / "garbage").write_bytes(b"\x77\x03abc")
    code, out, _ = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(tmp_path / "garbage"))
    assert code == 0 and out["sod_info"] is None and out["passive_authentication"] is False
    assert out["errors"][0].startswith("EF.SOD: ")


@pytest.mark.testdata
def test_real_sod_against_indonesian_cscas(capsys):
    code, out, _ = run_main(capsys, "--csca", str(IDN_CSCA), "--sod", str(SOD_DIR / "ID_EF.SOD.bin"),
                            "--at", "2025-05-19T04:03:14+00:00")
    assert code == 0
    d = out["passive_authentication_details"]
    assert d["sod_signature_valid"] and d["document_certificate_valid"]
    assert d["signature_algorithm"] == "RSASSA-PSS-SHA256" and d["signing_time"] == "2025-05-19T04:03:14Z"
    assert sorted(out["sod_info"]["hash_for_data_group"], key=int) == ["1", "2", "3", "14", "15"]


@pytest.mark.testdata
def test_untrusted_csca_and_trust_store_problems_on_stderr(capsys, tmp_path):
    (tmp_path / "junk.der").write_bytes(b"junk")
    code, out, err = run_main(capsys, "--csca", str(IDN_CSCA), "--csca", str(tmp_path / "junk.der"),
                              "--sod", str(BSI_ETSI / "BSI_TR-03105-5_ReferenceDataSet_EF_SOD.bin"))
    assert code == 0
    assert out["passive_authentication_details"]["sod_signature_valid"] is True
    assert out["passive_authentication_details"]["document_certificate_valid"] is False
    assert "junk.der" in err and "trust store" in err


@pytest.mark.testdata
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
])
def test_usage_errors_exit_2(capsys, demo_files, argv):
    d, _ = demo_files
    subst = {"csca": d / "csca.pem", "sod": d / "sod.bin", "missing": d / "missing.bin"}
    code, out, err = run_main(capsys, *[a.format(**subst) for a in argv])
    assert code == 2 and out is None and err


def test_help_exits_zero(capsys):
    assert verify_cli.main(["--help"]) == 0
    assert "docval-verify" in capsys.readouterr().out


@pytest.mark.testdata
def test_as_a_subprocess(demo_files):
    d, _ = demo_files
    proc = subprocess.run(
        [sys.executable, "-m", "docval.verify_cli", "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
         "--dg", f"1={d / 'dg1.bin'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["passive_authentication"] is True and out["mrz_info"]["issuing_state"]
    bad = subprocess.run([sys.executable, "-m", "docval.verify_cli", "--sod", str(d / "sod.bin")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""


@pytest.mark.testdata
def test_crl_revokes_the_document_signer(capsys, demo_files, tmp_path):
    d, _ = demo_files
    demo = pki.demo_pki()
    crl = tmp_path / "ut.crl"
    crl.write_bytes(pki.make_crl(demo.csca, [demo.dsc.cert.serial_number]))
    code, out, err = run_main(capsys, "--csca", str(d / "csca.pem"), "--crl", str(crl),
                              "--sod", str(d / "sod.bin"), "--dg", f"1={d / 'dg1.bin'}")
    assert code == 0 and err == "" and out["trust_store"]["crl_count"] == 1
    details = out["passive_authentication_details"]
    assert details["sod_signature_valid"] and details["all_hashes_valid"]
    assert not details["document_certificate_valid"] and not out["passive_authentication"]
    assert details["error"] == "document signer certificate is revoked by its CSCA's CRL"


@pytest.mark.testdata
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
                              "--dg", f"1={d / 'dg1.bin'}")
    assert code == 0 and err == ""
    evaluated = datetime.strptime(out["passive_authentication_details"]["evaluated_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert before <= evaluated.replace(tzinfo=timezone.utc) <= datetime.now(timezone.utc)


@pytest.mark.testdata
def test_unparsable_dg1_is_an_error_entry_and_still_hashed(capsys, demo_files, tmp_path):
    d, _ = demo_files
    (tmp_path / "dg1-junk.bin").write_bytes(b"\x61\x03\x5f\x1f\x00")
    code, out, err = run_main(capsys, "--csca", str(d / "csca.pem"), "--sod", str(d / "sod.bin"),
                              "--dg", f"1={tmp_path / 'dg1-junk.bin'}", "--at", "2030-01-01T00:00:00Z")
    assert code == 0 and out["mrz_info"] is None
    assert out["errors"][0].startswith("DG1: ") and "DG1 hash does not match EF.SOD" in out["errors"]
    assert out["passive_authentication_details"]["data_groups_checked"] == [1]
