"""Real crawls (`vnarchive crawl` in a subprocess) of a loopback site that changes between crawls."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Page, archive_sql, run_cli
from tests.sitefixture import article_html, build_site, paragraphs, sitemap_xml, sources_toml

pytestmark = pytest.mark.slow


def _counts(url: str) -> dict[str, int]:
    con = archive_sql(url)
    try:
        q = {"articles": "select count(*) from articles", "versions": "select count(*) from versions",
             "removed": "select count(*) from articles where status='removed'",
             "moved": "select count(*) from articles where status='moved'",
             "skipped": "select count(*) from skipped_pages"}
        return {k: con.execute(v).fetchone()[0] for k, v in q.items()}
    finally:
        con.close()


def _article_requests(site, since: int) -> list[str]:
    return [p for p in site.paths_requested()[since:] if p.startswith("/bai-viet/bai-so-")]


def test_crawl_recrawl_and_changes(serve_site, tmp_path: Path, fresh_db: Callable[..., str]) -> None:
    site = serve_site(build_site())
    (tmp_path / "sources.toml").write_text(sources_toml(site.base), encoding="utf-8")
    db = fresh_db()
    env = {"VNARCHIVE_DB": db, "VNARCHIVE_SOURCES": str(tmp_path / "sources.toml")}

    # day 0: everything discovered once, variants collapsed, non-articles skipped, robots obeyed
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    assert "fixture" in r.stdout and "finished" in r.stdout
    c = _counts(db)
    assert c["articles"] == 6 and c["versions"] == 6
    assert not any(p.startswith("/private/") for p in site.paths_requested())
    con = archive_sql(db)
    reasons = dict(con.execute("select url, reason from skipped_pages").fetchall())
    assert reasons[f"{site.base}/bai-viet/khong-ton-tai-98.html"] == "soft_404"
    assert reasons[f"{site.base}/bai-viet/video-99.html"] in ("video_page", "no_article_text")
    con.close()

    out = tmp_path / "export.jsonl"
    r = run_cli("export", "--format", "jsonl", "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in out.open(encoding="utf-8")]
    assert len(rows) == 6
    first = next(x for x in rows if x["url"].endswith("/bai-so-1.html"))
    assert first["title"] == "Hội nghị số 1 về an ninh trật tự tại Bình Định"
    assert first["author"] == "Nguyễn Văn An"
    assert first["published"] == "2024-10-02T01:15:00+07:00"
    assert first["status"] == "live" and first["version"] == 1
    assert "Chia sẻ" not in first["text"] and "Tin liên quan" not in first["text"]
    assert "Nguyễn Văn An" not in first["text"]
    assert first["text"].count("\n\n") == 5  # six paragraphs, blank-line separated

    # unchanged web: nothing new, known articles not fetched again
    mark = len(site.log)
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    assert _counts(db)["versions"] == 6
    assert _article_requests(site, mark) == []

    # a day passes: 3 edited, 4 removed, 5 moved, 6 touched in the sitemap but unchanged (answers 304)
    site.pages["/bai-viet/bai-so-3.html"] = Page(
        article_html(3, "Hội nghị số 3 về an ninh trật tự tại Bình Định (cập nhật)", paragraphs(3) + paragraphs(33, 1)),
        headers={"Content-Type": "text/html; charset=utf-8", "ETag": '"a3-v2"'})
    del site.pages["/bai-viet/bai-so-4.html"]
    moved = site.pages.pop("/bai-viet/bai-so-5.html")
    site.pages["/bai-viet/bai-moi-so-5.html"] = Page(moved.body.replace(b"/bai-viet/bai-so-5.html",
                                                                        b"/bai-viet/bai-moi-so-5.html"))
    site.pages["/bai-viet/bai-so-5.html"] = Page(b"", 301, {"Location": "{base}/bai-viet/bai-moi-so-5.html"})
    site.pages["/sitemap.xml"] = Page(sitemap_xml([
        ("/bai-viet/bai-so-1.html", "2024-10-03T08:00:00+07:00"), ("/bai-viet/bai-so-2.html", "2024-10-03T08:00:00+07:00"),
        ("/bai-viet/bai-so-3.html", "2024-10-04T09:00:00+07:00"), ("/bai-viet/bai-moi-so-5.html", "2024-10-04T09:00:00+07:00"),
        ("/bai-viet/bai-so-6.html", "2024-10-04T09:00:00+07:00")]))
    r = run_cli("crawl", "fixture", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    c = _counts(db)
    assert c["articles"] == 6, "a moved article must not become a second article"
    assert c["versions"] == 7
    assert c["removed"] == 1 and c["moved"] == 1
    con = archive_sql(db)
    statuses = [s for (s,) in con.execute("select status from captures where url like '%bai-so-6.html'")]
    assert 304 in statuses, "an unchanged revisit is a conditional request answered 304"
    con.close()

    r = run_cli("export", "--format", "jsonl", "--versions", "--out", str(out), env=env)
    rows = [json.loads(line) for line in out.open(encoding="utf-8")]
    v3 = [x for x in rows if x["url"].endswith("/bai-so-3.html")]
    assert [x["version"] for x in v3] == [1, 2]
    assert v3[1]["title"].endswith("(cập nhật)") and not v3[0]["title"].endswith("(cập nhật)")
    gone = [x for x in rows if x["url"].endswith("/bai-so-4.html")]
    assert gone and all(x["status"] == "removed" for x in gone)
    five = [x for x in rows if any(u.endswith("bai-so-5.html") for u in x["urls"])]
    assert len(five) == 1 and five[0]["status"] == "moved"
    assert five[0]["url"].endswith("/bai-moi-so-5.html")

    r = run_cli("diff", five[0]["url"].replace("bai-moi-so-5", "bai-so-3"), "--no-color", env=env)
    assert r.returncode == 0, r.stderr
    assert "(cập nhật)+}" in r.stdout
    assert "\x00" not in r.stdout and "\x01" not in r.stdout


def test_unknown_source_is_one_clean_line(tmp_path: Path, fresh_db: Callable[..., str]) -> None:
    (tmp_path / "s.toml").write_text(sources_toml("http://127.0.0.1:9"), encoding="utf-8")
    r = run_cli("crawl", "nope", env={"VNARCHIVE_DB": fresh_db("a.db"),
                                      "VNARCHIVE_SOURCES": str(tmp_path / "s.toml")})
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error:") and "fixture" in r.stderr
    assert "Traceback" not in r.stderr
