"""``docval-sim``: validate a virtual passport through a running DocVal server.

    docval-sim --url ws://127.0.0.1:8080/ws1/validate --profile pace-ecdh-gm-aes128 --return-result

Prints the statuses as they arrive, the close, and (with --return-result) a
readable summary of the result -- sizes of images, never their bytes.  Exits 0
when the server closed with 1000, 1 on any other close, 2 when it could not
connect.
"""
from __future__ import annotations

import argparse
import base64
import sys
from typing import Any, TextIO

DEFAULT_URL = "ws://127.0.0.1:8080/ws1/validate"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="docval-sim",
        description="Virtual phone: relays a virtual passport's chip to a DocVal server.",
    )
    p.add_argument("--url", default=DEFAULT_URL, help=f"DocVal WebSocket URL (default {DEFAULT_URL})")
    p.add_argument("--profile", default=None, help="virtual document (see --list-profiles)")
    p.add_argument("--list-profiles", action="store_true", help="list the virtual documents and exit")
    # On by default: the built-in demo client has no Result Server, so the result
    # must come back to the phone.
    p.add_argument("--return-result", dest="return_result", action="store_true", default=True,
                   help="ask for the result (?return_result=true; the default)")
    p.add_argument("--no-return-result", dest="return_result", action="store_false",
                   help="do not ask for the result (the client's Result Server gets it)")
    p.add_argument("--client-id", default="YOUR CLIENT ID", help="client_id of the StartMessage")
    p.add_argument("--validation-id", default=None, help="validation_id (default: a random UUID)")
    p.add_argument("--platform", default="docval-sim", help="platform of the StartMessage")
    p.add_argument("--delay-ms", type=float, default=0.0, help="one-way network delay per message")
    p.add_argument("--chip-ms", type=float, default=0.0, help="time the chip takes per APDU")
    p.add_argument("--pipeline", type=int, default=None, metavar="N",
                   help="send max_pipelined_apdus=N (1-64): the phone answers strictly in order")
    p.add_argument("--no-extended-length", action="store_true",
                   help="claim an NFC adapter without extended length support")
    p.add_argument("--max-command-bytes", type=int, default=None)
    p.add_argument("--max-response-bytes", type=int, default=None)
    p.add_argument("--ca-cert", default=None, help="PEM CA certificate to trust for wss:// (test certificates)")
    return p


def _profiles():
    from docval.sim import profiles

    return profiles


def list_profiles(out: TextIO) -> None:
    profiles = _profiles()
    for name, profile in sorted(profiles.PROFILES.items()):
        marker = " (default)" if name == profiles.DEFAULT_PROFILE else ""
        out.write(f"{name}{marker}\n    {profile.description}\n")


def describe_image(b64: str | None) -> str:
    if not b64:
        return "none"
    try:
        data = base64.b64decode(b64, validate=True)
    except ValueError:
        return "not base64"
    if data.startswith(b"\xff\xd8\xff"):
        kind = "JPEG"
    elif data.startswith(b"\x00\x00\x00\x0cjP  ") or data.startswith(b"\xff\x4f\xff\x51"):
        kind = "JPEG 2000"
    else:
        kind = "image"
    return f"{kind}, {len(data)} bytes"


