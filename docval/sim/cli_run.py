"""The two runs of ``docval-sim``: the API v1 phone (relays the chip) and the API v2 phone
(reads it and hands Chip Authentication over), each printing the session as it ends and
raising SystemExit with the exit status documented in :data:`docval.sim.cli.EPILOG`.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Awaitable, Callable

from docval.emrtd.mrz import CanKey, MrzKey
from docval.sim.cli_output import show_value, snake_case, summarize, verdict
from docval.sim.phone import PhoneOptions, run_phone
from docval.sim.phone_v2 import PhoneV2Options, expected_v2, run_phone_v2

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


async def _session(url: str, start: Callable[[], Awaitable[Any]]) -> Any:
    """The phone's record of its session; exit 2 with one line when there was none
    (no connection, or a wss:// port whose TLS handshake failed)."""
    try:
        record = await start()
    except Exception as e:
        print(f"docval-sim: cannot connect to {url}: {e}", file=sys.stderr)
        raise SystemExit(EXIT_ERROR) from None
    if record.tls_error is not None:
        print(f"docval-sim: TLS handshake failed with {url}: {record.tls_error} "
              "(is it a plain ws:// port? does --ca-cert name the CA of its certificate?)",
              file=sys.stderr)
        raise SystemExit(EXIT_ERROR)
    return record


def _print_end(record: Any, result: dict[str, Any] | None) -> None:
    """How the session closed and the result (v1's snake_case form), for either API."""
    reason = f" {record.close_reason}" if record.close_reason else ""
    print(f"closed     {record.close_code}{reason}" + ("" if record.was_clean else " (not clean)"))
    if record.close_message is not None:
        print(f"close msg  {record.close_message}")
    if record.chip_error:
        print(f"chip error {record.chip_error}")
    if result is not None:
        print("result:")
        for line in summarize(result):
            print("  " + line)


async def run_v1(reactor: Any, args: argparse.Namespace, profile: Any, tls_ca: bytes | None,
               access_key: dict[str, str]) -> None:
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

    record = await _session(args.url, lambda: run_phone(args.url, profile.chip(), options, reactor=reactor,
                                                         on_status=on_status, tls_ca_pem=tls_ca))
    _print_end(record, record.result)
    duration = record.duration if record.duration is not None else reactor.seconds() - start
    print(f"stats      {record.apdus} APDUs, {record.bytes_to_server} bytes to the server, "
          f"{record.bytes_from_server} from it, {duration:.3f}s")
    raise SystemExit(exit_status_v1(record, profile, args.return_result))


def exit_status_v1(record: Any, profile: Any, return_result: bool) -> int:
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
    if "can" in access_key:
        return CanKey(access_key["can"])
    return MrzKey(access_key["document_number"], access_key["date_of_birth"], access_key["date_of_expiry"])


async def run_v2(reactor: Any, args: argparse.Namespace, profile: Any, tls_ca: bytes | None,
                  access_key: dict[str, str]) -> None:
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
    record = await _session(args.url, lambda: run_phone_v2(args.url, profile.chip(), options, reactor=reactor,
                                                            tls_ca_pem=tls_ca))
    if record.handed_over:
        print(f"handover   chip authentication by the server: {record.check_result or 'no handback'} "
              f"({record.apdus} APDUs relayed)")
    else:
        print("handover   none (no chip authentication in DG14)")
    print(f"files      sent {', '.join(record.files_sent) or '-'}; "
          f"from the server {', '.join(record.files_received) or '-'}")
    if record.phone_close is not None:
        print(f"phone      closed {record.phone_close[0]} {record.phone_close[1]}: {record.phone_error}")
    _print_end(record, None if record.result is None else snake_case(record.result))
    duration = record.duration if record.duration is not None else 0.0
    print(f"stats      {record.round_trips} network round trips, {record.chip_commands} APDUs to the chip "
          f"({record.apdus} relayed), {record.bytes_to_server} bytes to the server, "
          f"{record.bytes_from_server} from it, {duration:.3f}s")
    raise SystemExit(exit_status_v2(record, profile, options))


def exit_status_v2(record: Any, profile: Any, options: Any) -> int:
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
    differences = [f"{k} {show_value(record.result.get(k))} (expected {show_value(v)})"
                   for k, v in want.items() if record.result.get(k) != v]
    if differences:
        print("verdict    NOT as the profile expects: " + "; ".join(differences))
        return EXIT_FAILED
    print("verdict    verified, as the profile expects")
    return EXIT_OK
