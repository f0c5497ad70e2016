"""The analyst views (migration 0006) on SQLite and PostgreSQL, their documentation (docs/schema.md) and the
Datasette metadata file, and the views of a real crawled archive read with the sqlite3 module."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import ROOT, is_sqlite, run_cli
from tests.sitefixture import build_site, sources_toml

VN = dt.timezone(dt.timedelta(hours=7))
UTC = dt.UTC
VIEWS = ("current_articles", "article_versions", "article_events_view", "crawl_runs_view")
PG = os.environ.get("VNARCHIVE_TEST_PG")
SCHEMA_DOC = ROOT / "docs" / "schema.md"
METADATA = ROOT / "docs" / "datasette-metadata.json"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A new migrated archive on each backend (PostgreSQL: when VNARCHIVE_TEST_PG names a server)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from storage.db import make_engine
    from storage.migrate import upgrade

    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'archive.db'}"
    else:
        if not PG:
            pytest.skip("VNARCHIVE_TEST_PG is not set (bash .ci/run starts a server)")
        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        name = f"vnarchive_{uuid.uuid4().hex[:12]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG).set(database=name).render_as_string(hide_password=False)
    eng = make_engine(url)
    upgrade(eng)
    yield eng
    eng.dispose()
    if admin is not None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        admin.dispose()


def _content(title: str, body: str, published: dt.datetime | None) -> Any:
    from storage import repo

    return repo.Content(title=title, lead="Sapo.", text=body, author="Nguyễn Văn An", published=published,
                        modified=None, language="vi", page_canonical=None, extractor="test", extractor_version="1")


def _fill(engine: Engine) -> dict[str, int]:
    """Two articles: one published at 06:00 in Hanoi (the previous day in UTC), edited, re-extracted and
    removed; one never edited.  A finished crawl run.  Returns their ids."""
    from storage import repo
    from storage.db import make_session_factory

    early = dt.datetime(2024, 5, 1, 6, 0, tzinfo=VN)  # 2024-04-30 23:00 UTC
    t1 = dt.datetime(2024, 5, 1, 7, 30, tzinfo=VN)
    with make_session_factory(engine).begin() as s:
        repo.ensure_sources(s, [("bao", "Báo Thử")])
        caps = []
        for i, when in enumerate((t1, t1 + dt.timedelta(days=1))):
            caps.append(repo.store_capture(s, source_id="bao", run_id=None, url="http://bao.test/a",
                                           final_url="http://bao.test/a", status=200, headers={},
                                           fetched_at=when, body=f"<html>{i}</html>".encode(), outcome="archived"))
        a = repo.create_article(s, "bao", "http://bao.test/a", t1, early)
        repo.add_urls(s, a.id, [("http://bao.test/a", "bao.test/a")], t1)
        repo.add_version(s, a, _content("Bão số 3", "Gió mạnh cấp 12.", early), caps[0], t1)
        repo.add_version(s, a, _content("Bão số 3 đổ bộ", "Gió mạnh cấp 13.", early), caps[1],
                         t1 + dt.timedelta(days=1))
        # a re-extraction: a third version from the second version's capture, with its event
        repo.add_version(s, a, _content("Bão số 3 đổ bộ Quảng Ninh", "Gió mạnh cấp 13.", early), caps[1],
                         t1 + dt.timedelta(days=2))
        repo.record_event(s, a.id, "reextracted", t1 + dt.timedelta(days=2), "2.0/a -> 2.0/b")
        repo.record_event(s, a.id, "removed", t1 + dt.timedelta(days=3), "HTTP 404")
        a.status, a.removed_at = "removed", t1 + dt.timedelta(days=3)
        b = repo.create_article(s, "bao", "http://bao.test/b", t1, None)
        repo.add_version(s, b, _content("Tin không ngày", "Nội dung.", None), None, t1)
        # an article row without any version is not an archived article
        repo.create_article(s, "bao", "http://bao.test/empty", t1, None)
        run = repo.start_run(s, "bao", "manual")
        repo.finish_run(s, run.id, "finished", 0, counts={"pages_fetched": 7, "articles_new": 2},
                        errors={"http_404": 1})
        return {"a": a.id, "b": b.id, "run": run.id}


def _rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(text(sql), params)]


def test_views_exist_and_read_in_vietnam_time(engine: Engine) -> None:
    ids = _fill(engine)
    cur = {r["id"]: r for r in _rows(engine, "SELECT * FROM current_articles")}
    assert set(cur) == {ids["a"], ids["b"]}  # one row per archived article, none for the empty one
    a = cur[ids["a"]]
    assert a["title"] == "Bão số 3 đổ bộ Quảng Ninh" and a["text"] == "Gió mạnh cấp 13." and a["lead"] == "Sapo."
    assert a["source"] == "bao" and a["source_name"] == "Báo Thử" and a["url"] == "http://bao.test/a"
    assert a["published"] == "2024-05-01T06:00:00+07:00" and a["published_day"] == "2024-05-01"
    assert a["first_seen"] == "2024-05-01T07:30:00+07:00" and a["captured_at"] == "2024-05-03T07:30:00+07:00"
    assert a["removed_at"] == "2024-05-04T07:30:00+07:00" and a["status"] == "removed"
    assert a["version"] == 3 and a["versions"] == 3 and a["author"] == "Nguyễn Văn An" and a["language"] == "vi"
    assert len(a["content_sha256"]) == 64
    b = cur[ids["b"]]
    assert b["published"] is None and b["published_day"] is None and b["versions"] == 1

    vs = _rows(engine, "SELECT * FROM article_versions WHERE article_id = :a ORDER BY version", a=ids["a"])
    assert [(v["version"], v["is_current"], v["title"]) for v in vs] == [
        (1, 0, "Bão số 3"), (2, 0, "Bão số 3 đổ bộ"), (3, 1, "Bão số 3 đổ bộ Quảng Ninh")]
    assert vs[0]["captured_at"] == "2024-05-01T07:30:00+07:00" and vs[0]["http_status"] == 200
    assert vs[0]["fetched_at"] == "2024-05-01T07:30:00+07:00" and len(vs[0]["body_sha256"]) == 64
    assert vs[1]["capture_id"] == vs[2]["capture_id"]

    evs = _rows(engine, "SELECT * FROM article_events_view WHERE article_id = :a ORDER BY at, kind", a=ids["a"])
    assert [(e["day"], e["kind"], e["version"]) for e in evs] == [
        ("2024-05-01", "new", 1), ("2024-05-02", "updated", 2), ("2024-05-03", "reextracted", None),
        ("2024-05-04", "removed", None)]  # the re-extracted version 3 is its event, not an "updated" row
    assert all(e["title"] == "Bão số 3 đổ bộ Quảng Ninh" for e in evs)
    assert evs[-1]["detail"] == "HTTP 404" and evs[-1]["at"] == "2024-05-04T07:30:00+07:00"

    (run,) = _rows(engine, "SELECT * FROM crawl_runs_view")
    assert run["id"] == ids["run"] and run["status"] == "finished" and run["exit_code"] == 0
    assert run["pages_fetched"] == 7 and run["articles_new"] == 2 and json.loads(run["errors"]) == {"http_404": 1}
    assert run["started_at"].endswith("+07:00") and run["ended_at"] >= run["started_at"]
    assert run["seconds"] is not None and 0 <= run["seconds"] < 60


def test_iso_text_compares_as_time(engine: Engine) -> None:
    """A day or a time written as text filters the views correctly (fixed offset: text order is time order)."""
    ids = _fill(engine)
    since = _rows(engine, "SELECT id FROM current_articles WHERE published >= '2024-05-01'")
    assert [r["id"] for r in since] == [ids["a"]]  # 23:00 UTC on April 30 is May 1 in Hanoi
    before = _rows(engine, "SELECT id FROM current_articles WHERE published < '2024-05-01'")
    assert before == []


def test_downgrade_drops_the_views(engine: Engine) -> None:
    from alembic import command

    from storage.migrate import alembic_config

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    from sqlalchemy import inspect

    assert not set(VIEWS) & set(inspect(engine).get_view_names())
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert set(VIEWS) <= set(inspect(engine).get_view_names())


def test_one_alembic_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from storage.migrate import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert len(ScriptDirectory.from_config(cfg).get_heads()) == 1


# ---------------------------------------------------------------- the documentation agrees with the views

def _view_columns(engine: Engine) -> dict[str, list[str]]:
    from sqlalchemy import inspect

    insp = inspect(engine)
    return {v: [c["name"] for c in insp.get_columns(v)] for v in VIEWS}


def test_datasette_metadata_documents_every_view_column(db_url: str) -> None:
    from storage.db import make_engine

    meta = json.loads(METADATA.read_text(encoding="utf-8"))
    (db,) = meta["databases"].values()
    engine = make_engine(db_url)
    for view, cols in _view_columns(engine).items():
        documented = db["tables"][view]["columns"]
        assert list(documented) == cols, view
        assert all(documented.values()) and db["tables"][view]["description"]
    # the canned queries run (Datasette's: it serves SQLite files, and they are written in SQLite's SQL)
    for name, q in (db.get("queries", {}) if is_sqlite(db_url) else {}).items():
        with engine.connect() as c:
            c.execute(text(q["sql"]), {p: "0" for p in re.findall(r"(?<!:):(\w+)", q["sql"])}).all()
            assert q.get("title"), name
    engine.dispose()


def test_schema_doc_names_every_view_column(db_url: str) -> None:
    from storage.db import make_engine

    doc = SCHEMA_DOC.read_text(encoding="utf-8")
    engine = make_engine(db_url)
    for view, cols in _view_columns(engine).items():
        section = doc.split(f"### `{view}`", 1)[1].split("\n### ", 1)[0]
        missing = [c for c in cols if f"| `{c}` |" not in section]
        assert not missing, (view, missing)
    engine.dispose()


def _doc_queries(sqlite: bool) -> list[str]:
    """docs/schema.md's example queries for one backend: a block whose first line says ``-- postgresql`` is the
    PostgreSQL form of the block before it; every other block is for both (SQLite's, when a PostgreSQL form
    follows)."""
    queries = re.findall(r"```sql\n(.*?)```", SCHEMA_DOC.read_text(encoding="utf-8"), re.S)
    pg = ["-- postgresql" in q.splitlines()[0] for q in queries]
    if sqlite:
        return [q for q, p in zip(queries, pg, strict=True) if not p]
    return [q for i, q in enumerate(queries) if pg[i] or not (i + 1 < len(queries) and pg[i + 1])]


def test_schema_doc_queries_run(db_url: str) -> None:
    from storage.db import make_engine

    queries = _doc_queries(is_sqlite(db_url))
    assert len(queries) >= 3
    engine = make_engine(db_url)
    ran = 0
    for q in queries:
        with engine.connect() as c:
            c.execute(text(q.replace(":article", "1"))).all()
        ran += 1
    assert ran >= 3
    engine.dispose()


# ---------------------------------------------------------------- a real archive

class _PgRow:
    """A row as sqlite3.Row gives it: by index or by column name, its values in order."""

    def __init__(self, row: Any) -> None:
        self.map, self.values = dict(row._mapping), tuple(row)

    def __getitem__(self, key: int | str) -> Any:
        return self.values[key] if isinstance(key, int) else self.map[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.values)

    def keys(self) -> list[str]:
        return list(self.map)


class _PgRows(list):  # type: ignore[type-arg]
    def fetchone(self) -> _PgRow | None:
        return self[0] if self else None

    def fetchall(self) -> list[_PgRow]:
        return list(self)


class _PlainPg:
    """psql's part for the test below, rows as sqlite3.Row gives them (a bare SQLAlchemy connection: no
    vnarchive code)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url)
        self.conn = self.engine.connect()

    def execute(self, sql: str) -> _PgRows:
        return _PgRows(_PgRow(r) for r in self.conn.execute(text(sql)))

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


