"""The template rows' kinds and the extraction workers' index of titles and leads (pipelines.template_store)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from pipelines import template as tpl
from pipelines import template_keys
from pipelines import template_store as tpl_store
from pipelines.items import Extracted

NOW = dt.datetime(2024, 10, 3, 8, 0, tzinfo=dt.UTC)
BLOCKS = ("Tin đọc nhiều", "Chia sẻ bài viết", "Cỡ chữ: A- A+")


def page(i: int) -> Extracted:
    """A new article's extraction: its own title, lead and paragraphs, and the site's furniture blocks."""
    title = f"Tỉnh Lào Cai khánh thành cầu dân sinh số {i} qua suối Nậm Thi ở xã vùng cao biên giới"
    lead = (f"Sáng nay, Ủy ban nhân dân tỉnh đưa vào sử dụng cây cầu thứ {i} của chương trình, giúp hàng trăm hộ "
            "dân đi lại an toàn trong mùa mưa lũ.")
    text = "\n\n".join([lead, *(f"Đoạn {j} của bài {i}: người dân vùng cao phấn khởi đón công trình mới." for j in
                                range(4))])
    return Extracted(title=title, lead=lead, text=text, author=None, published=NOW, modified=None, language="vi",
                     page_canonical=None, blocks=(*BLOCKS, *text.split("\n\n")))


def learn(factory: sessionmaker[Session], source_id: str, pages: range) -> None:
    from storage import repo

    with factory.begin() as s:
        repo.ensure_sources(s, [(source_id, source_id)])
    for i in pages:
        with factory.begin() as s:
            tpl_store.learn_page(s, source_id, page(i), NOW + dt.timedelta(minutes=i))


def test_each_row_says_its_kind_as_its_hash_was_made() -> None:
    learnt = tpl.page_hashes(page(1))
    ex = page(1)
    assert learnt[tpl.block_hash(tpl.text_key(ex.title), "t")] == ("t", ex.title)
    assert learnt[tpl.block_hash(tpl.block_key(BLOCKS[0]))] == ("b", BLOCKS[0])
    assert {k for k, _ in learnt.values()} == {"b", "t", "l"}


def test_stored_rows_keep_their_kind(session_factory: sessionmaker[Session]) -> None:
    from storage.models import TemplateBlock

    learn(session_factory, "so", range(2))
    with session_factory() as s:
        kinds = dict(s.execute(select(TemplateBlock.block_hash, TemplateBlock.kind)).all())
    assert kinds == {h: k for i in range(2) for h, (k, _) in tpl.page_hashes(page(i)).items()}


def test_the_index_passes_over_blocks_but_reads_rows_of_unknown_kind() -> None:
    """Rows learnt before the kind was stored (NULL) are read back from their samples, as always."""
    ex = page(3)
    rows = [(h, 1, sample, kind) for h, (kind, sample) in tpl.page_hashes(ex).items()]
    typed, untyped = template_keys.known_keys(rows), template_keys.known_keys([(*r[:3], None) for r in rows])
    assert typed is not None and untyped is not None
    assert typed.titles == untyped.titles == {tpl.text_key(ex.title): 1}
    assert typed.leads == untyped.leads and len(typed.leads) == 1
    long_block = ("b" * 300, 1, "x" * template_keys.SAMPLE_CHARS, "b")  # a cut block is no title either
    assert template_keys.known_keys([*rows, long_block]) == typed


def test_pruning_never_deletes_the_tables_last_row(session_factory: sessionmaker[Session]) -> None:
    """SQLite hands out max(rowid) + 1: the last row deleted, its rowid would come back, and a worker's index,
    which reads only the rows past the top rowid it saw, would miss the row that took it."""
    from storage.models import TemplateBlock

    if session_factory.kw["bind"].dialect.name != "sqlite":
        pytest.skip("rowids are SQLite's")
    learn(session_factory, "so", range(3))
    rowid = literal_column("rowid")
    with session_factory.begin() as s:
        top = s.execute(select(func.max(rowid)).select_from(TemplateBlock.__table__)).scalar()
        forgotten = tpl_store.prune_blocks(s, "so", NOW + dt.timedelta(days=1), max_pages=1)
        left = s.execute(select(func.max(rowid)).select_from(TemplateBlock.__table__)).scalar()
    assert forgotten > 0 and left == top


def test_another_sources_pruning_does_not_read_this_sources_index_again(
        session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    if session_factory.kw["bind"].dialect.name != "sqlite":
        pytest.skip("the index is the SQLite workers'")
    monkeypatch.setattr(tpl_store, "_KNOWN", {})
    monkeypatch.setattr(tpl_store, "PRUNE_EVERY", 4)
    whole: list[str] = []
    real_add = template_keys.KnownKeys.add

    def add(self: template_keys.KnownKeys, rows: list[tuple[str, int, str, str | None]],
            cached: bool = False) -> bool:
        if not cached:
            whole.append("read")
        return real_add(self, rows, cached)

    monkeypatch.setattr(template_keys.KnownKeys, "add", add)
    learn(session_factory, "a", range(2))
    learn(session_factory, "b", range(3))
    with session_factory() as s:
        assert tpl_store.apply_stored(s, "a", page(9), indexed=True) is not None
    learn(session_factory, "b", range(3, 5))  # b passes a pruning boundary (4 pages)
    learn(session_factory, "a", range(2, 3))
    with session_factory() as s:
        got, probed = (tpl_store.apply_stored(s, "a", page(9), indexed=flag) for flag in (True, False))
    assert isinstance(got, Extracted) and isinstance(probed, Extracted) and got.text == probed.text
    assert whole == ["read"]  # a's rows read whole once; after b's pruning, only the rows added since
    learn(session_factory, "a", range(3, 4))  # a's own boundary: its rows may be gone, read whole again
    with session_factory() as s:
        tpl_store.apply_stored(s, "a", page(9), indexed=True)
    assert whole == ["read", "read"]


def test_an_archive_of_before_the_kind_upgrades_and_its_rows_learn_their_kind(db_url: str) -> None:
    """Migration 0009 adds the column to a populated archive; old rows stay NULL (read as before) until a page
    counts them again."""
    from alembic import command

    from storage.db import make_engine, make_session_factory
    from storage.migrate import alembic_config, upgrade
    from storage.models import TemplateBlock

    engine = make_engine(db_url)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
        conn.exec_driver_sql("INSERT INTO sources (id, name, created_at) VALUES ('so', 'so', '2024-10-03 08:00:00')")
        conn.exec_driver_sql("INSERT INTO template_blocks (source_id, block_hash, pages, sample, last_seen) VALUES "
                             f"('so', '{tpl.block_hash(tpl.block_key(BLOCKS[0]))}', 4, '{BLOCKS[0]}', "
                             "'2024-10-03 08:00:00')")
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        assert s.execute(select(TemplateBlock.kind, TemplateBlock.pages)).all() == [(None, 4)]
    learn(factory, "so", range(1))
    with factory() as s:
        row = s.get(TemplateBlock, ("so", tpl.block_hash(tpl.block_key(BLOCKS[0]))))
        assert row is not None and (row.kind, row.pages) == ("b", 5)
    engine.dispose()


def test_learnt_rows_hold_what_the_orm_would_write(session_factory: sessionmaker[Session]) -> None:
    """On SQLite a page's rows go through the driver's executemany (``_sqlite_count_blocks``): the same values,
    the time stamp in the form the ORM's type writes it (a zone other than UTC converted), as an ORM row."""
    from sqlalchemy import text

    from storage.models import TemplateBlock

    when = dt.datetime(2024, 10, 3, 15, 30, 12, 345678, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    learn(session_factory, "so", range(0))
    with session_factory.begin() as s:
        tpl_store.learn_page(s, "so", page(1), when)
        s.add(TemplateBlock(source_id="so", block_hash="f" * 32, pages=1, sample="x", last_seen=when, kind="b"))
    with session_factory() as s:
        raw = s.execute(text("SELECT block_hash, pages, sample, kind, last_seen FROM template_blocks")).all()
        stamps = {r.last_seen for r in raw}
        assert len(stamps) == 1  # the ORM's row and the page's rows alike
        back = {r.block_hash: r for r in s.execute(select(TemplateBlock)).scalars()}
    assert {(r.block_hash, r.pages, r.sample, r.kind) for r in raw if r.block_hash != "f" * 32} == {
        (h, 1, sample, kind) for h, (kind, sample) in tpl.page_hashes(page(1)).items()}
    assert all(r.last_seen == when for r in back.values())
    with session_factory.begin() as s:  # counted again: the upsert adds a page
        tpl_store.learn_page(s, "so", page(1), when)
    with session_factory() as s:
        assert {r.pages for r in s.execute(select(TemplateBlock)).scalars() if r.block_hash != "f" * 32} == {2}
