"""The log of whole sessions -- every virtual document, and the ways sessions fail --
holds no document number, name, date of birth, CAN, MRZ line, DG11/DG12 value or
image bytes (docs/operations.md, privacy), although many of them were handed to the server in places a
careless log line would quote: the StartMessage, error messages, the Result Server's
error answers."""
from __future__ import annotations

import base64
import json

import pytest_twisted
from twisted.internet import defer

from docval.sim import profiles
from docval.sim.phone import access_key_json
from tests.support.readers import SwitchableReader

from . import document as doc
from .stack import FILES, HOLD, POSTING, RETURNING, wait_until

HOLDER = profiles.HOLDER
MRZ_TD3 = doc.mrz_text(doc.data_groups(profiles.get_profile("bac-3des").chip())[1])
MRZ_TD1 = doc.mrz_text(doc.data_groups(profiles.get_profile("td1-idcard").chip())[1])
SECRETS = {
    "passport number": profiles.PASSPORT_NUMBER,
    "ID card number": profiles.ID_CARD_NUMBER,
    "ID card number in the MRZ": profiles.ID_CARD_NUMBER[:9],
    "CAN": profiles.CAN,
    "surname": HOLDER["primary_identifier"],
    "given name": HOLDER["secondary_identifier"][0],
    "date of birth": HOLDER["date_of_birth"],
    "full date of birth": doc.DG11["full_date_of_birth"],
    "date of expiry": profiles.DATE_OF_EXPIRY,
    "TD3 MRZ line 1": MRZ_TD3[:44].rstrip("<"),
    "TD3 MRZ line 2": MRZ_TD3[44:72],
    "TD1 MRZ line 1": MRZ_TD1[:30].rstrip("<"),
    "TD1 MRZ line 2": MRZ_TD1[30:45],
    "personal number": doc.DG11["personal_number"],
    "address": doc.DG11["permanent_address"][0],
    "telephone": doc.DG11["telephone"],
    "place of birth": doc.DG11["place_of_birth"],
    "issuing authority": doc.DG12["issuing_authority"],
}


