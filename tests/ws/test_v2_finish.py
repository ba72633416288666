"""API v2 sessions to the end over the in-memory harness: every virtual document, the verdicts
against v1's for the same document, the Result Server post, RESULT, and what happens after
FINISH, with the v2 virtual phone (and hostile variants) on one task.Clock."""
from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import jwt
import pytest
from twisted.internet import defer

from docval.config import SigningConfig
from docval.reader import read_document
from docval.signing import write_new_key
from docval.sim import profiles
from docval.sim.phone import PhoneOptions
from docval.sim.phone_v2 import PhoneV2Options, PhoneV2Protocol, expected_v2
from docval.v2.camel import to_camel
from tests.support.hostile_phones_v2 import phone_behaviours_v2
from tests.ws.harness import POST_CLIENT, RETURN_CLIENT, FakePoster, Harness
from tests.ws.v2script import closing, document_files, file, finish, open_v2, send, start, text


class Posted:
    attempts = 1


def posting_ok() -> FakePoster:
    return FakePoster(lambda: Posted())


def v2_options(profile: profiles.Profile, **overrides: Any) -> PhoneV2Options:
    overrides.setdefault("client_id", POST_CLIENT)
    return PhoneV2Options(access_key=profile.access_key, **overrides)


def run_v2(demo_trust: Any, profile_name: str, *, protocol: Any = None, poster: Any = None,
           **overrides: Any) -> tuple[Harness, Any, Any]:
    profile = profiles.get_profile(profile_name)
    h = Harness(trust=demo_trust, poster=poster or posting_ok())
    options = v2_options(profile, **overrides)
    query = "?return_result=true" if options.return_result else ""
    conn = h.phone_v2(profile.chip(), options, protocol=protocol, query=query)
    h.run(conn, 3)
    return h, conn, conn.client_factory.record


def run_v1(demo_trust: Any, profile_name: str) -> dict[str, Any]:
    profile = profiles.get_profile(profile_name)
    h = Harness(trust=demo_trust, poster=posting_ok(), read_document=read_document)
    key = profile.access_key
    access = {"can": key.can} if hasattr(key, "can") else {
        "document_number": key.document_number, "date_of_birth": key.date_of_birth,
        "date_of_expiry": key.date_of_expiry}
    conn = h.phone(profile.chip(), PhoneOptions(client_id=POST_CLIENT, access_key=access))
    h.run(conn, 3)
    (post,) = h.poster.posts
    return post[1]


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_every_virtual_document_ends_as_the_v1_rules_say(name, demo_trust):
    profile = profiles.get_profile(name)
    h, conn, record = run_v2(demo_trust, name)
    expected = expected_v2(profile.expect, v2_options(profile))
    if "close" in expected:
        assert (record.close_code, record.close_reason) == expected["close"]
        assert h.poster.posts == []
    else:
        assert (record.close_code, record.close_reason) == (1000, None), record
        assert record.close_message == {"type": "CLOSE", "code": 1000, "reason": ""}
        assert {k: record.result[k] for k in expected} == expected
        (post,) = h.poster.posts
        url, body, validation_id = post
        assert validation_id == conn.client_factory.options.validation_id
        # RESULT is the camelCase form of exactly what was posted.
        assert record.result == to_camel(body)
    assert record.other_messages == []        # never a status message
    h.run(conn, 2)
    h.assert_clean()


@pytest.mark.parametrize("name", ["pace-ecdh-gm-aes128", "pace-dh-gm-3des", "bac-3des",
                                  "pace-ecdh-im-aes256", "td1-idcard", "tampered", "untrusted"])
def test_the_posted_result_matches_v1_for_the_same_document(name, demo_trust):
    v1 = run_v1(demo_trust, name)
    h, conn, record = run_v2(demo_trust, name)
    (post,) = h.poster.posts
    v2 = post[1]
    # What v2 cannot know: the access control the phone ran.  The rest is the same document.
    assert v2.pop("access_control") is None
    v1.pop("access_control")
    assert v2 == v1


def test_the_post_is_v1s_delivery_with_the_session_as_idempotency_key(demo_trust):
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128")
    (delivery,) = h.poster.deliveries
    assert delivery["session_id"] == conn.server.session_id
    assert delivery["client"].client_id == POST_CLIENT
    ((url, body, validation_id),) = h.poster.posts
    assert url == h.config.clients[1].result_url and validation_id == record_validation_id(conn)


def record_validation_id(conn: Any) -> str:
    return conn.client_factory.options.validation_id


