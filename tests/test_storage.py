"""storage/ and pipelines/archive.py: schema, connection settings, refusal of unusable files, transactions,
archiving rules (variants, copies, versions, removals, moves, stories) and the export."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from config import load_sources
from pipelines import stories
from pipelines.archive import apply_status, archive_page
from pipelines.items import Extracted, PageStatus, RawPage, Skipped
from storage import repo
from storage.db import ArchiveError, is_transient, make_engine, make_session_factory, sqlite_path
from storage.export import FIELDS, iter_records
from storage.migrate import check_current, current_revision, head_revision, upgrade
from storage.models import (
    Article,
    ArticleEvent,
    ArticleSignature,
    ArticleUrl,
    Base,
    Capture,
    SkippedPage,
    SourceRow,
    StoryBand,
    Version,
)
from tests.conftest import archive_sql

ROOT = Path(__file__).resolve().parent.parent
SF = load_sources(ROOT / "config" / "vnweb.toml")
BAO, MPS = SF.get("bao"), SF.get("mps")
VN = dt.timezone(dt.timedelta(hours=7))
T = dt.datetime(2024, 8, 25, 3, 0, tzinfo=dt.UTC)
URL = "http://127.0.0.5:8080/thoi-su/thu-tuong-chu-tri-phien-hop-4800010"

TEXT = "\n\n".join([
    "Sáng 25/8, tại trụ sở Chính phủ, Thủ tướng chủ trì phiên họp Chính phủ thường kỳ tháng 8 năm 2024.",
    "Phiên họp được kết nối trực tuyến với 63 tỉnh, thành phố trực thuộc Trung ương.",
    "Theo báo cáo của Bộ Kế hoạch và Đầu tư, tình hình kinh tế - xã hội tiếp tục xu hướng tích cực.",
    "Tăng trưởng GDP quý II ước đạt 6,93%, cao hơn nhiều dự báo của các tổ chức quốc tế.",
    "Lạm phát được kiểm soát ở mức khoảng 4%, các cân đối lớn của nền kinh tế được bảo đảm.",
    "Thu ngân sách nhà nước tám tháng ước đạt gần 80% dự toán, tăng 15,2% so với cùng kỳ.",
    "Giải ngân vốn đầu tư công vẫn còn chậm, nhiều bộ, ngành và địa phương đạt dưới mức trung bình.",
    "Thủ tướng yêu cầu các bộ trưởng, chủ tịch ủy ban nhân dân các tỉnh trực tiếp chỉ đạo, đôn đốc.",
    "Các dự án trọng điểm quốc gia về giao thông, năng lượng phải được đẩy nhanh tiến độ thi công.",
    "Người đứng đầu Chính phủ cũng nhấn mạnh việc tháo gỡ khó khăn cho doanh nghiệp và người dân.",
])
OTHER_TEXT = "\n\n".join([
    "Tối 24/8, đội tuyển bóng đá nữ Việt Nam đã có trận giao hữu với đội chủ nhà Nhật Bản tại Tokyo.",
    "Dù thua với tỷ số 0-2, các cầu thủ trẻ đã thể hiện tinh thần thi đấu quả cảm và kỷ luật chiến thuật.",
    "Huấn luyện viên trưởng cho biết đây là cơ hội quý giá để cọ xát với một nền bóng đá hàng đầu châu Á.",
    "Sau chuyến tập huấn, đội sẽ trở về nước để chuẩn bị cho giải vô địch Đông Nam Á vào cuối năm.",
])


# ---------------------------------------------------------------- helpers

@pytest.fixture
def archive(session_factory):  # type: ignore[no-untyped-def]
    with session_factory.begin() as s:
        repo.ensure_sources(s, [(x.id, x.name) for x in SF.sources])
    return session_factory


def raw(url: str = URL, *, when: dt.datetime = T, body: bytes = b"<html><body>bai viet</body></html>",
        source: str = "bao", final_url: str | None = None, **kw: Any) -> RawPage:
    return RawPage(source_id=source, url=url, final_url=final_url or url, status=200,
                   headers={"Content-Type": "text/html; charset=utf-8", "ETag": '"v1"'}, body=body,
                   fetched_at=when, **kw)


def extracted(text_: str = TEXT, *, title: str = "Thủ tướng chủ trì phiên họp Chính phủ thường kỳ",
              canonical: str | None = None, with_signature: bool = False) -> Extracted:
    ex = Extracted(title=title, lead="Chiều 25/8, ...", text=text_, author="Phóng viên",
                   published=dt.datetime(2024, 8, 25, 9, 30, tzinfo=VN), modified=None, language="vi",
                   page_canonical=canonical, extractor="trafilatura", extractor_version="2.0")
    if with_signature:
        sh = stories.shingles(text_)
        ex.signature, ex.shingle_count = stories.signature_of(sh), len(sh)
    return ex


def put(factory: Any, r: RawPage, result: Extracted | Skipped, source: Any = BAO) -> Any:
    with factory.begin() as s:
        return archive_page(s, source, r, result, None)


def count(factory: Any, model: Any, *where: Any) -> int:
    with factory() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def pragmas(conn: Any) -> dict[str, Any]:
    return {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in
            ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# ---------------------------------------------------------------- (a) migrations and models agree

def _ours(name: str | None) -> bool:
    return not (name or "").startswith(("search", "fts"))


def test_migrations_match_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    before, after = upgrade(engine)
    assert before is None and after == head_revision(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True,
            "include_name": lambda name, type_, parent: _ours(name if type_ == "table" else
                                                               (parent or {}).get("table_name")),
            "include_object": lambda obj, name, type_, reflected, compare_to: _ours(
                name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)),
        })
        diff = compare_metadata(ctx, Base.metadata)
        tables = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'").scalars())
    engine.dispose()
    assert diff == [], diff
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_upgrade_is_idempotent_and_current(db_url: str) -> None:
    engine = make_engine(db_url)
    head = head_revision(engine)
    assert current_revision(engine) == head
    assert upgrade(engine) == (head, head)
    check_current(engine)  # no error
    engine.dispose()


# ---------------------------------------------------------------- (b) connection settings (FAULTS A3)

@pytest.mark.sqlite_only("SQLite's own locking and pragmas; PostgreSQL's are tests/test_postgres.py's")
def test_every_new_connection_has_the_pragmas(db_url: str) -> None:
    engine = make_engine(db_url, poolclass=NullPool)  # NullPool: every connect is a new SQLite connection
    conns = [engine.raw_connection() for _ in range(3)]  # at once: three distinct connections
    try:
        for c in conns:
            cur = c.cursor()
            p = {k: cur.execute(f"PRAGMA {k}").fetchone()[0]
                 for k in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")}
            cur.close()
            assert p["journal_mode"] == "wal"
            assert p["synchronous"] == 2  # FULL
            assert p["busy_timeout"] >= 5000
            assert p["foreign_keys"] == 1
    finally:
        for c in conns:
            c.close()
        engine.dispose()


@pytest.mark.sqlite_only("SQLite's own locking and pragmas; PostgreSQL's are tests/test_postgres.py's")
def test_session_factory_connections_have_the_pragmas(session_factory) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as s:
        p = pragmas(s.connection())
    assert p == {"journal_mode": "wal", "synchronous": 2, "busy_timeout": p["busy_timeout"], "foreign_keys": 1}
    assert p["busy_timeout"] >= 5000


def test_foreign_keys_are_enforced(archive) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError):
        with archive.begin() as s:
            repo.create_article(s, "no-such-source", "http://x.vn/a-1", T, None)
    assert count(archive, Article) == 0


# ---------------------------------------------------------------- (c) unusable archives are refused (FAULTS A5)

def test_missing_directory_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(ArchiveError) as ei:
        make_engine(f"sqlite:///{missing / 'archive.db'}")
    assert str(missing) in str(ei.value)
    assert not (tmp_path / "no").exists()


def test_not_a_url_is_refused() -> None:
    with pytest.raises(ArchiveError) as ei:
        make_engine("archive.db")
    assert "'archive.db'" in str(ei.value) and "URL" in str(ei.value)


@pytest.mark.parametrize("content", [
    pytest.param(lambda: os.urandom(8192), id="garbage"),
    pytest.param(lambda: b"SQLite format 3\x00" + os.urandom(4080), id="bad-header"),
])
def test_garbage_file_is_refused_and_left_unchanged(tmp_path: Path, content: Any) -> None:
    p = tmp_path / "archive.db"
    p.write_bytes(content())
    before = _sha(p)
    with pytest.raises(ArchiveError) as ei:
        upgrade(make_engine(f"sqlite:///{p}"))
    assert "not a usable database" in str(ei.value) and str(p) in str(ei.value)
    assert _sha(p) == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["archive.db"]  # nothing created beside it


def test_archive_with_overwritten_header_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    p = tmp_path / "archive.db"
    engine = make_engine(f"sqlite:///{p}")
    upgrade(engine)
    engine.dispose()
    data = bytearray(p.read_bytes())
    data[:100] = b"\xa5" * 100
    p.write_bytes(bytes(data))
    for side in ("archive.db-wal", "archive.db-shm"):
        (tmp_path / side).unlink(missing_ok=True)
    before = _sha(p)
    with pytest.raises(ArchiveError):
        upgrade(make_engine(f"sqlite:///{p}"))
    engine = make_engine(f"sqlite:///{p}", readonly=True)
    with pytest.raises(ArchiveError):
        check_current(engine)
    engine.dispose()
    assert _sha(p) == before


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "other.db"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO customers VALUES (1, 'a')")
    con.commit()
    con.close()
    before = _sha(p)
    with pytest.raises(ArchiveError) as ei:
        upgrade(make_engine(f"sqlite:///{p}"))
    assert "refusing" in str(ei.value) and str(p) in str(ei.value)
    # refused before anything was written: not switched to WAL, not a byte changed, nothing created beside it
    assert _sha(p) == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["other.db"]
    con = sqlite3.connect(p)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")] == ["customers"]
    con.close()


def test_archive_from_a_newer_vnarchive_is_refused(db_url: str) -> None:
    con = archive_sql(db_url)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.close()
    engine = make_engine(db_url)
    try:
        with pytest.raises(ArchiveError, match="newer"):
            upgrade(engine)
    finally:
        engine.dispose()


def test_check_current_refuses_an_empty_archive(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(ArchiveError) as ei:
        check_current(engine)
    engine.dispose()
    assert "empty" in str(ei.value)


# ---------------------------------------------------------------- (d) transactions and lock contention (FAULTS B2)

@pytest.mark.sqlite_only("SQLite's own locking and pragmas; PostgreSQL's are tests/test_postgres.py's")
def test_deferred_read_then_write_fails_at_once(db_url: str) -> None:
    """The failure BEGIN IMMEDIATE avoids: two deferred transactions that read, then write."""
    path = sqlite_path(db_url)
    c1 = sqlite3.connect(path, timeout=5, isolation_level=None)
    c2 = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        for c in (c1, c2):
            c.execute("BEGIN")
            c.execute("SELECT count(*) FROM sources").fetchone()
        c1.execute("INSERT INTO sources (id, name, created_at) VALUES ('one', 'x', '2024-01-01')")
        c1.execute("COMMIT")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            c2.execute("INSERT INTO sources (id, name, created_at) VALUES ('two', 'x', '2024-01-01')")
        c2.execute("ROLLBACK")
    finally:
        c1.close()
        c2.close()


@pytest.mark.sqlite_only("SQLite's own locking and pragmas; PostgreSQL's are tests/test_postgres.py's")
def test_begin_immediate_writers_take_turns(session_factory) -> None:  # type: ignore[no-untyped-def]
    engine = session_factory.kw["bind"]
    second_began = threading.Event()
    statements: list[tuple[str, str]] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append((threading.current_thread().name, statement))
        if statement == "BEGIN IMMEDIATE" and threading.current_thread().name == "second-writer":
            second_began.set()

    event.listen(engine, "before_cursor_execute", seen)
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with session_factory.begin() as s2:
                n = s2.execute(select(func.count()).select_from(SourceRow)).scalar_one()
                s2.add(SourceRow(id="two", name=f"saw {n}", created_at=T))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    try:
        with session_factory.begin() as s1:
            n = s1.execute(select(func.count()).select_from(SourceRow)).scalar_one()
            t = threading.Thread(target=second, name="second-writer")
            t.start()
            assert second_began.wait(10)
            s1.add(SourceRow(id="one", name=f"saw {n}", created_at=T))
        t.join(30)
        assert not t.is_alive()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert errors == []
    with session_factory() as s:
        names = dict(s.execute(select(SourceRow.id, SourceRow.name)).all())
    # the second writer's transaction started after the first committed: it read the first one's row
    assert names == {"one": "saw 0", "two": "saw 1"}
    assert ("second-writer", "BEGIN IMMEDIATE") in statements
    assert ("MainThread", "BEGIN IMMEDIATE") in statements


@pytest.mark.sqlite_only("SQLite's own locking and pragmas; PostgreSQL's are tests/test_postgres.py's")
def test_a_reader_does_not_hold_the_write_lock(archive) -> None:  # type: ignore[no-untyped-def]
    """Read-only engines (export, search, the web view) begin deferred: a long read never blocks the crawler."""
    url = archive.kw["bind"].url.render_as_string(hide_password=False)
    path = sqlite_path(url)
    reader_factory = make_session_factory(make_engine(url, readonly=True))
    with reader_factory() as reader:
        reader.execute(select(func.count()).select_from(Article)).scalar_one()
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()


def _wrapped(msg: str, cls: type[DatabaseError] = OperationalError) -> DatabaseError:
    return cls("INSERT ...", {}, sqlite3.OperationalError(msg))


@pytest.mark.parametrize("msg", ["database is locked", "database is busy", "database table is locked",
                                 "deadlock detected", "could not serialize access due to concurrent update"])
def test_is_transient_lock_contention(msg: str) -> None:
    assert is_transient(_wrapped(msg)) is True
    assert is_transient(_wrapped(msg.upper(), DatabaseError)) is True


@pytest.mark.parametrize("exc", [
    _wrapped("database or disk is full"),
    _wrapped("disk I/O error"),
    _wrapped("attempt to write a readonly database"),
    _wrapped("no such table: articles"),
    _wrapped("file is not a database", DatabaseError),
    IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed: articles.canonical_url")),
    ValueError("database is locked"),
    RuntimeError("boom"),
])
def test_is_transient_other_errors(exc: BaseException) -> None:
    assert is_transient(exc) is False


@pytest.mark.sqlite_only("SQLite's own locking and pragmas; PostgreSQL's are tests/test_postgres.py's")
def test_is_transient_on_a_real_lock(db_url: str) -> None:
    from sqlalchemy import create_engine

    path = sqlite_path(db_url)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    impatient = create_engine(db_url, connect_args={"timeout": 0})
    try:
        with pytest.raises(OperationalError) as ei:
            with impatient.begin() as conn:
                conn.execute(text("INSERT INTO sources (id, name, created_at) VALUES ('x', 'x', '2024-01-01')"))
        assert is_transient(ei.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        impatient.dispose()


# ---------------------------------------------------------------- (e) archiving

def test_same_page_twice(archive) -> None:  # type: ignore[no-untyped-def]
    first = put(archive, raw(), extracted())
    assert (first.kind, first.version) == ("new", 1)
    second = put(archive, raw(when=T + dt.timedelta(hours=1)), extracted())
    assert (second.kind, second.article_id, second.version) == ("unchanged", first.article_id, 1)
    assert count(archive, Article) == 1
    assert count(archive, Version) == 1
    with archive() as s:
        caps = s.execute(select(Capture).order_by(Capture.id)).scalars().all()
        a = s.get(Article, first.article_id)
        assert [c.outcome for c in caps] == ["archived", "unchanged"]
        assert repo.capture_body(caps[0]) == raw().body
        assert caps[1].body is None  # an unchanged refetch keeps no second copy of the bytes
        assert caps[1].body_sha256 == hashlib.sha256(raw().body).hexdigest()
        assert caps[1].body_size == len(raw().body)
        assert all(c.article_id == a.id for c in caps)
        assert a.first_seen == T and a.last_seen == T + dt.timedelta(hours=1)
        assert a.last_fetched == T + dt.timedelta(hours=1)
        assert a.etag == '"v1"' and a.current_version == 1 and a.status == "live"


def test_url_variants_are_one_article(archive) -> None:  # type: ignore[no-untyped-def]
    first = put(archive, raw(), extracted())
    variants = [
        URL + "?utm_source=facebook&utm_medium=social",
        "http://127.0.0.5:8080/amp/thoi-su/thu-tuong-chu-tri-phien-hop-4800010",
        "http://127.0.0.6:8080/thoi-su/thu-tuong-chu-tri-phien-hop-4800010",
        URL + "/",
        URL + "#binh-luan",
    ]
    for i, v in enumerate(variants, 1):
        o = put(archive, raw(v, when=T + dt.timedelta(minutes=i)), extracted())
        assert (o.kind, o.article_id) == ("unchanged", first.article_id), v
    assert count(archive, Article) == 1
    assert count(archive, Version) == 1
    with archive() as s:
        urls = set(s.execute(select(ArticleUrl.url)).scalars())
        keys = set(s.execute(select(ArticleUrl.key)).scalars())
        assert urls == {URL, "http://127.0.0.6:8080/thoi-su/thu-tuong-chu-tri-phien-hop-4800010", URL + "/"}
        assert keys == {"127.0.0.5:8080/thoi-su/thu-tuong-chu-tri-phien-hop-4800010"}
        assert not any("utm_" in u or "/amp/" in u or "#" in u for u in urls)
        assert s.get(Article, first.article_id).canonical_url == URL


def test_mobile_variant_first_still_one_article(archive) -> None:  # type: ignore[no-untyped-def]
    mobile = "http://127.0.0.6:8080/thoi-su/thu-tuong-chu-tri-phien-hop-4800010"
    a = put(archive, raw(mobile), extracted(canonical=URL))
    b = put(archive, raw(URL), extracted(canonical=URL))
    assert a.article_id == b.article_id and b.kind == "unchanged"
    with archive() as s:
        assert s.get(Article, a.article_id).canonical_url == URL


def test_exact_copy_under_an_unrelated_url_of_the_same_source(archive) -> None:  # type: ignore[no-untyped-def]
    first = put(archive, raw(), extracted())
    copy_url = "http://127.0.0.5:8080/kinh-te/ban-sao-khac-4800999"
    o = put(archive, raw(copy_url), extracted())
    assert (o.kind, o.article_id) == ("unchanged", first.article_id)
    assert count(archive, Article) == 1
    with archive() as s:
        assert copy_url in set(s.execute(select(ArticleUrl.url)).scalars())


def test_same_content_from_another_source_is_another_article(archive) -> None:  # type: ignore[no-untyped-def]
    first = put(archive, raw(), extracted())
    o = put(archive, raw("http://127.0.0.2:8080/bai-viet/phien-hop-1700123", source="mps"), extracted(), MPS)
    assert o.kind == "new" and o.article_id != first.article_id
    assert count(archive, Article) == 2


def test_changed_text_is_a_new_version_never_an_overwrite(archive) -> None:  # type: ignore[no-untyped-def]
    v1_body = b"<html><body>v1</body></html>"
    first = put(archive, raw(body=v1_body), extracted())
    changed = TEXT.replace("6,93%", "7,09%")
    o = put(archive, raw(body=b"<html><body>v2</body></html>", when=T + dt.timedelta(hours=3)), extracted(changed))
    assert (o.kind, o.article_id, o.version) == ("updated", first.article_id, 2)
    again = put(archive, raw(body=b"<html><body>v2 again</body></html>", when=T + dt.timedelta(hours=4)),
                extracted(changed))
    assert (again.kind, again.version) == ("unchanged", 2)
    with archive() as s:
        vs = s.execute(select(Version).order_by(Version.number)).scalars().all()
        assert [v.number for v in vs] == [1, 2]
        assert vs[0].text == TEXT and "6,93%" in vs[0].text
        assert vs[1].text == changed
        assert vs[0].content_sha256 != vs[1].content_sha256
        assert vs[0].created_at == T
        assert repo.capture_body(s.get(Capture, vs[0].capture_id)) == v1_body  # v1's bytes intact
        assert s.get(Article, first.article_id).current_version == 2


def test_skipped_page(archive) -> None:  # type: ignore[no-untyped-def]
    url = "http://127.0.0.5:8080/thoi-su/trang-rong-4800011"
    o = put(archive, raw(url, body=b"<html>tiny</html>"), Skipped("too_short"))
    assert (o.kind, o.reason, o.article_id) == ("skipped", "too_short", None)
    assert count(archive, Article) == 0
    assert count(archive, Version) == 0
    with archive() as s:
        sp = s.execute(select(SkippedPage)).scalar_one()
        cap = s.execute(select(Capture)).scalar_one()
        assert (sp.url, sp.reason, sp.source_id, sp.capture_id) == (url, "too_short", "bao", cap.id)
        assert (cap.outcome, cap.article_id) == ("skipped:too_short", None)
        assert repo.capture_body(cap) == b"<html>tiny</html>"
    # the latest reason wins, one row per URL
    put(archive, raw(url, when=T + dt.timedelta(hours=1)), Skipped("not_article"))
    assert count(archive, SkippedPage) == 1
    assert count(archive, Capture) == 2
    with archive() as s:
        assert s.execute(select(SkippedPage.reason)).scalar_one() == "not_article"


def test_hostile_content_round_trips(archive) -> None:  # type: ignore[no-untyped-def]
    """FAULTS D9: SQL metacharacters, <script> and NUL bytes."""
    evil = "'); DROP TABLE articles;--"
    body = (b"<html><head><script>alert('x')</script></head><body>\x00" + evil.encode() +
            b"<p>Tr\xc6\xb0\xe1\xbb\x9bc\x00 sau</p>\xff\xfe\x00</body></html>")
    text_ = f"Trước\x00 sau {evil} <script>alert('x')</script>\n\n" + TEXT
    o = put(archive, raw("http://127.0.0.5:8080/phap-luat/bai-doc-hai-4800012", body=body),
            extracted(text_, title=f"Tiêu đề\x00 {evil}"))
    assert o.kind == "new"
    with archive() as s:
        v = s.execute(select(Version)).scalar_one()
        assert "\x00" not in v.text and "\x00" not in v.title
        assert v.text == text_.replace("\x00", "")
        assert v.title == f"Tiêu đề {evil}"
        assert evil in v.text and "<script>alert('x')</script>" in v.text
        cap = s.get(Capture, v.capture_id)
        assert repo.capture_body(cap) == body  # raw bytes byte-exact, NULs included
        assert cap.body_sha256 == hashlib.sha256(body).hexdigest()
        from sqlalchemy import inspect as sa_inspect

        assert {"articles", "versions", "captures"} <= set(sa_inspect(s.connection()).get_table_names())
        if s.bind.dialect.name == "sqlite":
            assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert count(archive, Article) == 1


def _status(kind: str, code: int, when: dt.datetime, article_id: int, final_url: str = URL) -> PageStatus:
    return PageStatus(source_id="bao", url=URL, kind=kind, status=code, article_id=article_id, fetched_at=when,
                      headers={}, final_url=final_url)


def test_gone_then_not_modified(archive) -> None:  # type: ignore[no-untyped-def]
    aid = put(archive, raw(), extracted()).article_id
    gone_at, back_at = T + dt.timedelta(days=1), T + dt.timedelta(days=2)
    with archive.begin() as s:
        assert apply_status(s, _status("gone", 404, gone_at, aid), None).kind == "removed"
    with archive() as s:
        a = s.get(Article, aid)
        assert (a.status, a.removed_at) == ("removed", gone_at)
        assert a.current_version == 1
        evs = s.execute(select(ArticleEvent.kind, ArticleEvent.detail, ArticleEvent.at)).all()
        assert evs == [("removed", "HTTP 404", gone_at)]
    # a second 404 is not a second removal
    with archive.begin() as s:
        assert apply_status(s, _status("gone", 410, gone_at + dt.timedelta(hours=1), aid), None).kind == "unchanged"
    assert count(archive, ArticleEvent) == 1
    with archive.begin() as s:
        assert apply_status(s, _status("not_modified", 304, back_at, aid), None).kind == "not_modified"
    with archive() as s:
        a = s.get(Article, aid)
        assert (a.status, a.removed_at, a.last_seen) == ("live", None, back_at)
        assert [e for e, in s.execute(select(ArticleEvent.kind).order_by(ArticleEvent.id))] == ["removed",
                                                                                                 "reappeared"]
        assert s.execute(select(func.count()).select_from(Version)).scalar_one() == 1  # versions kept
        assert [c.outcome for c in s.execute(select(Capture).order_by(Capture.id)).scalars()] == [
            "archived", "gone", "gone", "not_modified"]


def test_redirected_away_is_removed(archive) -> None:  # type: ignore[no-untyped-def]
    aid = put(archive, raw(), extracted()).article_id
    with archive.begin() as s:
        o = apply_status(s, _status("redirected_away", 301, T + dt.timedelta(days=1), aid,
                                    final_url="http://127.0.0.5:8080/"), None)
    assert o.kind == "removed"
    with archive() as s:
        assert s.execute(select(ArticleEvent.detail)).scalar_one() == "redirected to http://127.0.0.5:8080/"


def test_refetched_page_brings_a_removed_article_back(archive) -> None:  # type: ignore[no-untyped-def]
    aid = put(archive, raw(), extracted()).article_id
    with archive.begin() as s:
        apply_status(s, _status("gone", 404, T + dt.timedelta(days=1), aid), None)
    o = put(archive, raw(when=T + dt.timedelta(days=2)), extracted())
    assert (o.kind, o.article_id) == ("unchanged", aid)
    with archive() as s:
        assert s.get(Article, aid).status == "live"
        assert [k for k, in s.execute(select(ArticleEvent.kind).order_by(ArticleEvent.id))] == ["removed",
                                                                                                 "reappeared"]


def test_status_of_an_unknown_article(archive) -> None:  # type: ignore[no-untyped-def]
    with archive.begin() as s:
        o = apply_status(s, _status("gone", 404, T, 999), None)
    assert (o.kind, o.reason) == ("skipped", "unknown_article")
    assert count(archive, Capture) == 0


def test_redirect_to_a_new_article_url_is_a_move(archive) -> None:  # type: ignore[no-untyped-def]
    old = "http://127.0.0.5:8080/the-gioi/tieu-de-cu-4800020"
    new = "http://127.0.0.5:8080/the-gioi/tieu-de-moi-4800021"
    first = put(archive, raw(old), extracted(OTHER_TEXT))
    moved_at = T + dt.timedelta(days=1)
    o = put(archive, raw(old, final_url=new, redirected_from=(old,), when=moved_at), extracted(OTHER_TEXT))
    assert o.article_id == first.article_id
    assert count(archive, Article) == 1
    assert count(archive, Version) == 1
    with archive() as s:
        a = s.get(Article, first.article_id)
        assert (a.status, a.canonical_url) == ("moved", new)
        urls = [u.url for u in a.urls]
        assert old in urls and new in urls
        ev = s.execute(select(ArticleEvent)).scalar_one()
        assert (ev.kind, ev.at, ev.detail) == ("moved", moved_at, f"{old} -> {new}")
    # the new URL fetched directly is the same article
    again = put(archive, raw(new, when=moved_at + dt.timedelta(hours=1)), extracted(OTHER_TEXT))
    assert (again.kind, again.article_id) == ("unchanged", first.article_id)
    assert count(archive, Article) == 1


def test_redirect_between_variants_is_not_a_move(archive) -> None:  # type: ignore[no-untyped-def]
    mobile = "http://127.0.0.6:8080/thoi-su/thu-tuong-chu-tri-phien-hop-4800010"
    first = put(archive, raw(), extracted())
    put(archive, raw(mobile, final_url=URL, redirected_from=(mobile,)), extracted())
    with archive() as s:
        a = s.get(Article, first.article_id)
        assert (a.status, a.canonical_url) == ("live", URL)
        assert s.execute(select(func.count()).select_from(ArticleEvent)).scalar_one() == 0


def _near_copy() -> str:
    paras = TEXT.split("\n\n")
    return "\n\n".join(["(TTXVN) " + paras[0], *paras[1:6], *paras[7:],
                        "Các bộ trưởng sẽ báo cáo kết quả thực hiện tại phiên họp tháng 9."])


def test_syndicated_near_copies_share_a_story(archive) -> None:  # type: ignore[no-untyped-def]
    a = extracted(with_signature=True)
    b = extracted(_near_copy(), title="Chính phủ họp thường kỳ tháng 8", with_signature=True)
    assert 0.5 <= stories.similarity(a.signature, b.signature) < 1.0
    oa = put(archive, raw(), a)
    ob = put(archive, raw("http://127.0.0.2:8080/bai-viet/chinh-phu-hop-thuong-ky-1700123", source="mps"), b, MPS)
    oc = put(archive, raw("http://127.0.0.5:8080/the-thao/bong-da-nu-4800300"),
             extracted(OTHER_TEXT + "\n\n" + OTHER_TEXT.upper(), with_signature=True))
    assert oa.article_id != ob.article_id
    with archive() as s:
        sa, sb, sc = (s.get(Article, o.article_id).story_id for o in (oa, ob, oc))
        assert sa == sb == min(oa.article_id, ob.article_id)
        assert sc is None
        assert s.get(Article, oa.article_id).source_id == "bao" and s.get(Article, ob.article_id).source_id == "mps"
        sig = s.get(ArticleSignature, ob.article_id)
        assert sig.signature == b.signature and sig.shingles == b.shingle_count
        assert s.execute(select(func.count()).select_from(StoryBand)
                         .where(StoryBand.article_id == ob.article_id)).scalar_one() == stories.BANDS


def test_article_without_signature_has_no_story(archive) -> None:  # type: ignore[no-untyped-def]
    put(archive, raw(), extracted(with_signature=True))
    o = put(archive, raw("http://127.0.0.2:8080/bai-viet/ban-sao-1700124", source="mps"), extracted(), MPS)
    with archive() as s:
        assert s.get(Article, o.article_id).story_id is None
    assert count(archive, ArticleSignature, ArticleSignature.article_id == o.article_id) == 0


# ---------------------------------------------------------------- (f) export

def test_export_one_record_per_article(archive) -> None:  # type: ignore[no-untyped-def]
    first = put(archive, raw(), extracted())
    put(archive, raw("http://127.0.0.6:8080/thoi-su/thu-tuong-chu-tri-phien-hop-4800010"), extracted())
    put(archive, raw(URL + "/"), extracted())
    put(archive, raw(when=T + dt.timedelta(hours=2)), extracted(TEXT + "\n\nCập nhật lúc 12h."))
    other = put(archive, raw("http://127.0.0.2:8080/bai-viet/bong-da-1700999", source="mps"),
                extracted(OTHER_TEXT), MPS)
    put(archive, raw("http://127.0.0.5:8080/thoi-su/rong-4800013"), Skipped("too_short"))
    with archive() as s:
        recs = list(iter_records(s))
        assert [r["id"] for r in recs] == [first.article_id, other.article_id]
        for r in recs:
            assert list(r) == FIELDS
        r = recs[0]
        assert r["source"] == "bao" and r["url"] == URL
        assert r["urls"][0] == URL
        assert set(r["urls"]) == {URL, "http://127.0.0.6:8080/thoi-su/thu-tuong-chu-tri-phien-hop-4800010",
                                  URL + "/"}
        assert (r["version"], r["versions"]) == (2, 2)
        assert r["text"].endswith("Cập nhật lúc 12h.")
        assert r["published"] == "2024-08-25T09:30:00+07:00" and r["published_day"] == "2024-08-25"
        assert r["first_seen"] == "2024-08-25T10:00:00+07:00"
        assert r["last_seen"] == "2024-08-25T12:00:00+07:00"
        assert r["captured_at"] == "2024-08-25T12:00:00+07:00"
        assert r["modified"] is None and r["removed_at"] is None
        assert r["status"] == "live" and r["language"] == "vi" and r["author"] == "Phóng viên"
        assert r["title"] == "Thủ tướng chủ trì phiên họp Chính phủ thường kỳ"
        assert len(r["content_sha256"]) == 64
        assert (r["story"], r["story_first"]) == (None, None)
        assert (r["extractor"], r["extractor_version"]) == ("trafilatura", "2.0")
        assert [x["id"] for x in iter_records(s, source="mps")] == [other.article_id]
        assert list(iter_records(s, source="tgvn")) == []


def test_export_versions(archive) -> None:  # type: ignore[no-untyped-def]
    first = put(archive, raw(), extracted())
    put(archive, raw(when=T + dt.timedelta(hours=2)), extracted(TEXT + "\n\nCập nhật."))
    put(archive, raw(when=T + dt.timedelta(hours=3)), extracted(TEXT + "\n\nCập nhật lần 2."))
    with archive() as s:
        recs = list(iter_records(s, versions=True))
        assert [(r["id"], r["version"], r["versions"]) for r in recs] == [(first.article_id, n, 3) for n in (1, 2, 3)]
        assert recs[0]["text"] == TEXT
        assert len({r["content_sha256"] for r in recs}) == 3
        assert recs[1]["captured_at"] == "2024-08-25T12:00:00+07:00"


def test_export_includes_removed_articles(archive) -> None:  # type: ignore[no-untyped-def]
    aid = put(archive, raw(), extracted()).article_id
    with archive.begin() as s:
        apply_status(s, _status("gone", 410, T + dt.timedelta(days=1), aid), None)
    with archive() as s:
        (r,) = list(iter_records(s))
        assert r["status"] == "removed"
        assert r["removed_at"] == "2024-08-26T10:00:00+07:00"


def test_export_story_fields(archive) -> None:  # type: ignore[no-untyped-def]
    oa = put(archive, raw(), extracted(with_signature=True))
    ob = put(archive, raw("http://127.0.0.2:8080/bai-viet/chinh-phu-hop-1700123", source="mps"),
             extracted(_near_copy(), with_signature=True), MPS)
    with archive() as s:
        recs = {r["id"]: r for r in iter_records(s)}
    assert recs[oa.article_id]["story"] == recs[ob.article_id]["story"] == oa.article_id
    # same publication time: the lower id is the first
    assert recs[oa.article_id]["story_first"] is True
    assert recs[ob.article_id]["story_first"] is False


def test_export_of_an_empty_archive(archive) -> None:  # type: ignore[no-untyped-def]
    with archive() as s:
        assert list(iter_records(s)) == []
        assert list(iter_records(s, versions=True)) == []


def test_export_batches(archive) -> None:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(5):
        o = put(archive, raw(f"http://127.0.0.5:8080/thoi-su/bai-{i}-48001{i:02d}"),
                extracted(f"Bài số {i}. " + OTHER_TEXT))
        ids.append(o.article_id)
    with archive() as s:
        assert [r["id"] for r in iter_records(s, batch=2)] == ids


def _figures_by_aggregate(session: Any) -> dict[str, tuple[int, int, int, Any]]:
    """(articles, removed, versions, newest first_seen) of each source, counted from the rows themselves."""
    out: dict[str, tuple[int, int, int, Any]] = {}
    for a in session.execute(select(Article)).scalars():
        n, r, v, newest = out.get(a.source_id, (0, 0, 0, None))
        versions = session.execute(select(func.count()).where(Version.article_id == a.id)).scalar_one()
        out[a.source_id] = (n + 1, r + (a.status == "removed"), v + versions,
                            a.first_seen if newest is None or a.first_seen > newest else newest)
    return out


def _figures_of_stats(session: Any) -> dict[str, tuple[int, int, int, Any]]:
    from storage.reading import stats

    st = stats(session)
    assert st.articles == sum(s.articles for s in st.sources)
    return {s.id: (s.articles, s.removed, s.versions, s.last_new_article) for s in st.sources if s.articles}


def test_stats_figures_follow_every_write(session_factory: Any) -> None:
    """Per-source articles, removed, versions and newest article (counters kept by triggers on SQLite) agree
    with the rows after inserts, new versions, a removal, a move to another source, deletions and a rollback."""
    t0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)

    def article(s: Any, source: str, n: int, versions: int) -> Any:
        a = repo.create_article(s, source, f"http://{source}.test/{n}", t0 + dt.timedelta(hours=n), None)
        for k in range(versions):
            content = repo.Content(title=f"T{n}.{k}", lead="", text=f"Văn bản {n} lần {k}", author=None,
                                   published=None, modified=None, language="vi", page_canonical=None,
                                   extractor="test", extractor_version="1")
            repo.add_version(s, a, content, None, t0 + dt.timedelta(hours=n, minutes=k))
        return a

    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Báo"), ("tinh", "Tỉnh")])
        arts = [article(s, "bao", 1, 2), article(s, "bao", 2, 1), article(s, "tinh", 3, 3), article(s, "bao", 4, 1)]
        ids = [a.id for a in arts]
    with session_factory() as s:
        assert _figures_of_stats(s) == _figures_by_aggregate(s)
        assert _figures_of_stats(s)["bao"][:3] == (3, 0, 4)
    with session_factory.begin() as s:
        s.get(Article, ids[1]).status = "removed"
    with session_factory.begin() as s:
        s.get(Article, ids[2]).source_id = "bao"  # every figure moves with it
    with session_factory.begin() as s:
        s.execute(Article.__table__.delete().where(Article.id == ids[3]))  # bao's newest: the next one is
    with session_factory.begin() as s:
        s.execute(Version.__table__.delete().where(Version.article_id == ids[0], Version.number == 2))
    with session_factory() as s:
        assert _figures_of_stats(s) == _figures_by_aggregate(s)
        assert _figures_of_stats(s)["bao"][:3] == (3, 1, 5) and "tinh" not in _figures_of_stats(s)
    with pytest.raises(RuntimeError), session_factory.begin() as s:
        article(s, "tinh", 5, 2)
        s.flush()
        raise RuntimeError("rolled back")
    with session_factory() as s:
        assert _figures_of_stats(s) == _figures_by_aggregate(s)


@pytest.mark.sqlite_only("the counters are SQLite's (PostgreSQL counts with aggregates)")
def test_stats_counters_follow_a_plain_sqlite3_client(db_url: str, session_factory: Any) -> None:
    """Rows written by another program (no vnarchive code) are counted too, and an archive upgraded from 0007
    gets the counts of what it held."""
    path = Path(db_url.removeprefix("sqlite:///"))
    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Báo")])
    con = sqlite3.connect(path)
    con.execute("INSERT INTO articles (source_id, canonical_url, status, first_seen, last_seen, current_version) "
                "VALUES ('bao', 'http://bao.test/x', 'removed', '2024-05-01 00:00:00.000000', "
                "'2024-05-01 00:00:00.000000', 0)")
    con.commit()
    con.close()
    with session_factory() as s:
        assert _figures_of_stats(s) == _figures_by_aggregate(s) and _figures_of_stats(s)["bao"][:3] == (1, 1, 0)
    from alembic import command

    from storage.migrate import alembic_config

    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
        assert "source_counts" not in set(conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE 'source_counts%'")
            .scalars())
    upgrade(engine)
    engine.dispose()
    with session_factory() as s:
        assert _figures_of_stats(s) == _figures_by_aggregate(s) and _figures_of_stats(s)["bao"][:3] == (1, 1, 0)
