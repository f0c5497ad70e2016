"""The archive file is left alone when it should be (FAULTS A5; issue 11): opening never changes a file it then
refuses, never changes permissions, read-only commands work on a read-only file system, messages name the
path, and `show --raw` gives the bytes as archived."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from config.settings import Settings
from crawler.runner import open_archive
from storage.db import ArchiveError, make_engine, make_session_factory
from storage.migrate import check_current, upgrade
from tests.conftest import run_cli
from tests.test_search import put


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _archive(path: Path, html: bytes | None = None) -> int:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    aid = put(make_session_factory(engine), "http://bao.test/a", "Bão số 3", "Gió mạnh cấp 12.", html=html)
    engine.dispose()
    return aid


@pytest.mark.sqlite_only("the archive file's permissions")
def test_a_new_archive_is_private_an_existing_ones_mode_is_kept(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    open_archive(Settings(db_url=f"sqlite:///{new}")).dispose()
    assert _mode(new) == 0o600
    shared = tmp_path / "shared.db"
    _archive(shared)
    for mode in (0o644, 0o444):
        os.chmod(shared, mode)
        open_archive(Settings(db_url=f"sqlite:///{shared}")).dispose()
        assert _mode(shared) == mode, "the archive's permissions were changed"


@pytest.mark.sqlite_only("an SQLite file that is not an archive, its bytes and journal mode")
def test_a_foreign_database_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    p = tmp_path / "other.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    before = _sha(p)
    with pytest.raises(ArchiveError) as ei:
        open_archive(Settings(db_url=f"sqlite:///{p}"))
    assert str(p) in str(ei.value) and "refusing" in str(ei.value)
    assert _sha(p) == before and sorted(x.name for x in tmp_path.iterdir()) == ["other.db"]
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    con.close()


@pytest.mark.sqlite_only("garbage and empty SQLite files")
def test_messages_name_the_file_not_sqlite_url(tmp_path: Path) -> None:
    p = tmp_path / "archive.db"
    p.write_bytes(b"\0" * 4096)
    engine = make_engine(f"sqlite:///{p}", readonly=True)
    with pytest.raises(ArchiveError) as ei:
        check_current(engine)
    assert str(p.resolve()) in str(ei.value) and "sqlite://" not in str(ei.value)
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(ArchiveError) as ei:
        check_current(make_engine(f"sqlite:///{empty}", readonly=True))
    assert str(empty.resolve()) in str(ei.value) and "is empty" in str(ei.value)


@contextlib.contextmanager
def read_only_fs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.sqlite_only("the SQLite file on a read-only file system")
def test_read_only_commands_work_on_a_read_only_file_system(tmp_path: Path) -> None:
    with read_only_fs(tmp_path) as mnt:
        db = mnt / "archive.db"
        _archive(db)
        assert subprocess.run(["mount", "-o", "remount,ro", str(mnt)], capture_output=True).returncode == 0
        env = {"VNARCHIVE_DB": f"sqlite:///{db}"}
        for cmd in (("stats",), ("export", "--format", "jsonl"), ("show", "1"), ("search", "Gió"),
                    ("db", "status")):
            r = run_cli(*cmd, env=env)
            assert r.returncode == 0, (cmd, r.stderr)
            assert "unable to open" not in r.stderr
        assert "Bão số 3" in run_cli("export", "--format", "jsonl", env=env).stdout
        # a command that writes says so, naming the file, in one line
        r = run_cli("db", "upgrade", env=env)
        assert r.returncode != 0 and str(db) in r.stderr and "Traceback" not in r.stderr


# "Tiếng Việt" in windows-1258 (base letters and combining tone marks), as an old provincial portal serves it
PAGE_1258 = (b'<html><head><meta charset="windows-1258"><title>Tin</title></head><body><h1>Ti\xea\xecng Vi\xea\xf2t</h1>'
             b"</body></html>")


def test_show_raw_prints_the_archived_bytes(db_url: str, session_factory: sessionmaker[Session],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from crawler.cli import app

    aid = put(session_factory, "http://bao.test/a", "Bão số 3", "Gió mạnh cấp 12.", html=PAGE_1258)
    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    r = CliRunner().invoke(app, ["show", str(aid), "--raw"])
    assert r.exit_code == 0, r.output
    assert r.stdout_bytes == PAGE_1258  # not re-encoded as UTF-8 under its windows-1258 declaration
