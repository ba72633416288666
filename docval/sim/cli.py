"""``docval-sim``: validate a virtual passport through a running DocVal server.

    docval-sim --url ws://127.0.0.1:8080/ws1/validate --profile pace-ecdh-gm-aes128 --return-result
    docval-sim --api v2 --platform iOS        # WebSocket API v2 on /ws2/validate

With ``--api v2`` the phone speaks the Kinegram WebSocket API v2 (docval.sim.phone_v2):
it reads the virtual chip itself, hands Chip Authentication over to the server,
relays its commands, signs the server's Active Authentication challenge and sends
the files; nothing of the access key goes to the server.

Prints the statuses as they arrive, the close, and (with --return-result) a
readable summary of the result -- sizes of images, never their bytes -- and the
verdict: whether the result is what the profile expects.  The exit status is in
EPILOG below (and ``--help``).
"""
from __future__ import annotations

import argparse
import base64
import sys
from typing import Any, TextIO

DEFAULT_URL = "ws://127.0.0.1:8080/ws1/validate"

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
EPILOG = """\
exit status:
  0  the server closed with 1000 and returned a result that is what the profile
     expects (access control, chip and active authentication, passive
     authentication: see --list-profiles); with --no-return-result, which asks
     for no result, 0 only says the server closed with 1000 (the Result Server
     took the result) since there is nothing to check
  1  any other outcome: another close code, no result, or a result that differs
     from the profile's (e.g. passive authentication false because the server
     does not trust the document's CSCA)
  2  usage error, unreadable --ca-cert, cannot connect, or TLS handshake failed

--can and --mrz send a different access key than the virtual document's (to see
how the server answers a wrong key); the session is then expected to fail (exit 1).
With --api v2 the phone itself uses that key, fails access control and closes with
4403 ACCESS_CONTROL_FAILED (exit 1), as the Kinegram SDKs do.

--api v2 checks the camelCase RESULT against the profile with the v2 rules: the
clone ends with 1011 COMMUNICATION_FAILED (its chip cannot continue under the keys
of its own chip authentication, so the server can hand nothing back), a PACE-CAM
document without DG14 has chip authentication UNAVAILABLE (CAM proves the chip to
the phone, not to the server), and with --skip-aa-after-ca active authentication
is UNAVAILABLE.
"""


