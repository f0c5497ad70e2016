"""`vnarchive show` and `vnarchive stats`, and the read-only engine they use."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from storage import repo
from tests.test_search import T0, put

PLANTED = b"<html><head><title>x</title><script>window.pwned = 1</script></head><body><h1>Trang g\xe1\xbb\x91c</h1></body></html>"


@pytest.fixture
def archive(session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch,
            db_url: str) -> dict[str, int]:
    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    f = session_factory
    a = put(f, "http://bao.test/a", "Bão số 3 đổ bộ", "Gió mạnh cấp 12.", html=PLANTED)
    put(f, "http://bao.test/a", "Bão số 3 đổ bộ Quảng Ninh", "Gió mạnh cấp 13.", when=T0 + dt.timedelta(hours=3))
    b = put(f, "http://tgvn.test/b", "Bão số 3 đổ bộ (bản đăng lại)", "Gió mạnh cấp 12.", source="tgvn")
    gone = put(f, "http://bao.test/gone", "Bài bị gỡ", "Nội dung.")
    with f.begin() as s:
        s.execute(text("UPDATE articles SET story_id = :a WHERE id IN (:a, :b)"), {"a": a, "b": b})
        s.execute(text("UPDATE articles SET status = 'removed', removed_at = '2024-05-02 00:00:00' WHERE id = :i"),
                  {"i": gone})
        repo.add_urls(s, a, [("http://bao.test/a?utm_source=x", "k")], T0)
        ok = repo.start_run(s, "bao", "manual")
        repo.finish_run(s, ok.id, "finished", 0)
        bad = repo.start_run(s, "tgvn", "schedule")
        repo.finish_run(s, bad.id, "failed", 1, error="connection refused\nmore detail")
    return {"a": a, "b": b, "gone": gone}


def invoke(*args: str) -> object:
    from crawler.cli import app

    return CliRunner().invoke(app, list(args))


def test_show_by_id_and_by_any_url(archive: dict[str, int]) -> None:
    for ref in (str(archive["a"]), "http://bao.test/a", "http://bao.test/a/", "http://bao.test/a?utm_source=x"):
        r = invoke("show", ref)
        assert r.exit_code == 0, r.output
        out = r.stdout
        assert "Bão số 3 đổ bộ Quảng Ninh" in out and "Gió mạnh cấp 13." in out
        assert "2 versions" in out and "status live" in out
        assert "http://tgvn.test/b" in out  # the story's other copy
        assert "http://bao.test/a?utm_source=x" in out


def test_show_json_and_an_older_version(archive: dict[str, int]) -> None:
    r = invoke("show", str(archive["a"]), "--json", "--version", "1")
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    assert rec["version"] == 1 and rec["text"] == "Gió mạnh cấp 12."
    assert [v["number"] for v in rec["versions"]] == [1, 2]
    assert all(len(v["content_sha256"]) == 64 for v in rec["versions"])
    assert rec["copies"] == [{"id": archive["b"], "source": "tgvn", "url": "http://tgvn.test/b",
                              "title": "Bão số 3 đổ bộ (bản đăng lại)"}]
    assert rec["published"] == "2024-05-01T10:00:00+07:00"


def test_show_raw_prints_the_archived_html(archive: dict[str, int]) -> None:
    r = invoke("show", str(archive["a"]), "--raw", "--version", "1")
    assert r.exit_code == 0, r.output
    assert r.stdout == PLANTED.decode("utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["show", "999"], "no archived article"),
    (["show", "http://nowhere.test/x"], "no archived article"),
    (["show", "1", "--version", "9"], "has no version 9"),
])
def test_show_errors_are_one_line(archive: dict[str, int], args: list[str], message: str) -> None:
    r = invoke(*args)
    assert r.exit_code == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_removed_article_shows_its_status(archive: dict[str, int]) -> None:
    r = invoke("show", str(archive["gone"]))
    assert r.exit_code == 0 and "status removed since 2024-05-02" in r.stdout


def test_stats(archive: dict[str, int]) -> None:
    r = invoke("stats", "--json")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    by = {x["source"]: x for x in rows if "source" in x}
    total = rows[-1]["total"]
    assert (by["bao"]["articles"], by["bao"]["versions"], by["bao"]["removed"]) == (2, 3, 1)
    assert by["bao"]["health"] == "ok" and by["bao"]["failures"] == 0
    assert by["tgvn"]["health"] == "failing" and by["tgvn"]["failures"] == 1
    assert by["tgvn"]["last_error"].startswith("connection refused")
    assert by["bao"]["last_new_article"].endswith("+07:00") and by["bao"]["last_crawl"]
    assert (total["articles"], total["versions"], total["removed"], total["runs"]) == (3, 4, 1, 2)
    assert total["database_bytes"] > 0
    r = invoke("stats")
    assert r.exit_code == 0 and "database" in r.stdout and "failing" in r.stdout
    assert "tgvn: last failure: connection refused" in r.stdout


def test_reader_cannot_write(db_url: str, archive: dict[str, int]) -> None:
    from storage.inspect import open_reader

    engine = open_reader(db_url)
    with engine.connect() as conn, pytest.raises(OperationalError, match="readonly|read-only|query_only"):
        conn.execute(text("DELETE FROM articles"))
    engine.dispose()


def test_reader_does_not_wait_for_a_writer(db_url: str, session_factory: sessionmaker[Session],
                                           archive: dict[str, int]) -> None:
    """A crawl holds the write lock for a transaction at a time; search and the web view must not queue."""
    from storage.inspect import open_reader
    from storage.search import search

    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with session_factory.begin() as s:
            s.execute(text("UPDATE articles SET last_seen = last_seen"))
            holding.set()
            release.wait(20)

    t = threading.Thread(target=writer)
    t.start()
    assert holding.wait(10)
    engine = open_reader(db_url)
    started = time.monotonic()
    try:
        with Session(engine) as s:
            assert [h.id for h in search(s, "bao so 3")]
    finally:
        release.set()
        t.join()
        engine.dispose()
    assert time.monotonic() - started < 2


def test_reader_refuses_a_missing_file(tmp_path: object) -> None:
    from storage.db import ArchiveError
    from storage.inspect import open_reader

    with pytest.raises(ArchiveError, match="does not exist"):
        open_reader(f"sqlite:///{tmp_path}/none.db")
