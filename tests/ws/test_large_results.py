"""What the session sends is not held to the limit on what phones send (issue 15 §3):
in memory on task.Clock, a result several times the message limit is delivered, while
an incoming message one byte over the limit still closes 1009."""
from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from docval.config import LimitsConfig
from docval.emrtd.files import FileCaps
from docval.poster import PostOutcome
from docval.result import Report
from docval.ws.factory import MAX_MESSAGE_BYTES

from .harness import POST_CLIENT, FakePoster, Harness, scripted_reader, start_message

RR = "/ws1/validate?return_result=true"


def big_report_reader(size: int):
    """A reader whose result carries a ``size``-byte face image."""
    inner = scripted_reader()

    async def read(transport, params, progress):
        report = await inner(transport, params, progress)
        report.face_photo = b"\xff\xd8" + bytes(size - 2)
        return report

    return read


@pytest.mark.parametrize("client", ["YOUR CLIENT ID", POST_CLIENT])
def test_result_far_above_the_incoming_limit_is_delivered(client):
    size = 4 * MAX_MESSAGE_BYTES
    poster = FakePoster(outcome=lambda: PostOutcome(1, 200))
    h = Harness(read_document=big_report_reader(size), poster=poster)
    c = h.raw(start_message(client_id=client), path=RR)
    h.run(c)
    (result,) = [t["emrtd_passport"] for t in c.texts if "emrtd_passport" in t]
    assert len(base64.b64decode(result["face_photo"])) == size
    assert c.statuses[-1] == "DONE" and c.texts[-1] == {"close_code": 1000}
    assert c.closed[1:] == (1000, None)
    if client == POST_CLIENT:
        assert poster.posts[0][1] == result
    # The limit on incoming messages is back in place after each send.
    assert c.server.maxMessagePayloadSize == MAX_MESSAGE_BYTES
    assert c.server.maxFramePayloadSize == MAX_MESSAGE_BYTES
    h.assert_clean()


def test_incoming_limit_is_unchanged_after_sending_statuses():
    h = Harness(apdu_response=5)
    c = h.raw(start_message(), path=RR, answer=lambda apdu: None)
    h.run(c)
    assert c.statuses and c.binaries           # the session sent text and binary messages
    c.client.sendMessage(b"\x00" * (MAX_MESSAGE_BYTES + 1), isBinary=True)
    h.run(c)
    assert c.closed is not None and c.closed[1] == 1009
    assert not any("emrtd_passport" in t for t in c.texts)
    h.assert_clean()


def test_result_that_cannot_be_encoded_fails_before_done():
    class Unencodable(Report):
        def to_emrtd_passport(self, files_binary=False):
            out = super().to_emrtd_passport(files_binary)
            out["errors"] = [object()]        # not JSON: a bug, found before DONE is sent
            return out

    async def read(transport, params, progress):
        return Unencodable()

    h = Harness(read_document=read)
    c = h.raw(start_message(), path=RR)
    h.run(c)
    assert "DONE" not in c.statuses
    assert c.texts[-1] == {"close_code": 1011, "close_reason": "SERVER_ERROR"}
    h.assert_clean()


def test_configured_file_caps_reach_the_reader():
    seen = []
    config = replace(Harness().config, limits=LimitsConfig(max_file_bytes=20000, max_commands_per_file=300))
    h = Harness(config=config, read_document=scripted_reader(seen=seen))
    c = h.raw(start_message(), path=RR)
    h.run(c)
    (params,) = seen
    assert params.file_caps == FileCaps(max_file_bytes=20000, max_commands_per_file=300)
    h.assert_clean()
