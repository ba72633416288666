"""The one error a configuration file can cause, and the check every section shares.

Kept apart from the parsers so each section's parser (docval.config, docval.clients)
raises the same error without importing the other."""
from __future__ import annotations

from typing import Any, Iterable


class ConfigError(ValueError):
    """The configuration is unusable; the message names the offending key."""


def no_unknown(table: dict[str, Any], known: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        what = f"[{where}] " if where else ""
        raise ConfigError(f"{what}unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