def test_result_and_close_only_after_the_post_succeeded(demo_trust):
    poster = FakePoster()
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128", poster=poster)
    assert conn.server.phase == "posting" and record.result is None and record.close_code is None
    poster.pending[0].callback(Posted())
    h.run(conn, 1)
    assert record.result is not None and (record.close_code, record.close_reason) == (1000, None)


def test_a_failed_post_closes_post_failed_without_a_result(demo_trust):
    poster = FakePoster()
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128", poster=poster)
    from docval.errors import ResultPostFailed
    poster.pending[0].errback(ResultPostFailed("HTTP 503"))
    h.run(conn, 1)
    assert record.result is None
    assert record.close_message == {"type": "CLOSE", "code": 1011, "reason": "POST_TO_RESULT_SERVER_FAILED"}


def test_no_result_on_the_phone_unless_finish_asks(demo_trust):
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128", send_result=False)
    assert record.result is None and (record.close_code, record.close_reason) == (1000, None)
    assert len(h.poster.posts) == 1


def test_a_client_without_result_server_gets_its_result_on_the_phone(demo_trust):
    h, conn, record = run_v2(demo_trust, "bac-3des", client_id=RETURN_CLIENT)
    assert h.poster.posts == []
    assert record.result["chipAuthenticationResult"] == "SUCCESS"
    assert (record.close_code, record.close_reason) == (1000, None)


def test_aa_skipped_after_ca_is_unavailable(demo_trust):
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128", skip_aa_after_ca=True)
    assert record.result["chipAuthenticationResult"] == "SUCCESS"
    assert record.result["activeAuthenticationResult"] == "UNAVAILABLE"


def test_a_phone_that_skips_the_handover_on_a_dg14_document_gets_ca_failed(demo_trust):
    behaviour = phone_behaviours_v2()["skips-handover"]
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128", protocol=behaviour.protocol)
    (post,) = h.poster.posts
    assert post[1]["chip_authentication_result"] == "FAILED"
    assert any("skipped chip authentication" in e for e in post[1]["errors"])
    assert record.result["chipAuthenticationResult"] == "FAILED"


class WrongSignature(PhoneV2Protocol):
    def finish_message(self) -> dict[str, Any]:
        msg = super().finish_message()
        msg["activeAuthenticationSignature"] = "AAAA" + msg["activeAuthenticationSignature"][4:]
        return msg


def test_a_signature_that_does_not_verify_is_aa_failed(demo_trust):
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128", protocol=WrongSignature)
    assert record.result["activeAuthenticationResult"] == "FAILED"


def test_a_phone_gone_right_after_finish_still_gets_its_result_posted(demo_trust, caplog_events):
    behaviour = phone_behaviours_v2()["disconnect-after-finish"]
    poster = FakePoster()
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128", protocol=behaviour.protocol,
                             poster=poster, **behaviour.options)
    assert len(poster.posts) == 1 and h.factory.sessions != set()
    poster.pending[0].callback(Posted())
    h.run(conn, 1)
    (line,) = [e for e in caplog_events() if " ended: " in e]
    assert "outcome=success" in line and "api=v2" in line and "after the phone left" in line
    assert h.metrics.finished == [("success", None)]
    h.assert_clean()


def test_a_phone_gone_before_finish_posts_nothing(demo_trust):
    behaviour = phone_behaviours_v2()["disconnect-before-finish"]
    h, conn, record = run_v2(demo_trust, "pace-ecdh-gm-aes128", protocol=behaviour.protocol)
    assert h.poster.posts == []
    assert h.metrics.finished == [("failure", "COMMUNICATION_FAILED")]
    h.assert_clean()


def test_a_file_after_finish_while_assessing_is_unexpected_and_nothing_is_posted(demo_trust):
    held: list[defer.Deferred] = []

    def offload(fn, *args):
        d: defer.Deferred = defer.Deferred()
        held.append(d)
        return d.addCallback(lambda _: fn(*args))

    files = document_files()
    h = Harness(trust=demo_trust, poster=posting_ok(), offload=offload)
    conn = open_v2(h, text(start()))
    send(h, conn, *(file(name, data) for name, data in files.items() if name != "dg14"), finish())
    assert held and conn.server.phase == "reading"
    send(h, conn, file("dg14", files["dg14"]))
    assert closing(conn) == (1008, "UNEXPECTED_MESSAGE")
    held[0].callback(None)
    h.run(conn, 1)
    assert h.poster.posts == []
    h.assert_clean()