def build_parser() -> argparse.ArgumentParser:
    from docval import __version__

    p = argparse.ArgumentParser(
        prog="docval-sim",
        description="Virtual phone: validates a virtual passport through a DocVal server "
                    "(API v1: relays the chip; API v2: reads it and hands chip authentication over).",
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"docval-sim (DocVal) {__version__}")
    p.add_argument("--api", choices=("v1", "v2"), default="v1",
                   help="WebSocket API: v1 (the phone relays every APDU) or v2 (Kinegram's current "
                        "SDKs: the phone reads the chip, the server runs chip authentication)")
    p.add_argument("--url", default=DEFAULT_URL,
                   help="DocVal WebSocket URL, ws:// or wss:// (with --api v2 and no --url: "
                        "the same URL with /ws2/validate)")
    p.add_argument("--profile", default=None,
                   help="virtual document (see --list-profiles; default: the reference passport)")
    p.add_argument("--list-profiles", action="store_true", help="list the virtual documents and exit")
    # On by default: the built-in demo client has no Result Server, so the result
    # must come back to the phone.
    p.add_argument("--return-result", dest="return_result", action="store_true", default=True,
                   help="ask for the result (?return_result=true; the default)")
    p.add_argument("--no-return-result", dest="return_result", action="store_false",
                   help="do not ask for the result (the client's Result Server gets it)")
    p.add_argument("--client-id", default="YOUR CLIENT ID", help="client_id of the StartMessage")
    p.add_argument("--validation-id", default=None, help="validation_id (default: a random UUID)")
    p.add_argument("--platform", default="docval-sim",
                   help="platform of the StartMessage; with --api v2 'android' or 'iOS', which "
                        "decides the phone's behaviour (docval-sim there means android)")
    key = p.add_mutually_exclusive_group()
    key.add_argument("--can", default=None, metavar="DIGITS",
                     help="send this CAN instead of the document's access key (default: the document's own)")
    key.add_argument("--mrz", default=None, metavar="NUMBER,BIRTH,EXPIRY",
                     help="send this MRZ key instead: document number, date of birth and "
                          "date of expiry (YYMMDD), comma-separated (default: the document's own)")
    p.add_argument("--delay-ms", type=float, default=0.0, help="one-way network delay per message")
    p.add_argument("--chip-ms", type=float, default=0.0, help="time the chip takes per APDU")
    p.add_argument("--pipeline", type=int, default=None, metavar="N",
                   help="send max_pipelined_apdus=N (1-64): the phone answers strictly in order "
                        "(default: not sent, one APDU at a time)")
    p.add_argument("--no-extended-length", action="store_true",
                   help="claim an NFC adapter without extended length support")
    p.add_argument("--max-command-bytes", type=int, default=None,
                   help="max_command_bytes of the StartMessage (default: not sent)")
    p.add_argument("--max-response-bytes", type=int, default=None,
                   help="max_response_bytes of the StartMessage (default: not sent)")
    p.add_argument("--skip-aa-after-ca", action="store_true",
                   help="--api v2: skip active authentication after a successful chip "
                        "authentication, as Kinegram's reader may")
    p.add_argument("--ca-cert", default=None,
                   help="PEM CA certificate to trust for wss:// (default: the system's CAs)")
    return p


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default; keeps the exit-status table's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or "the default" in text or action.default is argparse.SUPPRESS \
                or action.dest in ("help", "version", "list_profiles"):
            return text
        if action.default is False or action.default is None:
            return text + " (default: off)" if action.nargs == 0 else text
        if isinstance(action, argparse._StoreFalseAction):
            return text
        return text + " (default: %(default)s)"


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
    if args.api == "v2":
        v1_only = [opt for opt, value in (("--pipeline", args.pipeline),
                                          ("--max-command-bytes", args.max_command_bytes),
                                          ("--max-response-bytes", args.max_response_bytes)) if value is not None]
        if v1_only:
            print(f"docval-sim: {', '.join(v1_only)}: API v1 only (v2 sends no such field)", file=sys.stderr)
            return EXIT_ERROR
        if args.url == DEFAULT_URL:
            args.url = DEFAULT_URL.replace("/ws1/", "/ws2/")
    elif args.skip_aa_after_ca:
        print("docval-sim: --skip-aa-after-ca: API v2 only", file=sys.stderr)
        return EXIT_ERROR
    if args.pipeline is not None and not 1 <= args.pipeline <= 64:
        print("docval-sim: --pipeline must be 1 to 64", file=sys.stderr)
        return 2
    try:
        access_key = _access_key(args, profile)
    except ValueError as e:
        print(f"docval-sim: {e}", file=sys.stderr)
        return EXIT_ERROR
    tls_ca = None
    if args.ca_cert:
        try:
            with open(args.ca_cert, "rb") as f:
                tls_ca = f.read()
            from twisted.internet import ssl

            ssl.Certificate.loadPEM(tls_ca)
        except OSError as e:
            print(f"docval-sim: --ca-cert {args.ca_cert}: cannot read it ({e.strerror}): "
                  "give the PEM file of the CA that signed the server's certificate", file=sys.stderr)
            return EXIT_ERROR
        except Exception:   # pyOpenSSL's own error types for what is not a PEM certificate
            print(f"docval-sim: --ca-cert {args.ca_cert}: not a PEM certificate "
                  "(-----BEGIN CERTIFICATE-----)", file=sys.stderr)
            return EXIT_ERROR

    from twisted.internet import defer, task

    # react() stops the reactor and exits with the code of the SystemExit _run raises.
    run = _run_v2 if args.api == "v2" else _run
    task.react(lambda reactor: defer.ensureDeferred(run(reactor, args, profile, tls_ca, access_key)))
    return 1   # not reached


def _access_key(args: argparse.Namespace, profile: Any) -> dict[str, str]:
    """The StartMessage access key: the document's own, or the one of --can / --mrz."""
    from docval.sim.phone import access_key_json

    if args.can is not None:
        return {"can": args.can}
    if args.mrz is not None:
        parts = [part.strip() for part in args.mrz.split(",")]
        if len(parts) != 3:
            raise ValueError("--mrz: give document number, date of birth and date of expiry "
                             "separated by commas, e.g. --mrz L898902C3,740812,120415")
        return {"document_number": parts[0], "date_of_birth": parts[1], "date_of_expiry": parts[2]}
    return access_key_json(profile.access_key)


def verdict(result: dict[str, Any], profile: Any) -> list[str]:
    """How ``result`` differs from what ``profile`` expects (empty: as expected)."""
    expect = profile.expect
    pairs = (
        ("access_control", result.get("access_control"), expect.access_control),
        ("chip_authentication_result", result.get("chip_authentication_result"),
         expect.chip_authentication),
        ("active_authentication_result", result.get("active_authentication_result"),
         expect.active_authentication),
        ("passive_authentication", result.get("passive_authentication"),
         expect.passive_authentication),
    )
    return [f"{name} {_show(got)} (expected {_show(want)})" for name, got, want in pairs if got != want]


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) or value is None else str(value)