@pytest.mark.slow
def test_views_of_a_crawled_archive(serve_site: Any, tmp_path: Path, fresh_db: Any) -> None:
    """crawl, then read the views with the sqlite3 module (what an analyst's sqlite3 shell or Datasette sees;
    on PostgreSQL a bare connection, what psql sees): current_articles is the export, field for field."""
    site = serve_site(build_site())
    (tmp_path / "s.toml").write_text(sources_toml(site.base), encoding="utf-8")
    url = fresh_db("a.db")
    env = {"VNARCHIVE_DB": url, "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")}
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("export", "--format", "jsonl", "--out", str(tmp_path / "e.jsonl"), env=env)
    assert r.returncode == 0, r.stderr
    export = {rec["id"]: rec for rec in map(json.loads, (tmp_path / "e.jsonl").read_text().splitlines())}
    con: Any
    if is_sqlite(url):
        con = sqlite3.connect(tmp_path / "a.db")
        con.row_factory = sqlite3.Row
    else:
        con = _PlainPg(url)
    rows = {r["id"]: dict(r) for r in con.execute("SELECT * FROM current_articles")}
    assert len(rows) == len(export) == 6
    for i, rec in export.items():
        row = rows[i]
        for f in ("url", "title", "lead", "text", "author", "status", "version", "versions", "content_sha256"):
            assert row[f] == rec[f], f
        assert row["source"] == rec["source"]
        want = dt.datetime.fromisoformat(rec["published"]).astimezone(VN).replace(microsecond=0)
        assert row["published"] == want.isoformat() and row["published_day"] == want.date().isoformat()
    per_day = con.execute("SELECT published_day, count(*) FROM current_articles GROUP BY 1 ORDER BY 1").fetchall()
    assert sum(n for _, n in per_day) == 6 and {d for d, _ in per_day} == {"2024-10-01", "2024-10-02", "2024-10-03"}
    assert con.execute("SELECT count(*) FROM article_events_view WHERE kind = 'new'").fetchone()[0] == 6
    (run,) = con.execute("SELECT * FROM crawl_runs_view").fetchall()
    assert run["status"] == "finished" and run["articles_new"] == 6 and run["ended_at"].endswith("+07:00")
    con.close()
    if is_sqlite(url):  # Datasette serves SQLite files
        _datasette_shows(tmp_path / "a.db", export)


