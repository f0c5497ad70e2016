"""One crawl as a child process: launched in its own process group, watched against a wall-clock limit and the
daemon's stop request, stopped with SIGTERM (Scrapy then closes cleanly and keeps what it archived), killed
with SIGKILL a bounded time later, and always reaped.  Nothing here knows about the archive."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tenacity import before_sleep_log, retry, retry_if_exception, stop_after_attempt, wait_exponential

logger = logging.getLogger(__name__)

TAIL_LINES = 20
# errors of fork/exec that pass when the machine has a moment (processes, memory, descriptors)
TRANSIENT_ERRNOS = {errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE}


class StopRequest:
    """When the daemon wants its crawls stopped.  Written from a signal handler, so plain attributes only
    (no locks: a handler that re-entered a lock held by the code it interrupted would deadlock)."""

    def __init__(self) -> None:
        self.terminate_at: float | None = None  # time.monotonic() at which children get SIGTERM

    @property
    def requested(self) -> bool:
        return self.terminate_at is not None

    def request(self, grace: float) -> None:
        """First call: stop within ``grace`` seconds.  Any later call: stop now."""
        now = time.monotonic()
        self.terminate_at = now + grace if self.terminate_at is None else now


@dataclass(frozen=True, slots=True)
class ChildOutcome:
    pid: int
    returncode: int  # negative: killed by that signal
    elapsed: float
    timed_out: bool = False
    stopped: bool = False  # terminated because the daemon was stopping
    tail: tuple[str, ...] = ()  # last lines the child wrote to stderr

    def describe(self) -> str:
        how = (f"killed by signal {-self.returncode}" if self.returncode < 0
               else f"exited with code {self.returncode}")
        return how + (": " + " | ".join(self.tail[-5:]) if self.tail else "")


def crawl_command(source_id: str, trigger: str, sources_path: Path) -> list[str]:
    """The child's command line: the same `vnarchive crawl` a user types, so both share one code path.  The
    archive's URL is not on it (anyone can read a command line with `ps`, and it may hold a password): it
    goes in the child's environment (:func:`crawl_env`)."""
    return [sys.executable, "-m", "crawler", "crawl", source_id, "--trigger", trigger, "--quiet",
            "--sources", str(sources_path.resolve())]


def crawl_env(db_url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's environment: ours, with VNARCHIVE_DB set to the archive the daemon uses (readable only by
    the user, unlike the command line)."""
    return {**(os.environ if base is None else base), "VNARCHIVE_DB": db_url}


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNOS


@retry(retry=retry_if_exception(_transient), stop=stop_after_attempt(4), wait=wait_exponential(0.5, max=8),
       before_sleep=before_sleep_log(logger, logging.WARNING), reraise=True)
def launch(cmd: Sequence[str], env: dict[str, str] | None = None,
           preexec_fn: Callable[[], object] | None = None) -> subprocess.Popen[str]:
    """Start ``cmd`` in a new session (its own process group, away from the terminal's Ctrl-C: the daemon
    decides when its children stop).  stdout is dropped (the run record says it all), stderr is piped.
    ``preexec_fn`` runs in the child before the exec (a queue worker's: die with the worker)."""
    return subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
                            close_fds=True, env=env, preexec_fn=preexec_fn)


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _exited(pid: int) -> bool:
    """Has ``pid`` exited?  WNOWAIT leaves it a zombie, so its pid and group id cannot be reused before we
    have killed whatever is left in the group."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _pump(stream: object, tail: deque[str], on_line: Callable[[str], None] | None) -> None:
    for line in stream:  # type: ignore[attr-defined]
        line = line.rstrip()
        if line:
            tail.append(line)
            if on_line is not None:
                on_line(line)


def supervise(proc: subprocess.Popen[str], timeout: float, stop: StopRequest | None = None,
              kill_after: float = 30.0, on_line: Callable[[str], None] | None = None,
              poll: float = 0.1) -> ChildOutcome:
    """Wait for ``proc``; SIGTERM its group at the timeout or the stop request, SIGKILL ``kill_after`` later."""
    t0 = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    reader = threading.Thread(target=_pump, args=(proc.stderr, tail, on_line), daemon=True,
                              name=f"stderr-{proc.pid}")
    reader.start()
    termed_at: float | None = None
    killed = timed_out = stopped = False
    while not _exited(proc.pid):
        now = time.monotonic()
        if termed_at is None:
            if now - t0 >= timeout:
                timed_out = True
            elif stop is not None and stop.terminate_at is not None and now >= stop.terminate_at:
                stopped = True
            if timed_out or stopped:
                logger.info("pid %s: %s, sending SIGTERM to its process group", proc.pid,
                            f"over its {timeout:.0f} s limit" if timed_out else "stopping")
                signal_group(proc.pid, signal.SIGTERM)
                termed_at = now
        elif not killed and now - termed_at >= kill_after:
            logger.warning("pid %s: still running %.0f s after SIGTERM, sending SIGKILL", proc.pid, kill_after)
            signal_group(proc.pid, signal.SIGKILL)
            killed = True
        time.sleep(poll)
    # whatever the child left in its group (extraction workers) goes with it
    signal_group(proc.pid, signal.SIGKILL)
    rc = proc.wait()
    reader.join(timeout=5)
    if proc.stderr is not None:
        proc.stderr.close()
    return ChildOutcome(proc.pid, rc, time.monotonic() - t0, timed_out, stopped, tuple(tail))


def run_child(cmd: Sequence[str], timeout: float, stop: StopRequest | None = None, kill_after: float = 30.0,
              on_line: Callable[[str], None] | None = None, env: dict[str, str] | None = None,
              on_start: Callable[[int], None] | None = None,
              preexec_fn: Callable[[], object] | None = None) -> ChildOutcome:
    """Launch ``cmd`` (retrying transient fork failures) and supervise it to the end.  Raises OSError when it
    cannot be launched."""
    proc = launch(cmd, env, preexec_fn)
    if on_start is not None:
        on_start(proc.pid)
    return supervise(proc, timeout, stop, kill_after, on_line)