async def _run(reactor: Any, args: argparse.Namespace, profile: Any, tls_ca: bytes | None,
               access_key: dict[str, str]) -> None:
    from docval.sim.phone import PhoneOptions, run_phone

    options = PhoneOptions(
        access_key=access_key,
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
        raise SystemExit(EXIT_ERROR) from None
    if record.tls_error is not None:
        print(f"docval-sim: TLS handshake failed with {args.url}: {record.tls_error} "
              "(is it a plain ws:// port? does --ca-cert name the CA of its certificate?)",
              file=sys.stderr)
        raise SystemExit(EXIT_ERROR)
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
    raise SystemExit(_exit_status(record, profile, args.return_result))


def _exit_status(record: Any, profile: Any, return_result: bool) -> int:
    if record.close_code != 1000:
        print("verdict    FAILED: the session did not end with 1000")
        return EXIT_FAILED
    if not return_result:
        print("verdict    not checked: the result went to the Result Server only")
        return EXIT_OK
    if record.result is None:
        print("verdict    FAILED: no result came back")
        return EXIT_FAILED
    differences = verdict(record.result, profile)
    if differences:
        print("verdict    NOT as the profile expects: " + "; ".join(differences))
        return EXIT_FAILED
    print("verdict    verified, as the profile expects")
    return EXIT_OK



def _v2_key(access_key: dict[str, str]) -> Any:
    """The phone's own key for its local access control (v2 sends none)."""
    from docval.emrtd.mrz import CanKey, MrzKey

    if "can" in access_key:
        return CanKey(access_key["can"])
    return MrzKey(access_key["document_number"], access_key["date_of_birth"], access_key["date_of_expiry"])


def snake_case(value: Any) -> Any:
    """The camelCase v2 RESULT with v1's key names, so one summary serves both APIs."""
    import re

    if isinstance(value, dict):
        return {re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), k): snake_case(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [snake_case(v) for v in value]
    return value


async def _run_v2(reactor: Any, args: argparse.Namespace, profile: Any, tls_ca: bytes | None,
                  access_key: dict[str, str]) -> None:
    from docval.sim.phone_v2 import PhoneV2Options, run_phone_v2

    platform = "android" if args.platform == "docval-sim" else args.platform
    try:
        key = _v2_key(access_key)
    except ValueError as e:
        print(f"docval-sim: {e}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None
    options = PhoneV2Options(
        access_key=key,
        client_id=args.client_id,
        platform=platform,
        extended_length=not args.no_extended_length,
        send_result=args.return_result,
        skip_aa_after_ca=args.skip_aa_after_ca,
        delay=args.delay_ms / 1000.0,
        chip_time=args.chip_ms / 1000.0,
    )
    if args.validation_id:
        options.validation_id = args.validation_id
    print(f"profile    {profile.name}: {profile.description}")
    print(f"connecting {args.url}  (API v2, {platform})  validationId={options.validation_id}")
    try:
        record = await run_phone_v2(args.url, profile.chip(), options, reactor=reactor, tls_ca_pem=tls_ca)
    except Exception as e:
        print(f"docval-sim: cannot connect to {args.url}: {e}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None
    if record.tls_error is not None:
        print(f"docval-sim: TLS handshake failed with {args.url}: {record.tls_error} "
              "(is it a plain ws:// port? does --ca-cert name the CA of its certificate?)",
              file=sys.stderr)
        raise SystemExit(EXIT_ERROR)
    if record.handed_over:
        print(f"handover   chip authentication by the server: {record.check_result or 'no handback'} "
              f"({record.apdus} APDUs relayed)")
    else:
        print("handover   none (no chip authentication in DG14)")
    print(f"files      sent {', '.join(record.files_sent) or '-'}; "
          f"from the server {', '.join(record.files_received) or '-'}")
    if record.phone_close is not None:
        print(f"phone      closed {record.phone_close[0]} {record.phone_close[1]}: {record.phone_error}")
    reason = f" {record.close_reason}" if record.close_reason else ""
    print(f"closed     {record.close_code}{reason}" + ("" if record.was_clean else " (not clean)"))
    if record.close_message is not None:
        print(f"close msg  {record.close_message}")
    if record.chip_error:
        print(f"chip error {record.chip_error}")
    if record.result is not None:
        print("result:")
        for line in summarize(snake_case(record.result)):
            print("  " + line)
    duration = record.duration if record.duration is not None else 0.0
    print(f"stats      {record.round_trips} network round trips, {record.chip_commands} APDUs to the chip "
          f"({record.apdus} relayed), {record.bytes_to_server} bytes to the server, "
          f"{record.bytes_from_server} from it, {duration:.3f}s")
    raise SystemExit(_exit_status_v2(record, profile, options))


def _exit_status_v2(record: Any, profile: Any, options: Any) -> int:
    from docval.sim.phone_v2 import expected_v2

    want = expected_v2(profile.expect, options)
    if "close" in want:
        code, reason = want["close"]
        if record.phone_close is None and (record.close_code, record.close_reason) == (code, reason):
            print(f"verdict    verified, as the profile expects (API v2 ends this session with {code} {reason})")
            return EXIT_OK
        print(f"verdict    NOT as the profile expects: the session should end with {code} {reason}")
        return EXIT_FAILED
    if record.close_code != 1000 or record.phone_close is not None:
        print("verdict    FAILED: the session did not end with 1000")
        return EXIT_FAILED
    if not options.send_result:
        print("verdict    not checked: the result went to the Result Server only")
        return EXIT_OK
    if record.result is None:
        print("verdict    FAILED: no result came back")
        return EXIT_FAILED
    differences = [f"{k} {_show(record.result.get(k))} (expected {_show(v)})"
                   for k, v in want.items() if record.result.get(k) != v]
    if differences:
        print("verdict    NOT as the profile expects: " + "; ".join(differences))
        return EXIT_FAILED
    print("verdict    verified, as the profile expects")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
