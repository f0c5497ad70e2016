"""Shared fixtures: a fresh migrated archive per test (SQLite, or PostgreSQL with VNARCHIVE_TEST_BACKEND), a
loopback HTTP site, the vnweb simulator.

``VNARCHIVE_TEST_BACKEND=postgresql`` (with ``VNARCHIVE_TEST_PG`` naming a server, as `bash .ci/run` sets both)
runs every test that uses an archive (the ``db_url``, ``session_factory`` or ``fresh_db`` fixtures) on
PostgreSQL, one new database each, and deselects the rest: they do not touch an archive and ran on SQLite."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VNWEB = ROOT.parent / "shared" / "vnweb" / "vnweb.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

BACKEND = os.environ.get("VNARCHIVE_TEST_BACKEND", "sqlite").strip().lower() or "sqlite"
PG_SERVER = os.environ.get("VNARCHIVE_TEST_PG")
ARCHIVE_FIXTURES = frozenset({"db_url", "session_factory", "fresh_db"})


def pytest_configure(config: pytest.Config) -> None:
    if BACKEND not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"VNARCHIVE_TEST_BACKEND is sqlite or postgresql, not {BACKEND!r}")
    if BACKEND == "postgresql" and not PG_SERVER:
        raise pytest.UsageError("VNARCHIVE_TEST_BACKEND=postgresql needs VNARCHIVE_TEST_PG, the URL of a server "
                                "whose user may create databases (bash .ci/run starts one)")
    config.addinivalue_line("markers", "sqlite_only(reason): the test is about SQLite itself (its file, its "
                            "pragmas); not run with VNARCHIVE_TEST_BACKEND=postgresql")


def pytest_report_header(config: pytest.Config) -> str:
    return f"archive backend: {BACKEND}" + (f" ({PG_SERVER})" if BACKEND == "postgresql" else "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND != "postgresql":
        return
    keep = [i for i in items if ARCHIVE_FIXTURES & set(getattr(i, "fixturenames", ()))
            and i.get_closest_marker("sqlite_only") is None]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


class PgDatabases:
    """New databases on the test server: empty, or migrated.  A test's database is emptied afterwards (TRUNCATE,
    identities restarted) and handed to a later test when its schema is the current one, else dropped: far
    cheaper than CREATE DATABASE per test, and each test still starts from nothing."""

    def __init__(self, server: str) -> None:
        from sqlalchemy import create_engine

        self.server = server
        self.admin = create_engine(server, isolation_level="AUTOCOMMIT")
        self.names: set[str] = set()
        self.free: dict[bool, list[str]] = {True: [], False: []}  # migrated? -> emptied databases
        self.head: str | None = None

    def url(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.server).set(database=name).render_as_string(hide_password=False)

    def new(self, migrated: bool) -> str:
        from sqlalchemy import text

        if self.free[migrated]:
            return self.url(self.free[migrated].pop())
        name = f"vnt_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}" TEMPLATE template0'))
        self.names.add(name)
        url = self.url(name)
        if migrated:
            from storage.db import make_engine
            from storage.migrate import head_revision, upgrade

            engine = make_engine(url)
            upgrade(engine)
            self.head = head_revision(engine)
            engine.dispose()
        return url

    def release(self, url: str) -> None:
        """Empty the database for the next test, or drop it when it is not a plain current archive."""
        from sqlalchemy import create_engine, inspect, text
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        assert name
        with self.admin.connect() as c:  # whatever a test left connected (a killed crawl's session) goes
            c.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d "
                           "AND pid <> pg_backend_pid()"), {"d": name})
        try:
            engine = create_engine(url)
            with engine.begin() as c:
                tables = [t for t in inspect(c).get_table_names() if t != "alembic_version"]
                version = (c.execute(text("SELECT version_num FROM alembic_version")).scalar()
                           if "alembic_version" in inspect(c).get_table_names() else None)
                if version is None and not tables:
                    pool = False
                elif version is not None and version == self.head:
                    c.execute(text("SET LOCAL lock_timeout = '5s'"))
                    c.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
                    pool = True
                else:
                    raise LookupError("not a current archive")
            engine.dispose()
            self.free[pool].append(name)
        except Exception:
            self.drop(name)

    def drop(self, name: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.names.discard(name)

    def close(self) -> None:
        for name in list(self.names):
            self.drop(name)
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases | None]:
    if BACKEND != "postgresql":
        yield None
        return
    assert PG_SERVER
    dbs = PgDatabases(PG_SERVER)
    yield dbs
    dbs.close()


@pytest.fixture
def fresh_db(tmp_path: Path, pg_databases: PgDatabases | None,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """fresh_db(name="archive.db", migrated=False) -> the URL of a new archive on the test backend: an SQLite
    file in the test's directory, or a new PostgreSQL database (dropped after the test).  Not migrated unless
    asked: the first `vnarchive` command creates the schema, as for a user."""
    made: list[str] = []

    def make(name: str = "archive.db", migrated: bool = False) -> str:
        if pg_databases is not None:
            # a pooled database comes back under the same URL, and the commands keep control files and crawl
            # logs per archive URL under $XDG_STATE_HOME: the test's own, so none reaches a later test
            monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
            url = pg_databases.new(migrated)
        else:
            url = f"sqlite:///{tmp_path / name}"
            if migrated:
                from storage.db import make_engine
                from storage.migrate import upgrade

                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
        made.append(url)
        return url

    yield make
    if pg_databases is not None:
        for url in made:
            pg_databases.release(url)


@pytest.fixture
def db_url(fresh_db: Callable[..., str]) -> str:
    """A new, migrated archive (SQLite, or PostgreSQL with VNARCHIVE_TEST_BACKEND=postgresql)."""
    return fresh_db(migrated=True)


@pytest.fixture
def session_factory(db_url: str):  # type: ignore[no-untyped-def]
    from storage.db import make_engine, make_session_factory

    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def sqlite_file(url: str) -> Path:
    """The SQLite file of an archive URL; the test is skipped on PostgreSQL (it reads the file itself)."""
    if not is_sqlite(url):
        pytest.skip("reads the SQLite file itself")
    return Path(url.removeprefix("sqlite:///"))


def assert_no_archive(url: str) -> None:
    """Nothing was created at ``url``: no SQLite file, or no table in the PostgreSQL database."""
    if is_sqlite(url):
        assert not sqlite_file(url).exists()
        return
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            assert inspect(c).get_table_names() == []
    finally:
        engine.dispose()


class _Rows:
    def __init__(self, rows: Sequence[Any]) -> None:
        self.rows = [tuple(r) for r in rows]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)


class ArchiveSQL:
    """``sqlite3.connect``'s ``execute(sql, params).fetchall()`` over SQLAlchemy, for either backend: tests
    check the archive with the same SQL on SQLite and PostgreSQL (``?`` placeholders; each call its own
    transaction, so a crawl running beside it is never blocked)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Rows:
        from sqlalchemy import text

        n = iter(range(len(params)))
        stmt = re.sub(r"\?", lambda m: f":p{next(n)}", sql)
        with self.engine.begin() as c:
            res = c.execute(text(stmt), {f"p{i}": v for i, v in enumerate(params)})
            return _Rows(res.fetchall() if res.returns_rows else [])

    def close(self) -> None:
        self.engine.dispose()


