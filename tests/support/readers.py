"""A ``read_document`` whose behaviour a test changes between sessions.

DocValService and ValidateServerFactory take ``read_document=`` as a constructor argument;
a test that needs the real reader for some sessions and a failing one for the next passes
one of these instead of reaching into the factory.
"""
from __future__ import annotations

from typing import Any, Callable

from docval.reader import read_document


class SwitchableReader:
    """Calls ``self.read`` (the product's reader while it is None) for each session."""

    def __init__(self, read: Callable[..., Any] | None = None):
        self.read = read

    def __call__(self, transport: Any, params: Any, progress: Callable[[str], None]) -> Any:
        return (self.read or read_document)(transport, params, progress)
