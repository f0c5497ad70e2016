"""The daemon lock and the per-source crawl locks: exclusive, private, gone with their process."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from crawler.locks import (
    FileLock,
    LockHeld,
    advisory_key,
    control_dir,
    daemon_lock,
    daemon_lock_path,
    holder,
    source_lock,
    source_locks,
)

ROOT = Path(__file__).resolve().parent.parent


def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'archive.db'}"


def test_second_acquire_fails_with_the_holder(tmp_path: Path) -> None:
    first = daemon_lock(url(tmp_path)).acquire()
    with pytest.raises(LockHeld) as e:
        daemon_lock(url(tmp_path)).acquire()
    msg = str(e.value)
    assert "scheduler" in msg and "already running" in msg and f"pid {os.getpid()}" in msg
    assert str(daemon_lock_path(tmp_path / "archive.db")) in msg
    first.release()
    daemon_lock(url(tmp_path)).acquire().release()


def test_files_are_private(tmp_path: Path) -> None:
    with daemon_lock(url(tmp_path)), source_lock(url(tmp_path), "mps"):
        lock_file = tmp_path / "archive.db.scheduler.lock"
        assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "archive.db.locks").stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "archive.db.locks" / "mps.lock").stat().st_mode) == 0o600
    assert lock_file.exists()  # never unlinked: that would race with a process opening it


def test_lock_is_released_when_its_process_is_killed(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys, time
        from crawler.locks import daemon_lock
        daemon_lock({url(tmp_path)!r}).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld, match=f"pid {proc.pid}"):
            daemon_lock(url(tmp_path)).acquire()
        assert holder(daemon_lock(url(tmp_path))) is not None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert holder(daemon_lock(url(tmp_path))) is None
    daemon_lock(url(tmp_path)).acquire().release()


@pytest.fixture
def archive(fresh_db: Callable[..., str]) -> Iterator[tuple[str, Engine]]:
    """An archive URL on the test backend and its engine (PostgreSQL's advisory locks are held on its
    connections; SQLite's locks are files beside it and need none)."""
    from storage.db import make_engine

    db = fresh_db()
    engine = make_engine(db)
    yield db, engine
    engine.dispose()


def test_source_locks_yield_the_busy_ones(archive: tuple[str, Engine]) -> None:
    db, engine = archive
    with source_lock(db, "tgvn", engine):
        with source_locks(db, engine, ["mps", "tgvn", "bao"]) as busy:
            assert list(busy) == ["tgvn"]
            assert "a crawl of tgvn is already running" in busy["tgvn"]
            # the free ones are held for the block
            assert holder(source_lock(db, "mps", engine)) is not None
        assert holder(source_lock(db, "mps", engine)) is None


def test_source_lock_and_daemon_lock_are_independent(archive: tuple[str, Engine]) -> None:
    db, engine = archive
    with daemon_lock(db, engine):
        assert holder(source_lock(db, "mps", engine)) is None


def test_file_lock_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    (tmp_path / "link.lock").symlink_to(target)
    with pytest.raises(OSError):
        FileLock(tmp_path / "link.lock", "x").acquire()
    assert target.read_text() == "keep me"


def test_in_memory_archive_needs_no_lock() -> None:
    with daemon_lock("sqlite://"), daemon_lock("sqlite://"):
        pass


def test_control_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert control_dir(url(tmp_path)) == tmp_path / "archive.db.control"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    a = control_dir("postgresql+psycopg://u:secret@db/archive")
    assert a.is_relative_to(tmp_path / "state" / "vnarchive") and "secret" not in str(a)
    assert a != control_dir("postgresql+psycopg://u@db/other")


def test_advisory_keys_are_stable_signed_64_bit() -> None:
    k = advisory_key("scheduler")
    assert k == advisory_key("scheduler") != advisory_key("crawl:mps")
    assert -(2**63) <= k < 2**63


PG = os.environ.get("VNARCHIVE_TEST_PG")


@pytest.mark.skipif(not PG, reason="VNARCHIVE_TEST_PG is not set (bash .ci/run starts a server)")
def test_postgres_advisory_locks() -> None:
    from storage.db import make_engine

    assert PG
    a, b = make_engine(PG), make_engine(PG)
    try:
        first = daemon_lock(PG, a).acquire()
        with pytest.raises(LockHeld, match="advisory lock"):
            daemon_lock(PG, b).acquire()
        assert first.alive()
        with source_locks(PG, b, ["mps"]) as busy:
            assert busy == {}
            with source_locks(PG, a, ["mps"]) as busy2:
                assert list(busy2) == ["mps"]
        first.release()
        assert holder(daemon_lock(PG, b)) is None
    finally:
        a.dispose()
        b.dispose()


@pytest.mark.skipif(not PG, reason="VNARCHIVE_TEST_PG is not set (bash .ci/run starts a server)")
def test_postgres_advisory_lock_dies_with_its_process() -> None:
    from storage.db import make_engine

    assert PG
    code = textwrap.dedent(f"""
        import time
        from crawler.locks import daemon_lock
        from storage.db import make_engine
        daemon_lock({PG!r}, make_engine({PG!r})).acquire()
        print("locked", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    engine = make_engine(PG)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        assert holder(daemon_lock(PG, engine)) is not None
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    for _ in range(50):  # the server notices the closed connection a moment later
        if holder(daemon_lock(PG, engine)) is None:
            break
        time.sleep(0.1)
    assert holder(daemon_lock(PG, engine)) is None
    engine.dispose()
