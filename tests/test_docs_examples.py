"""The API documents: their code examples run as written, their links resolve inside the
repository, and the published schema is a valid JSON Schema that real results satisfy."""
from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import jsonschema
import jwt
import pytest

from docval.config import SigningConfig
from docval.signing import load_signer, write_new_key
from tests.schema import SCHEMA_PATH, check_published_schema
from tests.ws.harness import Harness, start_message

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API_DOCS = ("websocket-api.md", "result.md", "result-server.md")
MARKER = "<!-- tested: tests/test_docs_examples.py runs this block -->"


def docs_blocks(name: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return re.findall(re.escape(MARKER) + r"\n```python\n(.*?)\n```", text, flags=re.S)


def run_block(code: str) -> dict:
    namespace: dict = {"__name__": "docs_example"}
    exec(compile(code, "docs/result-server.md", "exec"), namespace)
    return namespace


@pytest.fixture(scope="module")
def examples() -> dict:
    blocks = docs_blocks("result-server.md")
    assert len(blocks) == 2
    namespace: dict = {}
    for block in blocks:
        namespace.update(run_block(block))
    return namespace


# --- DocVal-Signature --------------------------------------------------------------------

def sign(secret: bytes, t: int, body: bytes) -> str:
    return hmac.new(secret, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def test_docs_signature_check(examples):
    verify = examples["verify_docval_signature"]
    body = b'{"emrtd_passport":{},"client_validation_id":"v","session_id":"s"}'
    now = int(time.time())
    current, old = b"current secret", b"old secret"
    good = f"t={now},v1={sign(current, now, body)}"
    assert verify(good, body, [current])
    assert verify(f"t={now},v1={sign(b'x', now, body)},v1={sign(old, now, body)}", body, [current, old])
    assert not verify(good, body + b" ", [current])
    assert not verify(good, body, [old])
    assert not verify(f"t={now - 301},v1={sign(current, now - 301, body)}", body, [current])
    assert not verify(f"t={now}", body, [current])
    assert not verify(f"v1={sign(current, now, body)}", body, [current])
    assert not verify(f"t={now},v1={sign(current, now - 1, body)}", body, [current])


# --- emrtd_passport_jws ----------------------------------------------------------------------

@pytest.fixture
def signer(tmp_path):
    return write_new_key(tmp_path / "key.pem")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_docs_jws_check_accepts_a_real_session_result(examples, signer, tmp_path):
    verify = examples["verify_result_jws"]
    config = Harness().config
    clients = (replace(config.clients[0], sign_returned_result=True),) + config.clients[1:]
    h = Harness(config=replace(config, clients=clients, signing=SigningConfig(tmp_path / "key.pem")),
                signer=load_signer(tmp_path / "key.pem"))
    h.clock.advance(time.time())
    c = h.raw(start_message(), path="/ws1/validate?return_result=true")
    h.run(c)
    (message,) = [t for t in c.texts if "emrtd_passport_jws" in t]
    jwks = json.loads(json.dumps(signer.jwks()))   # as a backend gets it: parsed JSON
    claims = verify(message["emrtd_passport_jws"], jwks, start_message()["validation_id"])
    assert claims["emrtd_passport"] == message["emrtd_passport"]
    assert claims["session_id"] == c.server.session_id


def test_docs_jws_check_refuses_what_it_must(examples, signer, tmp_path):
    verify = examples["verify_result_jws"]
    jwks = signer.jwks()
    now = int(time.time())
    token = signer.sign_result({"passive_authentication": True}, "v-1", "s-1", now)
    assert verify(token, jwks, "v-1")["session_id"] == "s-1"
    with pytest.raises(ValueError, match="another validation"):
        verify(token, jwks, "v-2")
    with pytest.raises(ValueError, match="too old"):
        verify(signer.sign_result({}, "v-1", "s-1", now - 3600), jwks, "v-1")
    other = write_new_key(tmp_path / "other.pem")
    with pytest.raises(ValueError, match="unknown key id"):
        verify(other.sign_result({}, "v-1", "s-1", now), jwks, "v-1")
    # The other key under our kid: the signature check itself must fail.
    header, payload, _ = other.sign_result({}, "v-1", "s-1", now).split(".")
    ours_header = json.loads(base64.urlsafe_b64decode(header + "=="))
    ours_header["kid"] = signer.kid
    forged = jwt.encode(json.loads(base64.urlsafe_b64decode(payload + "==")),
                        jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).prepare_key(
                            (tmp_path / "other.pem").read_bytes()),
                        algorithm="ES256", headers={"kid": signer.kid})
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, jwks, "v-1")
    # An edited payload with the original signature.
    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["emrtd_passport"]["passive_authentication"] = False
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{h}.{b64url(json.dumps(claims).encode())}.{s}", jwks, "v-1")
    # Algorithm confusion: HS256 keyed with the public JWK, and "none".
    hs = jwt.encode({"client_validation_id": "v-1", "iat": now}, "k" * 32, algorithm="HS256",
                    headers={"kid": signer.kid})
    with pytest.raises(ValueError, match="unexpected algorithm"):
        verify(hs, jwks, "v-1")
    none = f"{b64url(json.dumps({'alg': 'none', 'kid': signer.kid}).encode())}.{p}."
    with pytest.raises(ValueError, match="unexpected algorithm"):
        verify(none, jwks, "v-1")


