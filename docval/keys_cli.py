"""``docval-keys``: the server's result-signing key.

    docval-keys generate --out PATH        create an EC P-256 key (mode 0600, never overwrites)
    docval-keys jwks [--key PATH ...]      print the public JWKS backends verify with

Without ``--key``, ``jwks`` reads ``[signing] key_file`` of ``--config`` (by default
/etc/docval/docval.toml), the key the server signs with.  Give ``--key`` more than once
to publish the old and the new key together while rotating.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence, TextIO

import docval
from docval.config import ConfigError, load_signing
from docval.signing import SigningKeyError, load_signer, write_new_key

DEFAULT_CONFIG = "/etc/docval/docval.toml"


class CliError(Exception):
    """A problem reported on stderr with exit status 1."""


def cmd_generate(args: argparse.Namespace, out: TextIO) -> int:
    signer = write_new_key(args.out)
    print(f"{args.out}: new EC P-256 signing key, kid {signer.kid}", file=out)
    return 0


def _key_paths(args: argparse.Namespace) -> list[str]:
    if args.key:
        return list(args.key)
    try:
        signing = load_signing(args.config)
    except ConfigError as e:
        raise CliError(f"{e} (or give --key PATH)") from None
    if signing.key_file is None:
        raise CliError(f"{args.config}: [signing] key_file is not set (or give --key PATH)")
    return [str(signing.key_file)]


def cmd_jwks(args: argparse.Namespace, out: TextIO) -> int:
    keys = []
    for path in _key_paths(args):
        for jwk in load_signer(path).jwks()["keys"]:
            if jwk not in keys:
                keys.append(jwk)
    json.dump({"keys": keys}, out, indent=2, sort_keys=True)
    out.write("\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docval-keys",
        description="Create DocVal's result-signing key and export its public JWKS.",
    )
    parser.add_argument("--version", action="version", version=f"docval-keys {docval.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    gen = sub.add_parser("generate", help="create a new EC P-256 signing key (PEM, mode 0600)")
    gen.add_argument("--out", required=True, metavar="PATH", help="file to create; must not exist")
    gen.set_defaults(run=cmd_generate)
    jwks = sub.add_parser("jwks", help="print the public JWKS of the signing key(s)")
    jwks.add_argument("--key", action="append", metavar="PATH",
                      help="private key file (repeatable); default: [signing] key_file of --config")
    jwks.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE",
                      help=f"configuration to take the key from (default {DEFAULT_CONFIG})")
    jwks.set_defaults(run=cmd_jwks)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args, out)
    except (CliError, SigningKeyError) as e:
        print(f"docval-keys: {e}", file=err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
