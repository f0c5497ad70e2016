"""History you can trust (issue 10), at the storage level: a byte-identical refetch is unchanged without an
extraction, the template table is pruned on a schedule, the crawl asks the archive in batches."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import func, insert, select

from crawler.revisit_store import ArchiveView
from pipelines import template_store as tpl_store
from pipelines.archive import archive_page, archive_same_bytes, key_for
from storage import repo
from storage.models import Article, ArticleUrl, Capture, TemplateBlock, TemplatePages, Version
from tests.test_storage import BAO, URL, extracted, raw

T = dt.datetime(2024, 8, 25, 3, 0, tzinfo=dt.UTC)


def _archive(session_factory: Any) -> Any:
    with session_factory.begin() as s:
        repo.ensure_sources(s, [("bao", "Báo"), ("mps", "Bộ")])
    return session_factory


def test_same_bytes_is_unchanged_without_extraction(session_factory: Any) -> None:
    f = _archive(session_factory)
    body = b"<html><body>bai viet, ngay 25/8</body></html>"
    with f.begin() as s:
        first = archive_page(s, BAO, raw(body=body), extracted(), None)
    assert first.kind == "new"
    sha = hashlib.sha256(body).hexdigest()
    later = T + dt.timedelta(days=1)
    with f.begin() as s:
        # found again under a tracking-parameter variant: the same article, the same bytes
        out = archive_same_bytes(s, BAO, raw(URL + "?utm_source=zalo", body=body, when=later), sha, None)
    assert out is not None and (out.kind, out.reason, out.article_id) == ("unchanged", "same_bytes", first.article_id)
    with f() as s:
        assert s.execute(select(func.count()).select_from(Version)).scalar() == 1
        caps = s.execute(select(Capture.outcome, Capture.body.is_(None), Capture.body_sha256)
                         .order_by(Capture.id)).all()
        assert caps == [("archived", False, sha), ("unchanged", True, sha)]  # the hash kept, not the bytes again
        a = s.get(Article, first.article_id)
        assert a is not None and a.last_fetched == later
    other = b"<html><body>bai viet, ngay 26/8</body></html>"
    with f.begin() as s:  # other bytes (a date bar changed): the full way, extraction decides
        assert archive_same_bytes(s, BAO, raw(body=other), hashlib.sha256(other).hexdigest(), None) is None
    with f.begin() as s:  # an unknown URL: not this rule's business
        assert archive_same_bytes(s, BAO, raw("http://127.0.0.5:8080/thoi-su/khac-4800011", body=body),
                                  sha, None) is None


def test_unchanged_instant_in_another_offset_is_no_version(session_factory: Any) -> None:
    f = _archive(session_factory)
    with f.begin() as s:
        archive_page(s, BAO, raw(body=b"<p>1</p>"), extracted(), None)
    ex = extracted()
    utc = dataclasses.replace(ex, published=ex.published.astimezone(dt.UTC) if ex.published else None)
    with f.begin() as s:
        assert archive_page(s, BAO, raw(body=b"<p>2</p>", when=T + dt.timedelta(hours=1)), utc, None).kind == \
            "unchanged"


def test_a_later_modification_time_with_the_same_words_is_a_version(session_factory: Any) -> None:
    """The page now says it was updated (the simulator's and the real sites' "Cập nhật" after an edit that
    leaves the words alone): a version.  The same time again, or the page's render time, is not."""
    f = _archive(session_factory)
    ex = extracted()
    assert ex.published is not None
    with f.begin() as s:
        assert archive_page(s, BAO, raw(body=b"<p>1</p>"), ex, None).kind == "new"
    later = dataclasses.replace(ex, modified=ex.published + dt.timedelta(days=10))
    day2 = T + dt.timedelta(days=12)
    with f.begin() as s:
        out = archive_page(s, BAO, raw(body=b"<p>2</p>", when=day2), later, None)
    assert (out.kind, out.version) == ("updated", 2)
    with f.begin() as s:  # the same statement again: nothing new
        assert archive_page(s, BAO, raw(body=b"<p>3</p>", when=day2 + dt.timedelta(days=1)), later, None).kind \
            == "unchanged"
    rendered_at = day2 + dt.timedelta(days=2)
    now = dataclasses.replace(ex, modified=rendered_at + dt.timedelta(seconds=20))
    with f.begin() as s:  # "modified" = the moment we fetched: the page's render time, no edit
        assert archive_page(s, BAO, raw(body=b"<p>4</p>", when=rendered_at), now, None).kind == "unchanged"
    older = dataclasses.replace(ex, extractor_version="0.9/old", modified=ex.published + dt.timedelta(days=20))
    with f.begin() as s:  # compared across extractors it would be the extractor, not the page: no version
        assert archive_page(s, BAO, raw(body=b"<p>5</p>", when=rendered_at), older, None).kind == "unchanged"