# --- the documents themselves ---------------------------------------------------------------

def test_links_stay_inside_the_repository():
    for path in [ROOT / "README.md"] + [DOCS / name for name in API_DOCS]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "SPEC.md" not in text and "HOSTILE_INPUTS" not in text, path
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://")):
                continue
            assert (path.parent / target).resolve().is_relative_to(ROOT), (path, target)
            assert (path.parent / target).exists(), (path, target)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in API_DOCS + ("emrtd_passport.schema.json",):
        assert f"(docs/{name})" in readme, name
    assert "(examples/result_server.py)" in readme


def test_close_table_lists_every_close_reason():
    from docval.errors import _TABLE

    text = (DOCS / "websocket-api.md").read_text(encoding="utf-8")
    for _, close in _TABLE:
        assert re.search(rf"\| {close.code} \| `{close.reason}` \|", text), close


def test_status_table_lists_every_status_in_order():
    from docval.ws.protocol import STATUSES

    text = (DOCS / "websocket-api.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d{1,2}) \| `([A-Z0-9_]+)` \|", text, flags=re.M)
    assert [name for _, name in rows] == list(STATUSES)


def test_result_doc_describes_every_schema_field():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    text = (DOCS / "result.md").read_text(encoding="utf-8")
    names = set(schema["properties"])
    for key in ("passive_authentication_details", "sod_info", "mrz_info", "additional_personal_details",
                "additional_document_details"):
        names |= set(schema["properties"][key]["properties"])
    missing = sorted(name for name in names if f"| `{name}` |" not in text)
    assert not missing, missing


# --- the schema ---------------------------------------------------------------------------

def test_schema_is_2020_12_and_the_documented_example_satisfies_it():
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    # data_groups_not_read is defined, not yet required (it becomes required once always sent).
    details = schema["properties"]["passive_authentication_details"]
    assert "data_groups_not_read" in details["properties"]


@pytest.fixture(scope="module")
def real_result(demo_trust_module):
    from docval.reader import ReadParams
    from docval.sim import profiles
    from docval.sim.direct import read_sync

    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    report = read_sync(profile.chip(), ReadParams(access_key=profile.access_key, extended_length=True,
                                                  trust=demo_trust_module))
    return report.to_emrtd_passport(files_binary=True)


@pytest.fixture(scope="module")
def demo_trust_module():
    from docval.config import TrustConfig
    from docval.tap import load_trust

    return load_trust(TrustConfig(demo_csca=True))


@pytest.mark.parametrize("mutate, where", [
    (lambda r: r.pop("errors"), "<root>: required"),
    (lambda r: r.update(errors=None), "errors: type"),
    (lambda r: r.update(unknown_field=1), "<root>: additionalProperties"),
    (lambda r: r.update(chip_authentication_result="OK"), "chip_authentication_result: enum"),
    (lambda r: r.update(face_photo="iVBORw0KGgo="), "face_photo"),
    (lambda r: r["mrz_info"].update(date_of_birth="1985-03-12"), "mrz_info/date_of_birth"),
    (lambda r: r["mrz_info"].update(optional_data2="X"), "mrz_info/optional_data2"),
    (lambda r: r["passive_authentication_details"].update(data_groups_checked=[0]),
     "passive_authentication_details/data_groups_checked/0"),
    (lambda r: r["passive_authentication_details"].update(all_hashes_valid=False), "all_hashes_valid: const"),
    (lambda r: r["files_binary"].update({"../etc": "AA=="}), "files_binary"),
    (lambda r: r["sod_info"]["hash_for_data_group"].update({"17": "AA=="}), "sod_info/hash_for_data_group"),
])
def test_schema_rejects_what_the_documents_rule_out(real_result, mutate, where):
    check_published_schema(real_result)
    broken = copy.deepcopy(real_result)
    mutate(broken)
    with pytest.raises(AssertionError) as info:
        check_published_schema(broken)
    assert where in str(info.value), info.value


def test_schema_accepts_data_groups_not_read(real_result):
    result = copy.deepcopy(real_result)
    result["passive_authentication_details"]["data_groups_not_read"] = [3, 4]
    check_published_schema(result)
    result["passive_authentication_details"]["data_groups_not_read"] = ["3"]
    with pytest.raises(AssertionError):
        check_published_schema(result)
