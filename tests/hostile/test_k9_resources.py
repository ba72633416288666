"""docs/reliability.md K9 (attacker-controlled CPU and memory): JPEG 2000 images decoded only
when verified, off the reactor thread, under a pixel cap and a per-session budget;
over-long relay answers refused as they arrive and the bytes buffered per session capped."""
from __future__ import annotations

import base64
import io
import os
import threading

import pytest
import pytest_twisted
from PIL import Image

from docval.emrtd import images
from docval.emrtd.errors import LimitExceeded
from docval.sim import datagroups, profiles
from docval.sim.edit import put_dg, resign_sod
from tests.hostile.chipharness import run_chip
from tests.support.wsclient import RawWebSocket

pytestmark = pytest.mark.hostile

PROFILE = "pace-ecdh-gm-aes128"


def _j2k(width: int, height: int, seed: int = 0) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (seed * 40 % 256, 120, 60)).save(out, "JPEG2000", no_jp2=True)
    return out.getvalue()


class SpyDecoder:
    """decode_image for the reader: records every call and which thread ran it."""

    def __init__(self):
        self.calls: list[tuple[int, int]] = []

    async def __call__(self, data: bytes, max_pixels: int):
        self.calls.append(images.declared_size(data) + (max_pixels,))
        return images.convert(data, max_pixels)


def _chip(face: bytes | None = None, signatures: list[bytes] | None = None):
    chip = profiles.get_profile(PROFILE).chip()
    if face is not None:
        w, h = images.declared_size(face)
        put_dg(chip, 2, datagroups.encode_dg2([(face, w, h, "j2k")]), resign=False)
    if signatures is not None:
        put_dg(chip, 7, datagroups.encode_dg7(signatures), resign=False)
    resign_sod(chip)
    return chip


def _read(chip, trust, **params):
    spy = SpyDecoder()
    out = run_chip(chip, profiles.get_profile(PROFILE).access_key, trust, decode_image=spy, **params)
    return out, spy


def test_K9_verified_jpeg2000_images_are_converted(demo_trust):
    out, spy = _read(_chip(_j2k(120, 160), [_j2k(100, 40, 1)]), demo_trust)
    result = out.result
    assert result["passive_authentication"] is True
    with Image.open(io.BytesIO(base64.b64decode(result["face_photo"]))) as face:
        assert (face.format, face.size) == ("JPEG", (120, 160))
    assert len(result["signature_photos"]) == 1
    assert spy.calls == [(120, 160, images.FACE_MAX_PIXELS), (100, 40, images.SIGNATURE_MAX_PIXELS)]


def test_K9_unverified_images_are_never_decoded_hash_mismatch(demo_trust):
    # DG2 and DG7 replaced after signing: their hashes do not match EF.SOD.
    chip = _chip(_j2k(120, 160), [_j2k(100, 40)])
    put_dg(chip, 2, datagroups.encode_dg2([(_j2k(120, 160, 3), 120, 160, "j2k")]), resign=False)
    put_dg(chip, 7, datagroups.encode_dg7([_j2k(100, 40, 3)]), resign=False)
    out, spy = _read(chip, demo_trust)
    assert spy.calls == []
    result = out.result
    assert result["face_photo"] is None and result["signature_photos"] == []
    assert "DG2 face image not converted from JPEG 2000: DG2 is not covered by a validly signed EF.SOD" \
        in result["errors"]
    assert any(e.startswith("DG7 image 1 not converted") for e in result["errors"])


def test_K9_unverified_images_are_never_decoded_untrusted_signer():
    # Hashes match, but nobody trusts the signer (no trust store at all).
    out, spy = _read(_chip(_j2k(120, 160)), None)
    assert spy.calls == []
    assert out.result["face_photo"] is None
    assert out.result["passive_authentication"] is False


def test_K9_jpeg_images_pass_through_undecoded_whatever_the_verdict():
    chip = profiles.get_profile(PROFILE).chip()
    out, spy = _read(chip, None)
    assert spy.calls == [] and base64.b64decode(out.result["face_photo"]) == profiles._face()


def test_K9_pixel_cap_for_faces_and_signatures(demo_trust):
    face = _j2k(1000, 2001)                         # 2.001 MP > the face cap
    signature = _j2k(1501, 1000)                     # 1.501 MP > the signature cap
    small = _j2k(100, 40)
    out, spy = _read(_chip(face, [signature, small]), demo_trust)
    assert spy.calls == [(100, 40, images.SIGNATURE_MAX_PIXELS)]
    errors = out.result["errors"]
    assert f"DG2 face image not converted from JPEG 2000: 1000x2001 pixels exceed the limit of " \
           f"{images.FACE_MAX_PIXELS}" in errors
    assert any(e.startswith("DG7 image 1 not converted") and "1501x1000" in e for e in errors)
    assert out.result["face_photo"] is None and len(out.result["signature_photos"]) == 1


def test_K9_pixel_cap_also_holds_inside_the_decoder():
    """A header that lies to the reader's check is caught by Pillow's own size."""
    with pytest.raises(LimitExceeded):
        images.convert(_j2k(200, 200), 200 * 200 - 1)


