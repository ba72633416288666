"""API v2 end to end over real sockets: DocVal made by ``tap.makeService`` from a TOML file,
a real Result Server, and the v2 virtual phone (docval.sim.phone_v2) for every virtual
document and every hostile v2 phone; v1 and v2 posts for the same document compared."""
from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from docval.sim import profiles
from docval.sim.phone_v2 import PhoneV2Options, expected_v2, run_phone_v2

from .stack import FILES, POSTING, RETURNING, wait_until

V2_PATH = "/ws2/validate"


def v2_url(stack: Any, query: str = "") -> str:
    return f"ws://127.0.0.1:{stack.port}{V2_PATH}{query}"


async def run_v2(stack: Any, name: str, **overrides: Any) -> Any:
    profile = profiles.get_profile(name)
    overrides.setdefault("client_id", POSTING)
    options = PhoneV2Options(access_key=profile.access_key, **overrides)
    query = "?return_result=true" if options.return_result else ""
    return await run_phone_v2(v2_url(stack, query), profile.chip(), options, reactor=stack.reactor), options


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
@pytest_twisted.ensureDeferred
async def test_every_virtual_document_over_v2(name, make_stack, reactor):
    stack = make_stack()
    record, options = await run_v2(stack, name)
    expected = expected_v2(profiles.get_profile(name).expect, options)
    await wait_until(reactor, lambda: not stack.factory.sessions and not stack.factory.posts)
    if "close" in expected:
        assert (record.close_code, record.close_reason) == expected["close"], record
        assert stack.results.posts == []
        return
    assert (record.close_code, record.close_message) == (1000, {"type": "CLOSE", "code": 1000, "reason": ""})
    assert {k: record.result[k] for k in expected} == expected
    (post,) = stack.results.posts
    assert post.body["client_validation_id"] == options.validation_id
    assert post.content_type == ["application/json"]
    assert record.other_messages == []


@pytest.mark.parametrize("name", ["pace-ecdh-gm-aes128", "bac-3des", "pace-dh-gm-3des"])
@pytest_twisted.ensureDeferred
async def test_v1_and_v2_post_the_same_result_for_the_same_document(name, make_stack, reactor):
    stack = make_stack()
    await stack.phone(name, client_id=FILES)
    record, _ = await run_v2(stack, name, client_id=FILES)
    await wait_until(reactor, lambda: len(stack.results.posts) == 2 and not stack.factory.posts)
    v1, v2 = (p.body for p in stack.results.posts)
    assert set(v1) == set(v2) and v1["session_id"] != v2["session_id"]
    p1, p2 = v1["emrtd_passport"], v2["emrtd_passport"]
    # What v2 cannot know: which access control the phone ran.
    assert p1.pop("access_control") is not None and p2.pop("access_control") is None
    assert p1 == p2


@pytest_twisted.ensureDeferred
async def test_ios_without_send_result_disconnects_after_finish_and_the_result_is_posted(make_stack, reactor):
    stack = make_stack()
    record, options = await run_v2(stack, "pace-ecdh-gm-aes128", platform="iOS", send_result=False)
    await wait_until(reactor, lambda: stack.results.posts and not stack.factory.posts
                     and not stack.factory.sessions)
    assert record.result is None
    (post,) = stack.results.posts
    assert post.body["emrtd_passport"]["chip_authentication_result"] == "SUCCESS"


@pytest_twisted.ensureDeferred
async def test_a_client_without_result_server_and_no_result_wanted_is_4401(make_stack, reactor):
    stack = make_stack()
    record, _ = await run_v2(stack, "pace-ecdh-gm-aes128", client_id=RETURNING, platform="iOS",
                             send_result=False)
    await wait_until(reactor, lambda: not stack.factory.sessions)
    assert record.close_message == {"type": "CLOSE", "code": 4401, "reason": "INVALID_CLIENT_ID"}
    assert stack.results.posts == []
