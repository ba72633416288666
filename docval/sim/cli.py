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
import sys
from typing import Any, TextIO

from twisted.internet import defer, task

from docval import __version__
from docval.sim import profiles
from docval.sim.cli_output import describe_image as describe_image
from docval.sim.cli_output import snake_case as snake_case
from docval.sim.cli_output import summarize as summarize
from docval.sim.cli_output import verdict as verdict
from docval.sim.cli_run import EXIT_ERROR as EXIT_ERROR
from docval.sim.cli_run import EXIT_FAILED as EXIT_FAILED
from docval.sim.cli_run import EXIT_OK as EXIT_OK
from docval.sim.cli_run import run_v1, run_v2
from docval.sim.phone import access_key_json

DEFAULT_URL = "ws://127.0.0.1:8080/ws1/validate"

# EXIT_OK, EXIT_FAILED and EXIT_ERROR (defined beside the runs that end with them, in cli_run).
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


def list_profiles(out: TextIO) -> None:
    for name, profile in sorted(profiles.PROFILES.items()):
        marker = " (default)" if name == profiles.DEFAULT_PROFILE else ""
        out.write(f"{name}{marker}\n    {profile.description}\n")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_profiles:
        list_profiles(sys.stdout)
        return 0
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
            # Deliberately late: twisted.internet.ssl needs pyOpenSSL, only --ca-cert (wss://) uses it.
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

    # react() stops the reactor and exits with the code of the SystemExit the run raises.
    run = run_v2 if args.api == "v2" else run_v1
    task.react(lambda reactor: defer.ensureDeferred(run(reactor, args, profile, tls_ca, access_key)))
    return 1   # not reached


def _access_key(args: argparse.Namespace, profile: Any) -> dict[str, str]:
    """The StartMessage access key: the document's own, or the one of --can / --mrz."""
    if args.can is not None:
        return {"can": args.can}
    if args.mrz is not None:
        parts = [part.strip() for part in args.mrz.split(",")]
        if len(parts) != 3:
            raise ValueError("--mrz: give document number, date of birth and date of expiry "
                             "separated by commas, e.g. --mrz L898902C3,740812,120415")
        return {"document_number": parts[0], "date_of_birth": parts[1], "date_of_expiry": parts[2]}
    return access_key_json(profile.access_key)


if __name__ == "__main__":
    sys.exit(main())
