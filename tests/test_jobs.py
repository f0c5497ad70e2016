"""The child-process job: exit codes, stderr tail, wall-clock timeout, process-group kill, stop requests, reaping."""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from crawler.daemon import jobs
from crawler.daemon.jobs import ChildOutcome, StopRequest, crawl_command, crawl_env, launch, run_child


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that is not us counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def assert_reaped(pid: int) -> None:
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_crawl_command_is_the_cli_crawl(tmp_path: Path) -> None:
    cmd = crawl_command("mps", "schedule", Path("config/vnweb.toml"))
    assert cmd[:4] == [sys.executable, "-m", "crawler", "crawl"]
    assert cmd[4:8] == ["mps", "--trigger", "schedule", "--quiet"]
    assert Path(cmd[cmd.index("--sources") + 1]).is_absolute()


def test_the_database_url_is_passed_by_environment_not_on_the_command_line() -> None:
    url = "postgresql+psycopg://vnarchive:s3cret@db.internal/archive"
    cmd = crawl_command("mps", "schedule", Path("config/vnweb.toml"))
    assert "--db" not in cmd and not any("s3cret" in part for part in cmd)  # `ps` shows argv to everyone
    env = crawl_env(url, {"PATH": "/usr/bin", "VNARCHIVE_DB": "sqlite:///other.db"})
    assert env == {"PATH": "/usr/bin", "VNARCHIVE_DB": url}
    # and a child started with it sees the URL (run_child passes env through)
    out = run_child(py("import os, sys; sys.stderr.write(os.environ['VNARCHIVE_DB'])"), timeout=30,
                    env=crawl_env(url))
    assert out.returncode == 0 and out.tail == (url,)


def test_exit_zero() -> None:
    out = run_child(py("print('to stdout')"), timeout=30)
    assert (out.returncode, out.timed_out, out.stopped) == (0, False, False)
    assert out.tail == ()  # stdout is not kept
    assert_reaped(out.pid)


def test_exit_one_keeps_the_stderr_tail() -> None:
    lines: list[str] = []
    out = run_child(py("import sys\nfor i in range(30): print('line', i, file=sys.stderr)\n"
                       "print('error: the archive is locked', file=sys.stderr); sys.exit(1)"),
                    timeout=30, on_line=lines.append)
    assert out.returncode == 1 and not out.timed_out
    assert len(lines) == 31 and len(out.tail) == jobs.TAIL_LINES
    assert out.tail[-1] == "error: the archive is locked"
    assert out.describe().startswith("exited with code 1: ") and "archive is locked" in out.describe()
    assert_reaped(out.pid)


def test_hang_is_terminated_at_the_timeout() -> None:
    t0 = time.monotonic()
    out = run_child(py("import time; time.sleep(60)"), timeout=0.5, kill_after=10)
    assert out.timed_out and not out.stopped
    assert out.returncode == -signal.SIGTERM
    assert 0.5 <= time.monotonic() - t0 < 5
    assert out.describe() == "killed by signal 15"
    assert_reaped(out.pid)


def test_hang_ignoring_sigterm_is_killed_and_its_group_with_it() -> None:
    pids: list[str] = []
    code = ("import signal, subprocess, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "g = subprocess.Popen(['sleep', '60'])\n"
            "print(g.pid, file=sys.stderr, flush=True)\n"
            "time.sleep(60)")
    t0 = time.monotonic()
    out = run_child(py(code), timeout=0.5, kill_after=0.5, on_line=pids.append)
    assert out.timed_out and out.returncode == -signal.SIGKILL
    assert time.monotonic() - t0 < 5
    assert_reaped(out.pid)
    grandchild = int(pids[0])
    for _ in range(50):  # the kernel delivers SIGKILL asynchronously
        if not alive(grandchild):
            break
        time.sleep(0.02)
    assert not alive(grandchild)
    assert not any(alive(int(p.name)) for p in Path("/proc").iterdir()
                   if p.name.isdigit() and _pgid(int(p.name)) == out.pid)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_stop_request_terminates_after_the_grace() -> None:
    stop = StopRequest()
    stop.request(grace=0.3)
    out = run_child(py("import time; time.sleep(60)"), timeout=60, stop=stop)
    assert out.stopped and not out.timed_out and out.returncode == -signal.SIGTERM


def test_second_stop_request_means_now() -> None:
    stop = StopRequest()
    stop.request(grace=3600)
    first = stop.terminate_at
    stop.request(grace=3600)
    assert stop.terminate_at is not None and first is not None and stop.terminate_at < first


def test_child_runs_in_its_own_session() -> None:
    proc = launch(py("import os, sys; print(os.getsid(0), os.getpgid(0), file=sys.stderr)"))
    lines: list[str] = []
    out = jobs.supervise(proc, timeout=30, on_line=lines.append)
    sid, pgid = map(int, lines[0].split())
    assert sid == pgid == out.pid != os.getpgid(0)


def test_launch_retries_transient_errors_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def flaky(*args: object, **kw: object) -> object:
        calls.append(1)
        if len(calls) < 3:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return "proc"

    monkeypatch.setattr(jobs.subprocess, "Popen", flaky)
    monkeypatch.setattr(launch.retry, "sleep", lambda s: None)  # type: ignore[attr-defined]
    assert launch(["x"]) == "proc" and len(calls) == 3

    calls.clear()

    def missing(*args: object, **kw: object) -> object:
        calls.append(1)
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(jobs.subprocess, "Popen", missing)
    with pytest.raises(FileNotFoundError):
        launch(["x"])
    assert len(calls) == 1


def test_describe() -> None:
    assert ChildOutcome(1, -9, 1.0).describe() == "killed by signal 9"
    assert ChildOutcome(1, 3, 1.0, tail=("a", "b")).describe() == "exited with code 3: a | b"
