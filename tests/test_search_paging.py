"""Search ranking tiers (found with the letters as typed, then by folding; words side by side, then apart),
totals and paging, in the library and in `vnarchive search`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session, sessionmaker

from storage.search import count, search
from tests.test_search import pg_factory, put  # noqa: F401  (pg_factory: a fixture)


def make_tiers(f: sessionmaker[Session]) -> dict[str, int]:
    return {
        # "đã ... năng" apart, in the title: the best bm25 of all, but neither exact nor a phrase
        "apart": put(f, "http://bao.test/1", "Đã có năng lực mới", "Đã có năng lực cán bộ, năng suất."),
        "phrase": put(f, "http://bao.test/2", "Du lịch miền Trung", "Khách đến Đà Nẵng đông."),
        "exact": put(f, "http://bao.test/3", "Tin tiếng Anh", "Visitors flock to Da Nang beaches."),
        "other": put(f, "http://bao.test/4", "Huế mưa", "Không liên quan."),
    }


@pytest.fixture
def tiers(session_factory: sessionmaker[Session]) -> dict[str, int]:
    return make_tiers(session_factory)


def ids(f: sessionmaker[Session], q: str, **kw: int) -> list[int]:
    with f() as s:
        return [h.id for h in search(s, q, **kw)]


def test_exact_letters_first_then_phrase_then_apart(session_factory: sessionmaker[Session],
                                                    tiers: dict[str, int]) -> None:
    assert ids(session_factory, "da nang") == [tiers["exact"], tiers["phrase"], tiers["apart"]]
    with session_factory() as s:
        assert [h.match for h in search(s, "da nang")] == ["exact", "folded", "folded"]
        assert [h.record()["match"] for h in search(s, "Đà Nẵng")] == ["exact"]
        assert count(s, "da nang") == 3 and count(s, "Đà Nẵng") == 1 and count(s, "nothing here") == 0
        assert count(s, "da nang", source="nope") == 0


def test_postgresql_ranks_and_counts_the_same(pg_factory: sessionmaker[Session]) -> None:  # noqa: F811
    t = make_tiers(pg_factory)
    assert ids(pg_factory, "da nang") == [t["exact"], t["phrase"], t["apart"]]
    with pg_factory() as s:
        assert [h.match for h in search(s, "da nang")] == ["exact", "folded", "folded"]
        assert count(s, "da nang") == 3 and count(s, "Đà Nẵng") == 1 and count(s, "da nang", source="bao") == 3
        assert [h.id for h in search(s, "da nang", limit=1, offset=1)] == [t["phrase"]]


def test_pages_cover_every_hit_once(session_factory: sessionmaker[Session], tiers: dict[str, int]) -> None:
    for i in range(30):
        put(session_factory, f"http://bao.test/n{i}", f"Đà Nẵng tin {i}", "Đà Nẵng.")
    with session_factory() as s:
        total = count(s, "da nang")
        assert total == 33
        pages = [search(s, "da nang", limit=7, offset=o) for o in range(0, total, 7)]
        got = [h.id for p in pages for h in p]
        assert len(got) == total == len(set(got)) and got == [h.id for h in search(s, "da nang", limit=100)]
        assert search(s, "da nang", limit=7, offset=total) == []
        with pytest.raises(ValueError, match="offset must be"):
            search(s, "da nang", offset=-1)


def test_cli_prints_the_total(db_url: str, tiers: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from crawler.cli import app

    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    r = CliRunner().invoke(app, ["search", "da", "nang", "--limit", "2"])
    assert r.exit_code == 0, r.output
    assert "3 articles match; the best 2 shown (raise --limit for more)" in r.stdout
    r = CliRunner().invoke(app, ["search", "Đà", "Nẵng"])
    assert "1 article matches" in r.stdout and "shown" not in r.stdout
    r = CliRunner().invoke(app, ["search", "da", "nang", "--json"])
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["id"] for x in rows] == [tiers["exact"], tiers["phrase"], tiers["apart"]]
    assert [x["match"] for x in rows] == ["exact", "folded", "folded"]
