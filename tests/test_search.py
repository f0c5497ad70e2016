"""Search: folding both ways, phrases, hostile queries, ranking, filters, and the triggers that keep the index
in step with every write (the archive's own path, and a plain sqlite3 client with no vnarchive code)."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from storage import repo
from storage.models import Capture
from storage.search import QueryError, check, parse_query, rebuild, search
from tests.conftest import archive_sql, is_sqlite

VN = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2024, 5, 1, 10, 0, tzinfo=VN)


def put(factory: sessionmaker[Session], url: str, title: str, body: str, *, lead: str = "", source: str = "bao",
        published: dt.datetime | None = T0, html: bytes | None = None, when: dt.datetime = T0) -> int:
    """Archive one version of an article the way pipelines/archive.py does (repo functions, one transaction)."""
    with factory.begin() as s:
        repo.ensure_sources(s, [(source, source.upper())])
        cap = repo.store_capture(s, source_id=source, run_id=None, url=url, final_url=url, status=200,
                                 headers={"Content-Type": "text/html; charset=utf-8"}, fetched_at=when,
                                 body=html if html is not None else f"<html><h1>{title}</h1><p>{body}</p></html>"
                                 .encode(), outcome="archived")
        a = repo.find_article_by_keys(s, [url]) or repo.create_article(s, source, url, when, published)
        repo.add_urls(s, a.id, [(url, url)], when)
        content = repo.Content(title=title, lead=lead, text=body, author=None, published=published, modified=None,
                               language="vi", page_canonical=url, extractor="test", extractor_version="1")
        repo.add_version(s, a, content, cap, when)
        s.execute(update(Capture).where(Capture.id == cap).values(article_id=a.id))
        return a.id


def ids(factory: sessionmaker[Session], query: str, **kw: object) -> list[int]:
    with factory() as s:
        return [h.id for h in search(s, query, limit=100, **kw)]  # type: ignore[arg-type]


@pytest.fixture
def archive(session_factory: sessionmaker[Session]) -> dict[str, object]:
    f = session_factory
    art = {
        "hanoi": put(f, "http://bao.test/1", "Hà Nội mở rộng đường vành đai",
                     "Thành phố Hà Nội khởi công tuyến đường mới.", lead="Dự án lớn của thủ đô."),
        "danang": put(f, "http://bao.test/2", "Đà Nẵng đón khách quốc tế", "Du lịch Đà Nẵng tăng mạnh trong năm.",
                      source="tgvn", published=dt.datetime(2024, 6, 10, 8, tzinfo=VN)),
        "nhanquyen": put(f, "http://bao.test/3", "Đối thoại về nhân quyền",
                         "Việt Nam và đối tác trao đổi về nhân quyền và tự do tôn giáo."),
        "bocongan": put(f, "http://bao.test/4", "Bộ Công an triển khai đề án 06",
                        "Bộ Công an triển khai căn cước điện tử trên toàn quốc."),
        "ba": put(f, "http://bao.test/5", "Chuyện của bà", "Bà cụ sống một mình ở ngoại thành."),
        "baca": put(f, "http://bao.test/6", "Giá bá chủ thị trường", "Công ty bá chủ thị trường sữa."),
        "khai": put(f, "http://bao.test/7", "Triển lãm khái quát", "Triển khái niệm mới khái quát về triển vọng."),
        "split": put(f, "http://bao.test/8", "Nội dung chính", "Thăm Hà Giang rồi về Nội Bài bằng máy bay."),
        "textonly": put(f, "http://bao.test/9", "Tin tổng hợp", "Cuối bài có nhắc Đà Nẵng một lần."),
    }
    return art


# ---------------------------------------------------------------- folding both ways

@pytest.mark.parametrize(("query", "key"), [
    ("nhan quyen", "nhanquyen"), ("Da Nang", "danang"), ("Bo Cong an", "bocongan"), ("ha noi", "hanoi"),
    ("DA NANG", "danang"), ("thu do", "hanoi"),  # the lead is searched too
    ("nhân quyền", "nhanquyen"), ("Đà Nẵng", "danang"), ("BỘ CÔNG AN", "bocongan"),
])
def test_found_with_or_without_marks(session_factory: sessionmaker[Session], archive: dict[str, int], query: str,
                                     key: str) -> None:
    assert archive[key] in ids(session_factory, query)


def test_nfd_query_finds_nfc_text(session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    for q in ("nhân quyền", "Đà Nẵng"):
        assert ids(session_factory, unicodedata.normalize("NFD", q)) == ids(session_factory, q) != []


def test_marked_query_matches_exactly_those_words(session_factory: sessionmaker[Session],
                                                  archive: dict[str, int]) -> None:
    assert ids(session_factory, "bà") == [archive["ba"]]
    assert ids(session_factory, "bá") == [archive["baca"]]
    assert set(ids(session_factory, "ba")) == {archive["ba"], archive["baca"]}
    # a bare word in a query typed with marks is taken as typed: "khai" is not "khái"
    assert ids(session_factory, "triển khai") == [archive["bocongan"]]
    assert archive["khai"] in ids(session_factory, "trien khai")


def test_dd_folds_to_d(session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    assert archive["danang"] in ids(session_factory, "da")
    assert archive["bocongan"] in ids(session_factory, "de an")
    assert archive["danang"] not in ids(session_factory, "đa")  # typed with đ: exact


def test_phrases(session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    loose = ids(session_factory, "ha noi")
    assert archive["hanoi"] in loose and archive["split"] in loose  # unquoted: all words, anywhere
    assert ids(session_factory, '"ha noi"') == [archive["hanoi"]]
    assert ids(session_factory, "“Hà Nội”") == [archive["hanoi"]]  # typographic quotes
    assert ids(session_factory, '"noi ha"') == []
    # adjacent words rank first even unquoted
    assert loose[0] == archive["hanoi"]


def test_title_outranks_text(session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    got = ids(session_factory, "da nang")
    assert got.index(archive["danang"]) < got.index(archive["textonly"])


@pytest.mark.parametrize("query", [
    '"unbalanced', 'ha noi"', 'AND', 'OR NOT', 'NEAR(ha noi)', 'ha*', '^noi', 'title:ha', 'text : noi', '(ha',
    '"ha" "', "'); DROP TABLE articles;--", "ha\x00noi", "{title lead}: ha", "ha - noi", "-ha", "+noi", "a/b\\c",
])
def test_hostile_queries_are_text_never_syntax(session_factory: sessionmaker[Session], archive: dict[str, int],
                                               query: str) -> None:
    ids(session_factory, query)  # no exception
    with session_factory() as s:
        assert s.execute(text("SELECT count(*) FROM articles")).scalar_one() == len(archive)


def test_operators_are_searched_as_words(session_factory: sessionmaker[Session]) -> None:
    aid = put(session_factory, "http://bao.test/ops", "Cuộc thi AND NOT OR", "Chuyện NEAR bờ sông")
    assert ids(session_factory, "AND NOT") == [aid]
    assert ids(session_factory, "near") == [aid]
    assert ids(session_factory, '"NOT OR"') == [aid]


@pytest.mark.parametrize("query", ["", "   ", "***", '""', "?!", "«»"])
def test_empty_queries_are_a_clear_error(session_factory: sessionmaker[Session], query: str) -> None:
    with pytest.raises(QueryError, match="nothing to search for"):
        ids(session_factory, query)


def test_too_long_query_is_refused() -> None:
    with pytest.raises(QueryError, match="at most"):
        parse_query(" ".join(f"w{i}" for i in range(100)))


def test_filters(session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    assert ids(session_factory, "da nang", source="tgvn") == [archive["danang"]]
    assert ids(session_factory, "da nang", since=dt.date(2024, 6, 1)) == [archive["danang"]]
    assert archive["danang"] not in ids(session_factory, "da nang", until=dt.date(2024, 6, 9))
    # a date is a whole Vietnamese day (08:00 there is 01:00 UTC)
    assert ids(session_factory, "da nang", since=dt.date(2024, 6, 10), until=dt.date(2024, 6, 10)) == [archive["danang"]]


def test_hit_record_and_snippet(session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    with session_factory() as s:
        (hit,) = search(s, "nhan quyen", limit=1)
    rec = hit.record()
    assert {"id", "source", "url", "title", "published", "snippet"} <= rec.keys()
    assert rec["published"] == "2024-05-01T10:00:00+07:00"
    assert rec["url"] == "http://bao.test/3"
    assert [hit.snippet[a:b] for a, b in hit.highlights][:2] == ["nhân", "quyền"]
    assert [hit.title[a:b] for a, b in hit.title_highlights] == ["nhân", "quyền"]
    json.dumps(rec, ensure_ascii=False)


def test_accented_highlights_only_exact_words(session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    with session_factory() as s:
        (hit,) = search(s, "bà", limit=5)
    assert [hit.snippet[a:b] for a, b in hit.highlights] == ["Bà"]


# ---------------------------------------------------------------- the index follows the archive

def test_new_version_replaces_old_words(session_factory: sessionmaker[Session]) -> None:
    aid = put(session_factory, "http://bao.test/e", "Tin sáng", "Mưa lớn ở Huế.")
    assert ids(session_factory, "hue") == [aid]
    put(session_factory, "http://bao.test/e", "Tin sáng", "Nắng đẹp ở Quảng Trị.", when=T0 + dt.timedelta(hours=2))
    assert ids(session_factory, "hue") == []
    assert ids(session_factory, "quang tri") == [aid]
    with session_factory.begin() as s:
        check(s)


def test_removed_articles_stay_searchable_and_say_so(session_factory: sessionmaker[Session]) -> None:
    aid = put(session_factory, "http://bao.test/r", "Bài đã gỡ", "Nội dung bị gỡ bỏ.")
    with session_factory.begin() as s:
        s.execute(text("UPDATE articles SET status = 'removed' WHERE id = :i"), {"i": aid})
    with session_factory() as s:
        (hit,) = search(s, "go bo")
    assert (hit.id, hit.status) == (aid, "removed")


def test_deleting_an_article_removes_it_from_the_index(session_factory: sessionmaker[Session],
                                                       archive: dict[str, int]) -> None:
    with session_factory.begin() as s:
        s.execute(text("DELETE FROM articles WHERE id = :i"), {"i": archive["danang"]})
    assert archive["danang"] not in ids(session_factory, "da nang")
    with session_factory.begin() as s:
        check(s)


def test_a_rolled_back_write_leaves_no_trace(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "BAO")])
        a = repo.create_article(s, "bao", "http://bao.test/rb", T0, None)
        repo.add_version(s, a, repo.Content("Tin hủy", "", "Sẽ bị hủy.", None, None, None, None, None, "t", "1"),
                         None, T0)
        s.flush()
        raise RuntimeError("crawler killed mid-transaction")
    assert ids(session_factory, "huy") == []


class _PlainPg:
    """psql's part for the test below: SQLAlchemy's own engine (no vnarchive code), `with con:` a transaction,
    `?` placeholders as sqlite3 takes them."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url)
        self.conn = self.engine.connect()

    def __enter__(self) -> _PlainPg:
        self.conn.begin()
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        n = iter(range(len(params)))
        self.conn.execute(text(re.sub(r"\?", lambda m: f":p{next(n)}", sql)),
                          {f"p{i}": v for i, v in enumerate(params)})

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()


