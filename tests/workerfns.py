"""Page "extractors" for the worker-pool tests: importable by the spawned worker processes."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

from pipelines.items import Skipped


def behave(body: bytes, url: str, content_type: str | None, hints: Any) -> Any:
    """``hang`` never returns, ``spin`` never returns inside C holding the GIL, ``crash`` kills its worker, ``crash-once:<file>`` kills it the first time only,
    ``slow:<s>`` takes that long; anything else returns at once.  The result names the worker's pid."""
    text = body.decode()
    if text == "hang":
        time.sleep(3600)
    if text == "spin":  # catastrophic backtracking: the re engine never lets go of the GIL
        re.match(r"(a+)+$", "a" * 64 + "b")
    if text == "crash":
        os._exit(1)
    if text.startswith("crash-once:"):
        flag = text.split(":", 1)[1]
        if not os.path.exists(flag):
            open(flag, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
    if text.startswith("slow:"):
        time.sleep(float(text.split(":", 1)[1]))
    if text == "alloc":  # more than a worker's address space
        try:
            bytearray(1536 * 1024 * 1024)
        except MemoryError:
            return Skipped("too_large_to_parse")
        return Skipped("no memory cap")
    if text == "signals":
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
    return Skipped(f"ok:{os.getpid()}:{os.getppid()}")
