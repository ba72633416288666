"""The machine a benchmark ran on, for the JSON and the performance document."""
from __future__ import annotations

import os
import platform
import sys


def describe() -> dict[str, object]:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import cryptography
    import twisted
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": sys.version.split()[0],
        "twisted": twisted.__version__,
        "cryptography": cryptography.__version__,
        "platform": platform.platform(),
    }
