"""`vnarchive db copy --to URL` (storage.copy): a whole archive SQLite -> PostgreSQL -> SQLite, verified.

The round trip needs a real PostgreSQL server (VNARCHIVE_TEST_PG; `bash .ci/run` starts one).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.sitefixture import build_site, sources_toml

PG = os.environ.get("VNARCHIVE_TEST_PG")


@pytest.fixture
def crawled(tmp_path: Path, serve_site: Callable[..., Any],
            fresh_db: Callable[..., str]) -> tuple[str, dict[str, str]]:
    """An archive with a crawl in it (articles, versions, captures, runs, search index...) on the test backend:
    SQLite, or PostgreSQL with VNARCHIVE_TEST_BACKEND (then the copies below start from PostgreSQL)."""
    site = serve_site(build_site())
    (tmp_path / "s.toml").write_text(sources_toml(site.base), encoding="utf-8")
    url = fresh_db()
    env = {"VNARCHIVE_DB": url, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    r = run_cli("crawl", "--all", "-q", env=env)
    assert r.returncode == 0, r.stderr
    return url, env


def _checks(url: str) -> dict[str, tuple[int, str]]:
    from storage.copy import table_check, tables
    from storage.db import make_engine

    engine = make_engine(url)
    out = {t.name: (lambda c: (c.rows, c.digest))(table_check(engine, t)) for t in tables()}
    engine.dispose()
    return out


def _search(env: dict[str, str], db: str) -> list[str]:
    r = run_cli("search", "an ninh", "--json", "--db", db, env=env)
    assert r.returncode == 0, r.stderr
    return sorted(json.loads(line)["url"] for line in r.stdout.splitlines() if line.startswith("{"))


def _stats(env: dict[str, str], db: str) -> list[dict[str, object]]:
    """``vnarchive stats --json`` lines without what differs between two archives of the same rows (the file
    size)."""
    r = run_cli("stats", "--json", "--db", db, env=env)
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    for o in out:
        for part in (o, *(v for v in o.values() if isinstance(v, dict))):
            part.pop("database_bytes", None)
    return out


def test_copy_to_sqlite_is_verified_and_refuses_a_non_empty_target(tmp_path: Path,
                                                                   crawled: tuple[str, dict[str, str]]) -> None:
    url, env = crawled
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    r = run_cli("db", "copy", "--to", target, env=env)
    assert r.returncode == 0, r.stderr
    assert "counts and content hashes verified" in r.stdout
    assert "versions: 6 rows" in r.stdout
    assert _checks(target) == _checks(url)
    assert oct((tmp_path / "copy.db").stat().st_mode & 0o777) == "0o600"
    assert _search(env, target) == _search(env, url) != []
    assert _stats(env, target) == _stats(env, url)
    again = run_cli("db", "copy", "--to", target, env=env)
    assert again.returncode == 2 and "is not empty" in again.stderr and "Traceback" not in again.stderr
    same = run_cli("db", "copy", "--to", url, env=env)
    assert same.returncode == 2 and "is the archive being copied" in same.stderr


def test_a_copy_that_differs_is_reported(tmp_path: Path, crawled: tuple[str, dict[str, str]],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from storage import copy
    from storage.db import make_engine

    url, _ = crawled
    real = copy.table_check
    calls: list[str] = []

    def tampered(engine: Any, table: Any, batch: int = copy.BATCH) -> Any:
        c = real(engine, table, batch)
        calls.append(table.name)
        if table.name == "versions" and calls.count("versions") == 2:  # the target's read-back
            return copy.TableCheck(c.table, c.rows, "0" * 64)
        return c

    monkeypatch.setattr(copy, "table_check", tampered)
    with pytest.raises(copy.CopyError, match="differs in table versions"):
        copy.copy_archive(make_engine(url), make_engine(f"sqlite:///{tmp_path / 'c.db'}"))


@pytest.fixture
def pg_db() -> Iterator[str]:
    if not PG:
        pytest.skip("VNARCHIVE_TEST_PG is not set (bash .ci/run starts a PostgreSQL server)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    name = f"vnarchive_copy_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_round_trip_sqlite_postgresql_sqlite(tmp_path: Path, crawled: tuple[str, dict[str, str]],
                                             pg_db: str) -> None:
    url, env = crawled
    before = _checks(url)
    r = run_cli("db", "copy", "--to", pg_db, env=env)
    assert r.returncode == 0, r.stderr
    assert _checks(pg_db) == before
    assert _search(env, pg_db) == _search(env, url) != []
    refused = run_cli("db", "copy", "--to", pg_db, env=env)
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    back = f"sqlite:///{tmp_path / 'back.db'}"
    r = run_cli("db", "copy", "--to", back, env={**env, "VNARCHIVE_DB": pg_db})
    assert r.returncode == 0, r.stderr
    assert _checks(back) == before
    # the PostgreSQL copy is a working archive: its sequences continue after the copied ids
    r = run_cli("crawl", "--all", "-q", env={**env, "VNARCHIVE_DB": pg_db})
    assert r.returncode == 0, r.stderr
    runs = [json.loads(line) for line in run_cli("runs", "--json", env={**env, "VNARCHIVE_DB": pg_db})
            .stdout.splitlines()]
    assert len(runs) == 2 and runs[0]["id"] > runs[1]["id"]
