"""A scripted raw v2 phone for the in-memory harness: messages as the Kinegram SDKs frame them."""
from __future__ import annotations

import base64
import json
from typing import Any

from docval.sim import profiles
from tests.ws.harness import POST_CLIENT, Conn, Harness

V2 = "/ws2/validate"


def start(**overrides: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "START",
        "validationId": "9a1c1e0e-v2-test",
        "clientId": POST_CLIENT,
        "platform": "android",
        "nfcAdapterSupportsExtendedLength": True,
        "enableDiagnostics": False,
    }
    msg.update(overrides)
    return msg


def text(obj: dict[str, Any]) -> tuple[bytes, bool]:
    return json.dumps(obj).encode(), False


def file(name: str, data: bytes) -> tuple[bytes, bool]:
    raw = name.encode()
    return bytes((0x01, len(raw))) + raw + data, True


def apdu(data: bytes) -> tuple[bytes, bool]:
    return b"\x02" + data, True


def finish(send_result: bool = True, signature: bytes | None = None) -> tuple[bytes, bool]:
    msg: dict[str, Any] = {"type": "FINISH", "sendResult": send_result}
    if signature is not None:
        msg["activeAuthenticationSignature"] = base64.b64encode(signature).decode()
    return text(msg)


def open_v2(h: Harness, first: dict[str, Any] | tuple[bytes, bool] | None = None, query: str = "") -> Conn:
    return h.raw(first if first is not None else start(), path=V2 + query, answer=None)


def send(h: Harness, conn: Conn, *messages: tuple[bytes, bool]) -> None:
    for payload, binary in messages:
        conn.client.sendMessage(payload, isBinary=binary)
    h.run(conn)


def closing(conn: Conn) -> tuple[int, str] | None:
    """The server's CLOSE text message as (code, reason), checked against its close frame."""
    closes = [t for t in conn.texts if t.get("type") == "CLOSE"]
    if not closes:
        return None
    (close,) = closes
    assert set(close) == {"type", "code", "reason"}
    assert conn.closed is not None and conn.closed[1] == close["code"]
    return close["code"], close["reason"]


def document_files(profile: str = "pace-ecdh-gm-aes128") -> dict[str, bytes]:
    """The files of a virtual document as a phone would send them (wire names)."""
    chip = profiles.get_profile(profile).chip()
    out: dict[str, bytes] = {}
    for ef in chip.fs.application.by_fid.values():
        name = ef.ref.name
        if name == "EF.SOD":
            out["sod"] = bytes(ef.content)
        elif name.startswith("EF.DG"):
            out["dg" + name[5:]] = bytes(ef.content)
    return out