def archive_sql(url: str) -> ArchiveSQL:
    return ArchiveSQL(url)


# ---------------------------------------------------------------- a small site on loopback

@dataclass
class Page:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})


@dataclass
class Site:
    """Pages by path (query included); tests change them between crawls. Every request is logged."""

    pages: dict[str, Any]  # path -> Page, or a callable returning one
    base: str = ""
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def paths_requested(self) -> list[str]:
        return [p for _, p, _ in self.log]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            site.log.append(("GET", self.path, dict(self.headers)))
            page = site.pages.get(self.path) or site.pages.get(self.path.split("?")[0] if "utm_" in self.path
                                                                 or "print=" in self.path else "\0")
            if callable(page):  # a page that answers differently over time (rate limits, flaky servers)
                page = page()
            if page is None:
                page = Page(b"<html><body><h1>404</h1></body></html>", 404)
            etag = page.headers.get("ETag")
            if etag and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(page.status)
            for k, v in page.headers.items():
                self.send_header(k, v.replace("{base}", site.base))
            body = page.body.replace(b"{base}", site.base.encode())
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def serve_site() -> Iterator[object]:
    """serve_site(pages) -> Site served on 127.0.0.1:<free port>; `{base}` in bodies is the site's URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(pages: dict[str, Page]) -> Site:
        site = Site(pages)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
        site.base = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return site

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process under it, from /proc (Linux)."""
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids.append(int(d.name))
    return [pid] + [p for k in kids for p in process_tree(k)]


def run_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`vnarchive ARGS` in a subprocess, as users run it (one Scrapy reactor per process)."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- the vnweb simulator (../shared/vnweb)

@dataclass
class VnWeb:
    manifest: dict
    port: int
    seed: int
    articles: int
    sources_file: Path

    def truth(self, day: int, out: Path) -> list[dict]:
        subprocess.run([sys.executable, str(VNWEB), "truth", "--seed", str(self.seed), "--articles",
                        str(self.articles), "--port", str(self.port), "--day", str(day), "--out", str(out)],
                       check=True, capture_output=True)
        return [json.loads(line) for line in out.open(encoding="utf-8")]

    def admin(self, what: str, post: bool = False) -> dict:
        import urllib.request

        req = urllib.request.Request(self.manifest["admin"] + what, method="POST" if post else "GET")
        return json.loads(urllib.request.urlopen(req, timeout=30).read())


def start_vnweb(tmp: Path, seed: int, articles: int, port: int) -> tuple[subprocess.Popen[bytes], VnWeb]:
    if not VNWEB.exists():
        pytest.skip(f"the vnweb simulator is not at {VNWEB} (it ships beside the project in ../shared)")
    manifest = tmp / "vnweb.json"
    proc = subprocess.Popen([sys.executable, str(VNWEB), "serve", "--seed", str(seed), "--articles", str(articles),
                             "--port", str(port), "--manifest", str(manifest)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        if manifest.exists():
            break
        if proc.poll() is not None:
            pytest.skip(f"vnweb could not start on port {port} (busy?)")
        time.sleep(0.1)
    sources = tmp / "vnweb.toml"
    sources.write_text((ROOT / "config" / "vnweb.toml").read_text(encoding="utf-8").replace(":8080", f":{port}"),
                       encoding="utf-8")
    return proc, VnWeb(json.loads(manifest.read_text()), port, seed, articles, sources)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
