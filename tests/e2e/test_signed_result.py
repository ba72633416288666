"""The phone-side signed result over real sockets: DocVal made by ``tap.makeService`` from a
TOML file with ``[signing]``, a virtual phone reading a virtual passport, and a backend that
verifies ``emrtd_passport_jws`` with the JWKS fetched from the admin endpoint's /jwks.json,
using the verification code of docs/result-server.md."""
from __future__ import annotations

import json
import urllib.request

import pytest_twisted
from twisted.internet.threads import deferToThread

from docval import tap
from docval.signing import write_new_key
from docval.sim import profiles
from docval.sim.phone import PhoneOptions, access_key_json
from tests.schema import check_emrtd_passport
from tests.test_docs_examples import docs_blocks, run_block
from tests.test_signing import independent_verify

from .stack import run_traced_phone

SIGNING = "e2e-signing-client"
PLAIN = "e2e-plain-client"


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == "application/jwk-set+json"
        return json.load(response)


@pytest_twisted.ensureDeferred
async def test_phone_result_jws_verifies_with_the_published_jwks(reactor, tmp_path):
    key = tmp_path / "signing-key.pem"
    signer = write_new_key(key)
    config = tmp_path / "docval.toml"
    config.write_text(
        '[server]\nlisten = "tcp:0:interface=127.0.0.1"\n'
        '[admin]\nlisten = "tcp:0:interface=127.0.0.1"\n'
        '[trust]\ndemo_csca = true\nreload_interval = 0\n'
        '[signing]\nkey_file = "signing-key.pem"\n'
        f'[[client]]\nclient_id = "{SIGNING}"\nsign_returned_result = true\n'
        f'[[client]]\nclient_id = "{PLAIN}"\n'
    )
    options = tap.Options()
    options.parseOptions(["--config", str(config)])
    service = tap.makeService(options)
    service.startService()
    try:
        admin = next(s for s in service if getattr(s, "name", None) == "docval-admin")
        admin_port = (await admin.when_listening()).getHost().port
        url = f"ws://127.0.0.1:{service.listeners[0].port.getHost().port}/ws1/validate"
        profile = profiles.get_profile("pace-ecdh-gm-aes128")
        phone = PhoneOptions(client_id=SIGNING, return_result=True, access_key=access_key_json(profile.access_key))
        trace = await run_traced_phone(url, profile.chip(), phone, reactor)
        assert trace.close == (1000, None) and trace.statuses[-1] == "DONE", trace.outline()
        jwks = await deferToThread(fetch_json, f"http://127.0.0.1:{admin_port}/jwks.json")
        assert jwks == signer.jwks()

        namespace = run_block(docs_blocks("result-server.md")[1])
        claims = namespace["verify_result_jws"](trace.record.result_jws, jwks, phone.validation_id)
        assert claims["emrtd_passport"] == trace.result
        assert claims["emrtd_passport"]["passive_authentication"] is True
        check_emrtd_passport(claims["emrtd_passport"])
        assert independent_verify(trace.record.result_jws, jwks) == claims
        assert len(claims["session_id"]) == 16

        plain = PhoneOptions(client_id=PLAIN, return_result=True, access_key=access_key_json(profile.access_key))
        trace = await run_traced_phone(url, profile.chip(), plain, reactor)
        assert trace.close == (1000, None) and trace.result is not None
        assert trace.record.result_jws is None
    finally:
        await service.stopService()