def test_messages_after_finish_while_posting_are_ignored_and_the_post_decides(demo_trust):
    poster = FakePoster()
    files = document_files()
    h = Harness(trust=demo_trust, poster=poster)
    conn = open_v2(h, text(start()))
    send(h, conn, *(file(name, data) for name, data in files.items() if name != "dg14"), finish())
    assert conn.server.phase == "posting"
    send(h, conn, text({"type": "MONITORING", "message": "Step: DONE"}), file("dg14", files["dg14"]),
         text(start()))
    poster.pending[0].callback(Posted())
    h.run(conn, 1)
    assert closing(conn) == (1000, "")
    assert conn.texts[-2]["type"] == "RESULT"


class KeepsResultMessage(PhoneV2Protocol):
    messages: list[dict[str, Any]] = []

    def _on_result(self, msg: dict[str, Any]) -> None:
        KeepsResultMessage.messages.append(msg)
        super()._on_result(msg)


def test_a_signing_client_gets_the_signed_result_beside_the_passport(demo_trust, tmp_path):
    signer = write_new_key(tmp_path / "key.pem")
    config = Harness().config
    clients = tuple(replace(c, sign_returned_result=True) for c in config.clients)
    config = replace(config, clients=clients, signing=SigningConfig(key_file=tmp_path / "key.pem"))
    profile = profiles.get_profile("pace-ecdh-gm-aes128")
    h = Harness(config=config, trust=demo_trust, poster=posting_ok(), signer=signer)
    options = v2_options(profile)
    KeepsResultMessage.messages = []
    conn = h.phone_v2(profile.chip(), options, protocol=KeepsResultMessage, query="?return_result=true")
    h.run(conn, 3)
    (message,) = KeepsResultMessage.messages
    (post,) = h.poster.posts
    assert message["passport"] == to_camel(post[1])
    key = jwt.PyJWK(signer.jwks()["keys"][0]).key
    claims = jwt.decode(message["passportJws"], key, algorithms=["ES256"])
    assert claims["emrtd_passport"] == post[1]
    assert claims["client_validation_id"] == options.validation_id
    assert claims["session_id"] == conn.server.session_id


def test_a_malformed_sod_is_a_file_read_error(demo_trust):
    files = document_files()
    h = Harness(trust=demo_trust, poster=posting_ok())
    conn = open_v2(h, text(start()))
    send(h, conn, file("dg1", files["dg1"]), file("sod", b"\x77\x03\x30\x01\x00"), finish())
    assert closing(conn) == (1011, "FILE_READ_ERROR")
    assert h.poster.posts == []
    h.assert_clean()


def test_a_result_that_cannot_be_signed_is_a_server_error_before_anything_is_posted(demo_trust):
    config = Harness().config
    clients = tuple(replace(c, sign_returned_result=True) for c in config.clients)
    h = Harness(config=replace(config, clients=clients), trust=demo_trust, poster=posting_ok())   # no signer
    files = document_files()
    conn = open_v2(h, text(start()), query="?return_result=true")
    send(h, conn, *(file(name, data) for name, data in files.items()), finish())
    assert closing(conn) == (1011, "SERVER_ERROR")
    assert h.poster.posts == []
    h.assert_clean()


class KeepsSecrets(PhoneV2Protocol):
    """Remembers what must never reach a log: the handed keys, the challenge, the signature."""

    secrets: list[str] = []

    def handover_message(self) -> dict[str, Any]:
        msg = super().handover_message()
        info = msg["secureMessagingInfo"]
        KeepsSecrets.secrets += [info["encKey"], info["macKey"]]
        if abs(info["ssc"]) > 10**6:     # BAC's random counter; a small PACE one is any number
            KeepsSecrets.secrets.append(str(info["ssc"]))
        return msg

    def finish_message(self) -> dict[str, Any]:
        msg = super().finish_message()
        KeepsSecrets.secrets.append(base64.b64encode(self.challenge).decode())
        if msg.get("activeAuthenticationSignature"):
            KeepsSecrets.secrets.append(msg["activeAuthenticationSignature"])
        return msg


@pytest.mark.parametrize("name", ["pace-ecdh-gm-aes128", "bac-3des", "td1-idcard"])
def test_no_key_challenge_signature_or_document_data_in_any_log_line(name, demo_trust, caplog_events):
    KeepsSecrets.secrets = []
    h, conn, record = run_v2(demo_trust, name, protocol=KeepsSecrets, diagnostics=True)
    assert record.result is not None and KeepsSecrets.secrets
    text = "\n".join(caplog_events())
    assert "api=v2" in text
    forbidden = KeepsSecrets.secrets + [profiles.HOLDER["primary_identifier"], profiles.PASSPORT_NUMBER,
                                        profiles.ID_CARD_NUMBER, "Step: "]
    assert [s for s in forbidden if s in text] == []
