"""placeholder"""
from __future__ import annotations
from typing import Any


class V2FrontEnd:
    protocol = "v2"

    def __init__(self, session: Any, params: Any) -> None:
        raise NotImplementedError
