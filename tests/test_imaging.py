"""docval.imaging: the bounded pool of decoding worker processes."""
from __future__ import annotations

import io
import os

import pytest
import pytest_twisted
from PIL import Image

from docval.emrtd import images
from docval.imaging import DecoderUnavailable, ImageDecoder


def _j2k() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(out, "JPEG2000", no_jp2=True)
    return out.getvalue()


def crash_on_marker(data: bytes, max_pixels: int) -> images.Converted:
    """A job for the workers: dies like a decoder crashing on hostile input."""
    if data == b"crash":
        os._exit(70)
    return images.convert(data, max_pixels)


@pytest_twisted.ensureDeferred
async def test_a_worker_that_dies_fails_its_image_and_the_pool_recovers():
    from twisted.internet import reactor

    decoder = ImageDecoder(reactor, workers=1, job=crash_on_marker)
    try:
        with pytest.raises(DecoderUnavailable):
            await decoder.decode(b"crash", 100)
        result = await decoder.decode(_j2k(), 10_000)
        assert result.jpeg[:2] == b"\xff\xd8" and result.worker != os.getpid()
        assert (decoder.decoded, decoder.failed) == (1, 1)
    finally:
        decoder.stop()


@pytest_twisted.ensureDeferred
async def test_undecodable_bytes_are_a_parse_error_not_a_pool_failure():
    from twisted.internet import reactor

    from docval.emrtd.errors import ParseError

    decoder = ImageDecoder(reactor, workers=1)
    try:
        with pytest.raises(ParseError):
            await decoder.decode(_j2k()[:60], 10_000)
        assert (await decoder.decode(_j2k(), 10_000)).jpeg[:2] == b"\xff\xd8"
    finally:
        decoder.stop()


def test_no_worker_is_started_until_an_image_needs_one():
    decoder = ImageDecoder(None)
    assert decoder._executor is None
    decoder.stop()
    with pytest.raises(ValueError):
        ImageDecoder(None, workers=0)


def hang_on_marker(data: bytes, max_pixels: int) -> images.Converted:
    """A job for the workers: a decoder stuck on hostile input."""
    if data == b"hang":
        import time
        time.sleep(3600)
    return images.convert(data, max_pixels)


@pytest_twisted.ensureDeferred
async def test_a_decode_that_does_not_end_is_given_up_and_its_worker_replaced():
    from twisted.internet import reactor

    decoder = ImageDecoder(reactor, workers=1, job=hang_on_marker, timeout=2.0)
    try:
        stuck = decoder.decode(b"hang", 100)
        queued = decoder.decode(_j2k(), 10_000)      # behind it, in the one worker's queue
        for d in (stuck, queued):
            with pytest.raises(DecoderUnavailable):
                await d
        decoder.timeout = 120.0     # a fresh worker spawns first: slow on a loaded machine
        result = await decoder.decode(_j2k(), 10_000)
        assert result.jpeg[:2] == b"\xff\xd8"
    finally:
        decoder.stop()