def plain_client(url: str) -> Any:
    """A client with no vnarchive code: the sqlite3 module, or (PostgreSQL) a bare SQLAlchemy connection."""
    return sqlite3.connect(url.removeprefix("sqlite:///")) if is_sqlite(url) else _PlainPg(url)


def test_plain_sqlite3_client_writes_keep_the_index(db_url: str, session_factory: sessionmaker[Session],
                                                    archive: dict[str, int]) -> None:
    """No Python function is needed to write: the sqlite3 shell, psql or a repair script keeps the index right."""
    con = plain_client(db_url)
    with con:
        con.execute("INSERT INTO versions (article_id, number, content_sha256, created_at, title, lead, text, "
                    "extractor, extractor_version) VALUES (?, 2, 'x', '2024-05-02 00:00:00', 'Đồng Nai mưa lớn', '', "
                    "'Đường ngập ở Biên Hòa.', 'manual', '1')", (archive["ba"],))
        con.execute("UPDATE articles SET current_version = 2 WHERE id = ?", (archive["ba"],))
    with con:  # a hand fix of the current version's text
        con.execute("UPDATE versions SET text = 'Đường ngập ở Long Thành.' WHERE article_id = ? AND number = 2",
                    (archive["ba"],))
    with con:  # a version inserted after the article already points at it (bulk loads)
        con.execute("UPDATE articles SET current_version = 3 WHERE id = ?", (archive["baca"],))
        con.execute("INSERT INTO versions (article_id, number, content_sha256, created_at, title, lead, text, "
                    "extractor, extractor_version) VALUES (?, 3, 'y', '2024-05-02 00:00:00', 'Sữa tươi', '', "
                    "'Giá sữa giảm.', 'manual', '1')", (archive["baca"],))
    with con:
        con.execute("DELETE FROM versions WHERE article_id = ? AND number = 1", (archive["hanoi"],))
        con.execute("DELETE FROM versions WHERE article_id = ? AND number = "
                    "(SELECT current_version FROM articles WHERE id = article_id)", (archive["hanoi"],))
    con.close()
    assert ids(session_factory, "dong nai") == [archive["ba"]]
    assert ids(session_factory, "long thanh") == [archive["ba"]]
    assert ids(session_factory, "bien hoa") == []
    assert ids(session_factory, "ba cu") == []
    assert ids(session_factory, "sua giam") == [archive["baca"]]
    assert ids(session_factory, "bá chủ") == []
    assert archive["hanoi"] not in ids(session_factory, "vanh dai")
    with session_factory.begin() as s:
        check(s)


