"""The archive on a real PostgreSQL server (CI starts one and sets VNARCHIVE_TEST_PG): the migrations there; and
racing writers, hostile text and a crawl, on the test backend (SQLite, or PostgreSQL with VNARCHIVE_TEST_BACKEND)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.sitefixture import build_site, paragraphs, sources_toml

SERVER = os.environ.get("VNARCHIVE_TEST_PG")
needs_server = pytest.mark.skipif(not SERVER, reason="VNARCHIVE_TEST_PG is not set (bash .ci/run starts a server)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database on the test server, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert SERVER
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    name = f"vnarchive_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@needs_server
def test_migrations_match_models(pg_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from storage.db import make_engine
    from storage.migrate import upgrade
    from storage.models import Base

    engine = make_engine(pg_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if not any(str(getattr(x, "name", "")).startswith(("search", "fts"))
                                       for x in d if not isinstance(x, str))]
    assert ours == []
    engine.dispose()


def _page(url: str, text: str) -> tuple[object, object]:
    from pipelines.items import Extracted, RawPage

    raw = RawPage(source_id="bao", url=url, final_url=url, status=200, headers={"Content-Type": "text/html"},
                  body=b"<html>\x00'); DROP TABLE articles;--<script>x</script></html>",
                  fetched_at=dt.datetime.now(dt.UTC))
    ex = Extracted(title="Tiêu đề", lead="", text=text, author=None,
                   published=dt.datetime(2024, 10, 3, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))),
                   modified=None, language="vi", page_canonical=None)
    return raw, ex


def test_racing_writers_and_hostile_text(db_url: str) -> None:
    """Two writers archive the same page at once: one article, one version (FAULTS B1); NUL bytes (D9)."""
    from sqlalchemy import func, select

    from config import load_sources
    from pipelines.pipeline import write_page
    from storage import repo
    from storage.db import make_engine, make_session_factory
    from storage.models import Article, Capture, Version

    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    source = load_sources(Path(__file__).parent.parent / "config" / "vnweb.toml").get("bao")
    with factory.begin() as s:
        repo.ensure_sources(s, [("bao", "bao")])
    text = "\n\n".join(paragraphs(7)) + "\x00 '); DROP TABLE articles;-- <script>alert(1)</script>"
    raw, ex = _page("http://127.0.0.5:8080/thoi-su/bai-4800001", text)
    errors: list[BaseException] = []

    def go() -> None:
        try:
            write_page(factory, source, raw, ex, None)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with factory() as s:
        assert s.execute(select(func.count()).select_from(Article)).scalar() == 1
        assert s.execute(select(func.count()).select_from(Version)).scalar() == 1
        v = s.execute(select(Version)).scalar_one()
        assert "\x00" not in v.text and "DROP TABLE articles" in v.text and "<script>" in v.text
        cap = s.execute(select(Capture).where(Capture.body.is_not(None))).scalars().first()
        assert repo.capture_body(cap) == raw.body  # raw bytes kept exactly, NUL included
    engine.dispose()


@pytest.mark.slow
def test_crawl_twice_into_the_archive(serve_site, tmp_path: Path, fresh_db: Callable[..., str]) -> None:
    site = serve_site(build_site())
    (tmp_path / "s.toml").write_text(sources_toml(site.base), encoding="utf-8")
    url = fresh_db()
    env = {"VNARCHIVE_DB": url, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    for _ in range(2):
        r = run_cli("crawl", "fixture", "--quiet", env=env)
        assert r.returncode == 0, r.stderr
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as c:
        assert c.execute(text("select count(*) from articles")).scalar() == 6
        assert c.execute(text("select count(*) from versions")).scalar() == 6
    engine.dispose()