def test_a_server_last_modified_is_the_modification_time_of_a_page_that_states_none(session_factory: Any) -> None:
    """An old portal says an edit only in its Last-Modified header: that is the version's ``modified``, and a
    later one with the same words is a version; a Last-Modified at the fetch (a render time) is nothing."""
    f = _archive(session_factory)
    ex = extracted()
    assert ex.published is not None and ex.modified is None

    def page(body: bytes, when: dt.datetime, last_modified: dt.datetime) -> Any:
        r = raw(body=body, when=when)
        r.headers["Last-Modified"] = last_modified.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        return r

    day0 = ex.published + dt.timedelta(days=2)
    with f.begin() as s:
        first = archive_page(s, BAO, page(b"<p>1</p>", day0, ex.published + dt.timedelta(seconds=38)), ex, None)
    with f() as s:
        v1 = s.execute(select(Version).where(Version.article_id == first.article_id)).scalar_one()
        assert v1.modified == ex.published + dt.timedelta(seconds=38)
    day2 = day0 + dt.timedelta(days=10)
    with f.begin() as s:
        out = archive_page(s, BAO, page(b"<p>2</p>", day2, day2 - dt.timedelta(days=3)), ex, None)
    assert (out.kind, out.version) == ("updated", 2)
    day3 = day2 + dt.timedelta(days=1)
    with f.begin() as s:  # a dynamic page: Last-Modified is the moment it was served
        assert archive_page(s, BAO, page(b"<p>3</p>", day3, day3), ex, None).kind == "unchanged"
    with f.begin() as s:  # a page cache rebuilt an hour ago: not an edit either
        assert archive_page(s, BAO, page(b"<p>4</p>", day3, day3 - dt.timedelta(hours=1)), ex, None).kind == \
            "unchanged"


def _word(i: int) -> str:
    return "".join("abcdefghij"[int(d)] for d in str(i))  # block keys ignore digits: a word per article


def test_template_blocks_are_pruned_on_a_schedule(session_factory: Any, monkeypatch: Any) -> None:
    f = _archive(session_factory)
    monkeypatch.setattr(tpl_store, "PRUNE_EVERY", 10)
    monkeypatch.setattr(tpl_store, "PRUNE_WINDOW", 5)
    menu = "Trang chủ | Thời sự | Thế giới | Kinh tế"
    for i in range(1, 31):
        when = T + dt.timedelta(minutes=i)
        ex = dataclasses.replace(extracted(), title=f"Bài số {i} về phiên họp Chính phủ thường kỳ",
                                 blocks=(menu, f"Đoạn chỉ có ở bài {_word(i)}, không lặp lại ở đâu"))
        with f.begin() as s:
            s.add(Article(source_id="bao", canonical_url=f"http://x.vn/a-{i}", status="live", first_seen=when,
                          last_seen=when, current_version=1))
            s.flush()
            tpl_store.learn_page(s, "bao", ex, when)
    with f() as s:
        rows = dict(s.execute(select(TemplateBlock.sample, TemplateBlock.pages)
                              .where(TemplateBlock.source_id == "bao")).all())
        assert s.execute(select(TemplatePages.pages)).scalar() == 30
    assert rows[menu] == 30  # the template stays
    once = [k for k in rows if k.startswith("Đoạn chỉ có")]
    # pruned at 10, 20 and 30 pages: what was seen once and not in the last 5 new articles went
    assert 0 < len(once) <= 10, len(once)
    assert f"Đoạn chỉ có ở bài {_word(30)}, không lặp lại ở đâu" in rows  # the latest are kept


def test_archive_view_looks_up_in_batches_and_picks_oldest_first(db_url: str, session_factory: Any) -> None:
    f = _archive(session_factory)
    n = 1234
    with f.begin() as s:
        s.execute(insert(Article), [dict(id=i, source_id="bao", canonical_url=f"http://127.0.0.5:8080/x/a-{i}",
                                         status="moved" if i == 3 else "live", first_seen=T, last_seen=T,
                                         last_fetched=T + dt.timedelta(minutes=(n - i) % 97), published=T,
                                         current_version=1) for i in range(1, n + 1)])
        s.execute(insert(ArticleUrl), [dict(url=f"http://127.0.0.5:8080/x/a-{i}",
                                            key=key_for(BAO, f"http://127.0.0.5:8080/x/a-{i}"), article_id=i,
                                            first_seen=T) for i in range(1, n + 1)])
    view = ArchiveView(db_url)
    keys = [key_for(BAO, f"http://127.0.0.5:8080/x/a-{i}") for i in range(1, n + 1)] + ["nope/x"]
    known = view.known("bao", keys)
    assert len(known) == n and known[keys[9]].article_id == 10
    assert view.known("mps", keys) == {}  # another source's articles are not this source's
    order = [(k.last_fetched, k.article_id) for k in view.candidates("bao")]
    assert len(order) == n and order == sorted(order)  # oldest check first, every batch
    assert list(view.candidates("bao", seen_before=T)) == []  # all first seen at T: none before it
    assert view.live_count("bao") == n  # moved to a new URL is still online