def test_rebuild_gives_the_same_answers(session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    before = ids(session_factory, "da nang")
    with session_factory.begin() as s:
        rebuild(s)
        check(s)
    assert ids(session_factory, "da nang") == before


# ---------------------------------------------------------------- the migration

TRIGGERS = {"search_articles_au", "search_articles_ai", "search_articles_bd", "search_versions_ai",
            "search_versions_bu", "search_versions_au", "search_versions_bd"}
PG_TRIGGERS = {"search_articles", "search_versions"}
PG_FUNCTIONS = {"search_plain", "search_fold", "search_reindex", "search_articles_trg", "search_versions_trg"}


def _search_objects(db_url: str) -> dict[str, str]:
    """The search index's objects: name -> type (SQLite: FTS5 tables and triggers; PostgreSQL: the search_docs
    table, its triggers and functions)."""
    con = archive_sql(db_url)
    if is_sqlite(db_url):
        rows = dict(con.execute("SELECT name, type FROM sqlite_master WHERE name LIKE 'search%'").fetchall())
    else:
        rows = dict(con.execute("SELECT c.relname, 'table' FROM pg_class c JOIN pg_namespace n ON n.oid = "
                                "c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r' "
                                "AND c.relname LIKE 'search%'").fetchall())
        rows |= dict(con.execute("SELECT tgname, 'trigger' FROM pg_trigger WHERE NOT tgisinternal "
                                 "AND tgname LIKE 'search%'").fetchall())
        rows |= dict(con.execute("SELECT p.proname, 'function' FROM pg_proc p JOIN pg_namespace n ON n.oid = "
                                 "p.pronamespace WHERE n.nspname = current_schema() "
                                 "AND p.proname LIKE 'search%'").fetchall())
    con.close()
    return rows


def test_head_has_the_triggers(db_url: str) -> None:
    """A later batch migration of articles/versions drops their triggers; this catches it."""
    objects = _search_objects(db_url)
    if is_sqlite(db_url):
        assert {n for n, t in objects.items() if t == "trigger"} == TRIGGERS
        assert {"search_exact", "search_folded"} <= objects.keys()
    else:
        assert {n for n, t in objects.items() if t == "trigger"} == PG_TRIGGERS
        assert {n for n, t in objects.items() if t == "table"} == {"search_docs"}
        assert {n for n, t in objects.items() if t == "function"} == PG_FUNCTIONS


def test_downgrade_drops_everything_and_upgrade_indexes_existing_articles(
        db_url: str, session_factory: sessionmaker[Session], archive: dict[str, int]) -> None:
    from alembic import command

    from storage.db import make_engine
    from storage.migrate import alembic_config, upgrade

    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert _search_objects(db_url) == {}
    upgrade(engine)
    engine.dispose()
    assert ids(session_factory, "nhan quyen") == [archive["nhanquyen"]]
    with session_factory.begin() as s:
        check(s)


# ---------------------------------------------------------------- the command

def test_cli_json(db_url: str, archive: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from crawler.cli import app

    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    r = CliRunner().invoke(app, ["search", "Da", "Nang", "--json", "--limit", "1000"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows[0]["id"] == archive["danang"] and rows[0]["published"].endswith("+07:00")
    r = CliRunner().invoke(app, ["search", "nhan quyen"])
    assert r.exit_code == 0 and "Đối thoại về nhân quyền" in r.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["search", "***"], "nothing to search for"),
    (["search", "ha", "--since", "yesterday"], "--since: expected a date"),
    (["search", "ha", "--source", "nope"], "no source 'nope'"),
    (["search", "ha", "--limit", "0"], "limit must be"),
])
def test_cli_errors_are_one_line(db_url: str, archive: dict[str, int], monkeypatch: pytest.MonkeyPatch,
                                 args: list[str], message: str) -> None:
    from typer.testing import CliRunner

    from crawler.cli import app

    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_cli_refuses_an_archive_not_upgraded(fresh_db: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from crawler.cli import app
    from storage.db import make_engine
    from storage.migrate import upgrade

    url = fresh_db("old.db")
    engine = make_engine(url)
    upgrade(engine, "0001")
    engine.dispose()
    monkeypatch.setenv("VNARCHIVE_DB", url)
    r = CliRunner().invoke(app, ["search", "ha"])
    assert r.exit_code == 2 and "vnarchive db upgrade" in r.stderr


# ---------------------------------------------------------------- PostgreSQL (CI sets VNARCHIVE_TEST_PG)

PG = os.environ.get("VNARCHIVE_TEST_PG")


@pytest.fixture
def pg_factory() -> Iterator[sessionmaker[Session]]:
    """A fresh migrated database on the test server, dropped afterwards."""
    if not PG:
        pytest.skip("VNARCHIVE_TEST_PG is not set (bash .ci/run starts a server)")
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from storage.db import make_engine, make_session_factory
    from storage.migrate import upgrade

    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    name = f"vnarchive_search_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG).set(database=name).render_as_string(hide_password=False))
    upgrade(engine)
    yield make_session_factory(engine)
    engine.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_postgresql_search_matches_sqlite(pg_factory: sessionmaker[Session], session_factory: sessionmaker[Session]
                                          ) -> None:
    pg_ids, lite_ids = {}, {}
    for f, out in ((pg_factory, pg_ids), (session_factory, lite_ids)):
        out["hanoi"] = put(f, "http://bao.test/1", "Hà Nội mở rộng đường vành đai", "Thành phố Hà Nội khởi công.")
        out["split"] = put(f, "http://bao.test/2", "Nội dung chính", "Thăm Hà Giang rồi về Nội Bài.")
        out["ba"] = put(f, "http://bao.test/3", "Chuyện của bà", "Bà cụ sống một mình.")
        out["baca"] = put(f, "http://bao.test/4", "Giá bá chủ", "Công ty bá chủ thị trường.")
        out["danang"] = put(f, "http://bao.test/5", "ĐÀ NẴNG đón khách", "Du lịch tăng.")
        out["ops"] = put(f, "http://bao.test/6", "Cuộc thi AND NOT OR", "'); DROP TABLE articles;-- <script>")
    queries = ["ha noi", '"ha noi"', "Hà Nội", "bà", "bá", "ba", "da nang", "Đà Nẵng",
               unicodedata.normalize("NFD", "Đà Nẵng"), "AND NOT", '"unbalanced', "NEAR(ha noi)", "ha:noi*",
               "'); DROP TABLE articles;--", "drop table", "script"]

    def named(f: sessionmaker[Session], m: dict[str, int], q: str) -> set[str]:
        back = {v: k for k, v in m.items()}
        return {back[i] for i in ids(f, q)}

    for q in queries:
        assert named(pg_factory, pg_ids, q) == named(session_factory, lite_ids, q), q
    assert named(pg_factory, pg_ids, '"ha noi"') == {"hanoi"}
    assert named(pg_factory, pg_ids, "bà") == {"ba"}
    # the triggers: a new version replaces the old words; deleting the article empties the index
    put(pg_factory, "http://bao.test/1", "Huế mưa lớn", "Nước dâng.", when=T0 + dt.timedelta(hours=1))
    assert ids(pg_factory, "ha noi") == [pg_ids["split"]] and ids(pg_factory, "hue") == [pg_ids["hanoi"]]
    with pg_factory.begin() as s:
        s.execute(text("DELETE FROM articles WHERE id = :i"), {"i": pg_ids["hanoi"]})
    assert ids(pg_factory, "hue") == []
    with pg_factory.begin() as s:
        rebuild(s)
    assert named(pg_factory, pg_ids, "ba") == {"ba", "baca"}


def test_sort_by_date_puts_the_newest_published_first_and_undated_last(
        session_factory: sessionmaker[Session]) -> None:
    f = session_factory
    old = put(f, "http://bao.test/d1", "Lũ lớn ở miền Trung", "Lũ lớn gây ngập nhiều xã ven sông.",
              published=dt.datetime(2023, 1, 5, 8, tzinfo=VN))
    undated = put(f, "http://bao.test/d2", "Tin lũ", "Lũ lớn được dự báo.", published=None)
    new = put(f, "http://bao.test/d3", "Lũ lớn rút dần", "Nước lũ lớn đã rút.",
              published=dt.datetime(2024, 9, 1, 8, tzinfo=VN))
    assert ids(f, "lu lon", sort="date") == [new, old, undated]
    with f() as s:
        assert [h.id for h in search(s, "lu lon", sort="date", limit=1, offset=1)] == [old]
        assert [h.id for h in search(s, "lu lon", source="bao", sort="date", limit=5)] == [new, old, undated]
        with pytest.raises(ValueError, match="sort"):
            search(s, "lu lon", sort="newest")


@pytest.mark.sqlite_only
def test_a_broad_query_ranks_its_newest_matches_by_tiers(session_factory: sessionmaker[Session],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Past RANK_WINDOW matches, the newest RANK_WINDOW are ranked (letters as typed, words side by side, in the
    title, in the lead, newest first); deeper pages, the total and the date order still see every match."""
    import storage.search as search_mod

    f = session_factory
    a = [put(f, f"http://bao.test/w{i}", f"Tin số {i}", "Người dân nói về giá vàng hôm nay.") for i in range(4)]
    titled = put(f, "http://bao.test/w-title", "Giá vàng tăng", "Thị trường hôm nay sôi động, giá của vàng.")
    apart = put(f, "http://bao.test/w-apart", "Tin ngắn", "Vàng miếng có giá mới.", lead="Chợ vàng, giá tốt")
    newest = put(f, "http://bao.test/w-new", "Tin mới", "Giá cả ổn định; vàng đứng yên.", source="tgvn")
    monkeypatch.setattr(search_mod, "RANK_WINDOW", 4)
    with f() as s:
        assert search_mod.count(s, "gia vang") == 7
        top = [h.id for h in search(s, "gia vang", limit=4)]
        # the newest four matches (a[3], titled, apart, newest): side by side in the title first, then side by
        # side in the text, then apart with the words in the lead, then apart, newest first
        assert top == [titled, a[3], apart, newest]
        scores = [h.score for h in search(s, "gia vang", limit=4)]
        assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
        # a page deeper than the window ranks every match, by bm25 as for a narrow query
        deep = [h.id for h in search(s, "gia vang", limit=7)]
        assert set(deep) == {*a, titled, apart, newest} and deep[0] == titled
        # a filter is applied before the window is taken
        assert [h.id for h in search(s, "gia vang", source="tgvn", limit=4)] == [newest]
        # the date order is not windowed
        assert len(search(s, "gia vang", limit=4, sort="date")) == 4
    monkeypatch.setattr(search_mod, "RANK_WINDOW", 1000)
    with f() as s:
        narrow = [h.id for h in search(s, "gia vang", limit=7)]
    assert narrow == deep