def test_K9_budget_limits_the_images_decoded_per_session(demo_trust):
    signatures = [_j2k(64, 32, i) for i in range(9)]
    out, spy = _read(_chip(_j2k(120, 160), signatures), demo_trust)
    limit = images.DecodeLimits().max_images
    assert len(spy.calls) == limit                        # the face and 3 signatures
    result = out.result
    assert result["face_photo"] is not None and len(result["signature_photos"]) == limit - 1
    refused = [e for e in result["errors"] if f"limit of {limit} decoded images" in e]
    assert len(refused) == 9 - (limit - 1)


def test_K9_budget_of_pixels_and_cpu_seconds(demo_trust):
    signatures = [_j2k(64, 32, i) for i in range(3)]
    out, spy = _read(_chip(None, signatures), demo_trust,
                     decode_limits=images.DecodeLimits(max_images=10, max_pixels=2 * 64 * 32))
    assert len(spy.calls) == 2 and any("decoded pixels" in e for e in out.result["errors"])

    out, spy = _read(_chip(None, signatures), demo_trust,
                     decode_limits=images.DecodeLimits(max_images=10, max_cpu_seconds=1e-9))
    assert len(spy.calls) == 1 and any("CPU seconds" in e for e in out.result["errors"])


@pytest_twisted.ensureDeferred
async def test_K9_decoding_happens_off_the_reactor_thread_in_a_bounded_pool():
    from twisted.internet import defer, reactor

    from docval.imaging import ImageDecoder

    decoder = ImageDecoder(reactor, workers=1)
    try:
        data = _j2k(96, 64)
        results = await defer.gatherResults([decoder.decode(data, images.FACE_MAX_PIXELS) for _ in range(3)])
        assert all(r.jpeg[:2] == b"\xff\xd8" for r in results)
        # Another process (never the reactor's interpreter, whose GIL the J2K decoder
        # would hold), and one worker for all three: the pool is bounded.
        assert {r.worker for r in results} != {os.getpid()} and len({r.worker for r in results}) == 1
        assert threading.current_thread() is threading.main_thread()
        with pytest.raises(LimitExceeded):
            await decoder.decode(_j2k(200, 200), 100)
    finally:
        decoder.stop()
    with pytest.raises(LimitExceeded):       # stopped: refused at once, not queued
        await decoder.decode(data, images.FACE_MAX_PIXELS)


def _reading_session(server, **start):
    ws = RawWebSocket(server.port, "/ws1/validate?return_result=true")
    ws.send_json({"client_id": "YOUR CLIENT ID", "validation_id": "k9", "access_key": {"can": "123456"},
                  "nfc_adapter_supports_extended_length": True, "platform": "android", **start})
    while True:
        msg = ws.next_message()
        assert msg is not None, ws.received
        if msg[0] == 0x2:
            return ws, msg[1]


def test_K9_over_long_answer_is_refused_on_arrival(server):
    from docval.emrtd.burst import answer_limit

    ws, command = _reading_session(server)
    ws.send_binary(b"\x00" * answer_limit(command) + b"\x90\x00")    # two bytes too many
    received = ws.drain()
    assert (received.close_code, received.close_reason) == (1011, "COMMUNICATION_FAILED")
    ws.close()


def test_K9_bytes_buffered_per_session_stay_bounded(server):
    """40 sessions each answer their first burst with the most bytes the WebSocket limit
    allows per message; each is refused at its first answer instead of buffered."""
    from tests.hostile.conftest import settle

    before = server.state()["rss_kb"]
    for _ in range(5):
        sockets = []
        for _ in range(8):
            ws, command = _reading_session(server, max_pipelined_apdus=64)
            for _ in range(8):
                try:
                    ws.send_binary(b"\x00" * (70 * 1024 - 2) + b"\x90\x00")
                except OSError:
                    break
            sockets.append(ws)
        for ws in sockets:
            received = ws.drain()
            assert received.close_reason == "COMMUNICATION_FAILED", received.close_reason
            ws.close()
    assert settle(server)["sessions"] == 0
    assert server.state()["rss_kb"] - before < 20_000


def test_K9_images_of_unknown_format_are_left_out_not_passed_on(demo_trust):
    chip = profiles.get_profile(PROFILE).chip()
    put_dg(chip, 2, datagroups.encode_dg2([(b"GIF89a" + b"\x00" * 64, 8, 8, "jpeg")]), resign=False)
    put_dg(chip, 7, datagroups.encode_dg7([b"GIF89a" + b"\x00" * 64, _j2k(100, 40)]))
    out, spy = _read(chip, demo_trust)
    result = out.result
    assert result["face_photo"] is None
    assert "DG2 could not be parsed: the face image is neither JPEG nor JPEG 2000" in result["errors"]
    assert "DG7 image 1 left out: neither JPEG nor JPEG 2000" in result["errors"]
    assert len(result["signature_photos"]) == 1 and spy.calls == [(100, 40, images.SIGNATURE_MAX_PIXELS)]
