"""Giving memory back to the system during a long crawl (glibc's allocator; a no-op elsewhere).

A crawl's main process allocates and frees millions of small objects from several threads (the reactor, the
archive writer, discovery, Scrapy's thread pool).  glibc gives each thread that contends for the heap an arena
of its own (up to 8 per core) and keeps what is freed inside them: the process's RSS then grows through the
run although the live Python objects do not (tracemalloc stays flat).  Two arenas, and a ``malloc_trim`` now
and then, give the freed pages back.  Python's own allocator is not touched.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
ARENAS = 2
TRIM_EVERY = 30.0  # seconds: a trim walks every arena, a few milliseconds on a large heap


def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return lib if lib is not None and hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt") else None


_LIBC = _libc()


def limit_arenas(n: int = ARENAS) -> bool:
    """At most ``n`` malloc arenas from now on (threads started later share them).  False off glibc."""
    return bool(_LIBC is not None and _LIBC.mallopt(M_ARENA_MAX, n) == 1)


def trim() -> bool:
    """Give the free pages of every arena back to the system.  True when some were."""
    return bool(_LIBC is not None and _LIBC.malloc_trim(0))


def trim_periodically(interval: float = TRIM_EVERY, clock: Any | None = None) -> Any | None:
    """``trim`` every ``interval`` seconds on the running Twisted reactor, or on ``clock`` (a LoopingCall; stop
    it when done).  None off glibc."""
    if _LIBC is None:
        return None
    from twisted.internet import task

    loop = task.LoopingCall(lambda: trim())  # looked up at each call, so a test can count them
    if clock is not None:
        loop.clock = clock
    loop.start(interval, now=False).addErrback(lambda f: logger.debug("memory trim stopped: %s", f.value))
    return loop