def image_fragments():
    """Pieces of the face and signature images as a log might show them."""
    chip = profiles.get_profile("bac-3des").chip()
    dgs = doc.data_groups(chip)
    out = []
    for image in (doc.jpeg_at_end(dgs[2]), doc.jpeg_at_end(dgs[7])):
        middle = image[len(image) // 2:len(image) // 2 + 24]
        out += [base64.b64encode(image).decode()[600:640], middle.hex(), middle.hex(" "),
                repr(middle)[2:40], middle.decode("latin-1")]
    return out


@pytest_twisted.ensureDeferred
async def test_no_personal_data_in_the_log_of_full_sessions(make_stack, reactor, captured_log):
    reader = SwitchableReader()
    stack = make_stack(timeouts={"start_message": 0.5, "apdu_response": 2}, read_document=reader)
    quoted = json.dumps({"echo": MRZ_TD3, "number": profiles.PASSPORT_NUMBER})
    # The Result Server refuses some posts and quotes the document back in its answer.
    stack.results.decide = lambda body: (
        400 if body["client_validation_id"].startswith("refuse") else 200)
    original = stack.results.render_POST

    def render(request):
        answer = original(request)
        return quoted.encode() if request.code == 400 else answer

    stack.results.render_POST = render

    runs = []
    for name in sorted(profiles.PROFILES):
        runs.append(lambda name=name: stack.phone(name, client_id=FILES, return_result=True))
        runs.append(lambda name=name: stack.phone(name, client_id=RETURNING, return_result=True,
                                                  platform="ios", max_pipelined_apdus=8))
        runs.append(lambda name=name: stack.phone(name, client_id=POSTING, validation_id="refuse-" + name))
    passport = profiles.get_profile(profiles.DEFAULT_PROFILE)
    key = access_key_json(passport.access_key)
    runs += [
        # Wrong keys: a wrong CAN, and the MRZ data of the holder with the wrong expiry.
        lambda: stack.phone("td1-idcard", access_key={"can": "491735"}, client_id=POSTING),
        lambda: stack.phone("bac-3des", access_key=dict(key, date_of_expiry="340631"), client_id=POSTING),
        # Refused StartMessages that carry the holder's data.
        lambda: stack.phone(client_id="nobody", return_result=True),
        lambda: stack.phone(client_id=POSTING, edit=lambda m: dict(m, access_key=dict(key, date_of_birth="851312"))),
        lambda: stack.phone(client_id=POSTING, edit=lambda m: dict(m, holder=HOLDER["primary_identifier"])),
        lambda: stack.phone(client_id=POSTING, edit=lambda m: dict(m, access_key={"can": profiles.CAN + "0"})),
        # Phones that misbehave mid-session, time out, or go away.
        lambda: stack.phone(client_id=POSTING, hook=_say(MRZ_TD3)),
        lambda: stack.phone(client_id=POSTING, hook=_mute),
        lambda: stack.phone(client_id=POSTING, hook=_vanish),
        lambda: stack.phone(client_id=POSTING, silent=True),
    ]
    pool = defer.DeferredSemaphore(8)     # a loaded two-core machine must still meet the timeouts
    traces = await defer.gatherResults([pool.run(run) for run in runs])
    assert sum(t.close == (1000, None) for t in traces) == 2 * len(profiles.PROFILES)

    # A reader bug whose exception message quotes document data.
    async def leaky(transport, params, progress):
        raise RuntimeError(f"bug near {profiles.PASSPORT_NUMBER} {MRZ_TD3} {params.access_key!r}")

    reader.read = leaky
    await stack.phone(client_id=POSTING)
    reader.read = None
    await wait_until(reactor, lambda: not stack.factory.sessions and not stack.factory.posts)

    log = captured_log()
    # The log is there, and it says what happened ...
    assert log.count("outcome=success") == 2 * len(profiles.PROFILES)
    for reason in ("ACCESS_CONTROL_FAILED", "INVALID_CLIENT_ID", "INVALID_ACCESS_KEY_VALUES",
                   "INVALID_START_MESSAGE", "UNEXPECTED_MESSAGE", "TIMEOUT_WHILE_WAITING_FOR_RESPONSE",
                   "TIMEOUT_WHILE_WAITING_FOR_START_MESSAGE", "POST_TO_RESULT_SERVER_FAILED",
                   "COMMUNICATION_FAILED", "SERVER_ERROR"):
        assert f"close_reason={reason}" in log, reason
    assert "refuse-bac-3des" in log        # validation ids are how operators find a session
    # A client_id is an API access key (docval.config): not for the log either.
    assert POSTING not in log and FILES not in log
    # ... and nothing about the documents or their holder.
    for what, secret in SECRETS.items():
        assert secret not in log, what
    for fragment in image_fragments():
        assert fragment not in log
    # Nor the raw protocol: the eMRTD application's AID travels in the first SELECT.
    assert "a0000002471001" not in log.lower().replace(" ", "").replace(":", "")


def _say(text):
    def hook(protocol, event):
        if event == ("status", "READ_DG2"):
            protocol.sendMessage(json.dumps({"mrz": text}).encode(), isBinary=False)
    return hook


def _mute(protocol, event):
    if event == ("status", "READ_DG1"):
        protocol.mute = True


def _vanish(protocol, event):
    if event == ("status", "READ_DG11"):
        protocol.transport.abortConnection()


@pytest_twisted.ensureDeferred
async def test_no_personal_data_when_the_phone_leaves_during_the_post(make_stack, reactor, captured_log):
    stack = make_stack(statuses=[HOLD])
    phone = stack.phone("td1-idcard", client_id=FILES, return_result=True)
    await stack.results.arrived
    (session,) = stack.factory.sessions
    session.transport.abortConnection()
    await phone
    stack.results.release(400)       # the post under way fails after the phone left
    await wait_until(reactor, lambda: not stack.factory.posts)
    log = captured_log()
    assert "result post failed after the phone left" in log
    for what, secret in SECRETS.items():
        assert secret not in log, what
