"""storage.reserve: the room a crawl holds on a SQLite archive's disk for recording its end (the disk-full
crawl itself is tests/test_faults_a.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from storage.reserve import RESERVE, DiskReserve


def test_the_reserve_is_real_blocks_and_is_given_back(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with DiskReserve(db) as reserve:
        assert reserve.take() == RESERVE
        held = tmp_path / f"a.db-reserve-{os.getpid()}"
        assert held.stat().st_size == RESERVE
        assert held.stat().st_blocks * 512 >= RESERVE, "a sparse file holds no room"
        reserve.give_back()
        assert not held.exists()
        reserve.take()
    assert not held.exists(), "leaving the block gives it back"


def test_a_killed_crawls_reserve_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    orphan = tmp_path / f"a.db-reserve-{dead.stdout.strip()}"
    live = tmp_path / f"a.db-reserve-{os.getppid()}"
    other = tmp_path / "b.db-reserve-1"
    for p in (orphan, live, other):
        p.write_bytes(b"\0")
    with DiskReserve(tmp_path / "a.db") as reserve:
        reserve.take()
        assert not orphan.exists()
        assert live.exists() and other.exists()


def test_no_reserve_for_a_server_or_a_missing_directory(tmp_path: Path) -> None:
    assert DiskReserve(None).take() == 0
    assert DiskReserve(tmp_path / "nowhere" / "a.db").take() == 0
    assert not (tmp_path / "nowhere").exists()