def summarize(result: dict[str, Any]) -> list[str]:
    """A readable summary of an emrtd_passport object (no raw images)."""
    lines = []
    mrz = result.get("mrz_info")
    if mrz:
        names = " ".join(mrz.get("secondary_identifier") or [])
        lines.append(
            f"document   {mrz.get('document_type')} {mrz.get('document_code')} "
            f"{mrz.get('issuing_state')} no. {mrz.get('document_number')}, "
            f"expires {mrz.get('date_of_expiry')}"
        )
        lines.append(
            f"holder     {mrz.get('primary_identifier')}, {names}; born {mrz.get('date_of_birth')}, "
            f"{mrz.get('gender')}, nationality {mrz.get('nationality')}"
        )
    else:
        lines.append("document   (no MRZ)")
    pa = result.get("passive_authentication_details") or {}
    lines.append(
        f"passive authentication  {str(result.get('passive_authentication')).lower()} "
        f"(SOD signature {_yes(pa.get('sod_signature_valid'))}, "
        f"certificate {_yes(pa.get('document_certificate_valid'))}, "
        f"hashes valid for DG {_dgs(pa.get('data_groups_with_valid_hash'))} "
        f"of {_dgs(pa.get('data_groups_checked'))})"
    )
    if pa.get("error"):
        lines.append(f"    error: {pa['error']}")
    if pa.get("data_groups_not_read"):
        lines.append(f"    not read: DG {_dgs(pa['data_groups_not_read'])}")
    lines.append(f"chip authentication     {result.get('chip_authentication_result')}")
    lines.append(f"active authentication   {result.get('active_authentication_result')}")
    extras = [f"{k}={result[k]}" for k in ("access_control", "chip_authentication_protocol",
                                            "active_authentication_algorithm", "trust_store_version")
              if result.get(k)]
    if extras:
        lines.append("details    " + ", ".join(extras))
    lines.append(f"face photo {describe_image(result.get('face_photo'))}")
    if result.get("signature_photos"):
        lines.append(f"signatures {len(result['signature_photos'])}")
    for key, label in (("additional_personal_details", "DG11"), ("additional_document_details", "DG12")):
        if result.get(key):
            filled = sorted(k for k, v in result[key].items() if v not in (None, [], ""))
            lines.append(f"{label}       {', '.join(filled) or '(empty)'}")
    if "files_binary" in result:
        lines.append(f"files      {', '.join(sorted(result['files_binary']))}")
    errors = result.get("errors") or []
    lines.append("errors     " + ("none" if not errors else ""))
    lines.extend(f"  - {e}" for e in errors)
    return lines


def _yes(v: Any) -> str:
    return "valid" if v else "NOT valid"


def _dgs(values: Any) -> str:
    return ",".join(str(v) for v in values) if values else "-"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_profiles:
        list_profiles(sys.stdout)
        return 0
    profiles = _profiles()
    name = args.profile or profiles.DEFAULT_PROFILE
    try:
        profile = profiles.get_profile(name)
    except KeyError as e:
        print(f"docval-sim: {e.args[0]}", file=sys.stderr)
        return 2
    if args.pipeline is not None and not 1 <= args.pipeline <= 64:
        print("docval-sim: --pipeline must be 1 to 64", file=sys.stderr)
        return 2
    tls_ca = None
    if args.ca_cert:
        with open(args.ca_cert, "rb") as f:
            tls_ca = f.read()

    from twisted.internet import defer, task

    # react() stops the reactor and exits with the code of the SystemExit _run raises.
    task.react(lambda reactor: defer.ensureDeferred(_run(reactor, args, profile, tls_ca)))
    return 1   # not reached


async def _run(reactor: Any, args: argparse.Namespace, profile: Any, tls_ca: bytes | None) -> None:
    from docval.sim.phone import PhoneOptions, access_key_json, run_phone

    options = PhoneOptions(
        access_key=access_key_json(profile.access_key),
        client_id=args.client_id,
        extended_length=not args.no_extended_length,
        max_command_bytes=args.max_command_bytes,
        max_response_bytes=args.max_response_bytes,
        platform=args.platform,
        max_pipelined_apdus=args.pipeline,
        return_result=args.return_result,
        delay=args.delay_ms / 1000.0,
        chip_time=args.chip_ms / 1000.0,
    )
    if args.validation_id:
        options.validation_id = args.validation_id
    start = reactor.seconds()
    print(f"profile    {profile.name}: {profile.description}")
    print(f"connecting {args.url}  validation_id={options.validation_id}")

    def on_status(status: str) -> None:
        print(f"status     {status:<24} +{reactor.seconds() - start:.3f}s", flush=True)

    try:
        record = await run_phone(args.url, profile.chip(), options, reactor=reactor,
                                 on_status=on_status, tls_ca_pem=tls_ca)
    except Exception as e:
        print(f"docval-sim: cannot connect to {args.url}: {e}", file=sys.stderr)
        raise SystemExit(2)
    reason = f" {record.close_reason}" if record.close_reason else ""
    print(f"closed     {record.close_code}{reason}"
          + ("" if record.was_clean else " (not clean)"))
    if record.close_message is not None:
        print(f"close msg  {record.close_message}")
    if record.chip_error:
        print(f"chip error {record.chip_error}")
    if record.result is not None:
        print("result:")
        for line in summarize(record.result):
            print("  " + line)
    duration = record.duration if record.duration is not None else reactor.seconds() - start
    print(f"stats      {record.apdus} APDUs, {record.bytes_to_server} bytes to the server, "
          f"{record.bytes_from_server} from it, {duration:.3f}s")
    raise SystemExit(0 if record.close_code == 1000 else 1)


if __name__ == "__main__":
    sys.exit(main())