def _datasette_shows(db: Path, export: dict[int, dict[str, Any]]) -> None:
    """``datasette archive.db -m docs/datasette-metadata.json`` (in-process, its own ASGI client): the views
    are listed, current_articles answers as the export does, and a canned query of the metadata runs."""
    try:
        from datasette.app import Datasette
    except ImportError:
        pytest.skip("datasette is not installed (pip install -e '.[test]' installs it)")
    import asyncio

    meta = json.loads(METADATA.read_text(encoding="utf-8"))
    (name,) = meta["databases"]
    copy = db.with_name(f"{name}.db")  # the metadata names the database "archive": datasette names it by file
    copy.write_bytes(db.read_bytes())

    async def ask() -> tuple[Any, Any, Any]:
        ds = Datasette([str(copy)], metadata=meta)
        tables = await ds.client.get(f"/{name}.json")
        rows = await ds.client.get(f"/{name}/current_articles.json?_shape=objects&_size=max")
        query = next(iter(meta["databases"][name].get("queries", {})), None)
        canned = await ds.client.get(f"/{name}/{query}.json?_shape=objects") if query else None
        return tables, rows, canned

    tables, rows, canned = asyncio.run(ask())
    assert tables.status_code == 200, tables.text
    views = {v["name"] for v in tables.json()["views"]}
    assert {"current_articles", "article_versions", "article_events_view", "crawl_runs_view"} <= views
    assert rows.status_code == 200, rows.text
    got = {r["id"]: r for r in rows.json()["rows"]}
    assert set(got) == set(export) and all(got[i]["title"] == export[i]["title"] for i in export)
    if canned is not None:
        assert canned.status_code in (200, 400), canned.text  # 400: a query that needs a parameter
