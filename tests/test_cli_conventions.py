"""CLI conventions (issue 13): --version, the packaged sources file found from anywhere, unknown --source is an
error, URL forms resolved as history does, --raw bytes exact, --json on the commands that print data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import BACKEND, ROOT, Page, archive_sql, assert_no_archive
from tests.sitefixture import paragraphs


def invoke(*args: str, env: dict[str, str] | None = None) -> object:
    from crawler.cli import app

    return CliRunner().invoke(app, list(args), env=env)


def test_version() -> None:
    r = invoke("--version")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("vnarchive 0.") and "trafilatura" in r.stdout


def test_packaged_sources_found_outside_the_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VNARCHIVE_SOURCES"}
    r = subprocess.run([sys.executable, "-m", "crawler", "sources", "--json"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ids = [json.loads(line)["id"] for line in r.stdout.splitlines()]
    assert len(ids) >= 9 and "baochinhphu" in ids
    # VNARCHIVE_SOURCES still wins
    r = subprocess.run([sys.executable, "-m", "crawler", "sources", "--json"], cwd=tmp_path, capture_output=True,
                       env={**env, "VNARCHIVE_SOURCES": str(ROOT / "config" / "vnweb.toml")}, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "baochinhphu" not in r.stdout and len(r.stdout.splitlines()) == 4


def test_packaged_sources_is_package_data() -> None:
    import tomllib

    from config.settings import DEFAULT_SOURCES, PACKAGED_SOURCES

    assert Path(DEFAULT_SOURCES) == PACKAGED_SOURCES and PACKAGED_SOURCES.is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.toml" in pyproject["tool"]["setuptools"]["package-data"]["config"]


# ---------------------------------------------------------------- vnarchive try

def _try_site(serve_site: Any, tmp_path: Path, db: str | None = None) -> tuple[Any, dict[str, str]]:
    from tests.sitefixture import build_site, sources_toml

    pages = build_site()
    pages["/moved"] = Page(b"", 301, {"Location": "/bai-viet/bai-so-2.html"})
    site = serve_site(pages)
    (tmp_path / "s.toml").write_text(sources_toml(site.base), encoding="utf-8")
    return site, {"VNARCHIVE_SOURCES": str(tmp_path / "s.toml"),
                  "VNARCHIVE_DB": db or f"sqlite:///{tmp_path / 'no.db'}"}


def test_try_an_article_url(serve_site: Any, tmp_path: Path, fresh_db: Callable[..., str]) -> None:
    url = fresh_db("no.db")
    site, env = _try_site(serve_site, tmp_path, url)
    r = invoke("try", f"{site.base}/bai-viet/bai-so-3.html", env=env)
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "fixture (Báo Thử Nghiệm), chosen by allowed_domains" in out
    assert "verdict    article" in out and "bai-viet" in out
    assert "Hội nghị số 3 về an ninh trật tự tại Bình Định" in out
    assert "Báo Thử Nghiệm" not in out.split("title", 1)[1].splitlines()[0]  # the site name is cut
    assert "published  2024-10-01T03:15:00+07:00" in out
    assert "Chia sẻ" not in out and "Tin liên quan" not in out  # the article only
    assert site.paths_requested() == ["/bai-viet/bai-so-3.html"]
    # try never touches the archive
    assert_no_archive(url)  # the archive was not created either


def test_try_json_a_listing_and_a_redirect(serve_site: Any, tmp_path: Path) -> None:
    site, env = _try_site(serve_site, tmp_path)
    r = invoke("try", f"{site.base}/chuyen-muc/tin-tuc?page=2", "--json", env=env)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["source"] == "fixture" and rep["verdict"]["verdict"] == "listing"
    assert rep["verdict"]["pattern"] == "/chuyen-muc/[a-z-]+(\\?page=\\d+)?$"
    d = rep["discovery"]
    assert d["followed"] and d["articles"] == [f"{site.base}/bai-viet/bai-so-4.html",
                                               f"{site.base}/bai-viet/bai-so-1.html?utm_source=facebook&utm_medium=social"]
    assert rep["extraction"]["article"] is False and rep["extraction"]["skipped"]
    r = invoke("try", f"{site.base}/moved", "--json", env=env)
    rep = json.loads(r.stdout)
    assert rep["verdict"]["verdict"] == "other" and rep["redirects"] == [f"{site.base}/moved"]
    assert rep["final_verdict"]["verdict"] == "article"
    assert rep["extraction"]["title"] == "Hội nghị số 2 về an ninh trật tự tại Bình Định"
    assert rep["extraction"]["text"].startswith(paragraphs(2)[0][:40])


def test_try_a_saved_file_and_off_site(serve_site: Any, tmp_path: Path) -> None:
    from tests.sitefixture import article_html

    site, env = _try_site(serve_site, tmp_path)
    saved = tmp_path / "page.html"
    saved.write_bytes(article_html(5, "Bài đã lưu về giao thông nông thôn", paragraphs(5)))
    r = invoke("try", str(saved), "--url", f"{site.base}/bai-viet/bai-so-5.html", "--json", env=env)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["file"] == str(saved) and rep["verdict"]["verdict"] == "article"
    assert rep["extraction"]["title"] == "Bài đã lưu về giao thông nông thôn"
    assert site.paths_requested() == []
    r = invoke("try", str(saved), env=env)
    assert r.exit_code == 2 and "--url" in r.stderr
    r = invoke("try", str(saved), "--url", "https://other.example/x.html", "--json", env=env)
    assert json.loads(r.stdout)["verdict"]["verdict"] == "off-site"


def test_try_refuses_what_a_crawl_refuses(serve_site: Any, tmp_path: Path, monkeypatch: Any) -> None:
    site, env = _try_site(serve_site, tmp_path)
    monkeypatch.delenv("VNARCHIVE_ALLOW_ADDRESSES", raising=False)
    port = site.base.rsplit(":", 1)[1]
    # by name, loopback is internal: refused unless VNARCHIVE_ALLOW_ADDRESSES opens it
    r = invoke("try", f"http://localhost:{port}/bai-viet/bai-so-1.html", env=env)
    assert r.exit_code == 1 and "refused" in r.stderr and "loopback" in r.stderr, r.output
    assert site.paths_requested() == []
    r = invoke("try", f"http://localhost:{port}/bai-viet/bai-so-1.html",
               env={**env, "VNARCHIVE_ALLOW_ADDRESSES": "127.0.0.0/8"})
    assert r.exit_code == 0, r.output
    r = invoke("try", f"{site.base}/bai-viet/bai-so-1.html", "--source", "nosuch", env=env)
    assert r.exit_code == 2 and "no source 'nosuch'" in r.stderr
    r = invoke("try", "ftp://x/y", env=env)
    assert r.exit_code != 0


# ---------------------------------------------------------------- one URL identity, exact bytes, --json

CP1258 = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1258">'
          "<title>Tin</title></head><body><h1>Tin t\u1ee9c</h1><p>" + "Vi\u1ec7t Nam, " * 30 + "</p></body></html>")


@pytest.fixture
def archive(session_factory: Any, monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> dict[str, Any]:
    import datetime as dt

    from tests.test_search import T0, put

    monkeypatch.setenv("VNARCHIVE_DB", db_url)
    monkeypatch.setenv("VNARCHIVE_SOURCES", str(tmp_path / "none.toml"))  # no sources file: generic URL rules
    body = _cp1258_bytes()
    a = put(session_factory, "http://bao.test/tin/a.html", "Bão số 3", "Gió mạnh cấp 12.", html=body)
    put(session_factory, "http://bao.test/tin/a.html", "Bão số 3 đổ bộ", "Gió mạnh cấp 13.",
        when=T0 + dt.timedelta(hours=3))
    return {"a": a, "body": body}


def _cp1258_bytes() -> bytes:
    # windows-1258 spells tone marks as combining characters after a base letter (ư, ê are precomposed)
    return CP1258.replace("\u1ee9", "\u01b0\u0301").replace("\u1ec7", "\u00ea\u0323").encode("cp1258")


@pytest.mark.parametrize("suffix", ["?utm_source=facebook&fbclid=x", "?fbclid=abc", "?print=1", "#binh-luan",
                                    "/", "?utm_medium=social#x"])
def test_show_history_diff_resolve_every_url_form(archive: dict[str, Any], suffix: str) -> None:
    ref = "http://bao.test/tin/a.html" + suffix
    for cmd in (["show", ref], ["history", ref], ["diff", ref, "--no-color"]):
        r = invoke(*cmd)
        assert r.exit_code == 0, (cmd, r.output)
        assert f"{archive['a']}" in r.stdout


def test_show_raw_is_the_archived_bytes_and_utf8_is_declared(archive: dict[str, Any], db_url: str) -> None:
    import hashlib

    r = CliRunner().invoke(__import__("crawler.cli", fromlist=["app"]).app,
                           ["show", str(archive["a"]), "--raw", "--version", "1"])
    assert r.exit_code == 0, r.output
    assert r.stdout_bytes == archive["body"]
    con = archive_sql(db_url)
    (sha,) = con.execute("SELECT c.body_sha256 FROM versions v JOIN captures c ON c.id = v.capture_id "
                         "WHERE v.article_id = ? AND v.number = 1", (archive["a"],)).fetchone()
    con.close()
    assert hashlib.sha256(r.stdout_bytes).hexdigest() == sha
    r = invoke("show", str(archive["a"]), "--raw", "--utf8", "--version", "1")
    assert r.exit_code == 0, r.output
    page = r.stdout_bytes.decode("utf-8")
    assert "Tin tức" in page and "Việt Nam" in page and "charset=utf-8" in page and "1258" not in page
    r = invoke("show", str(archive["a"]), "--utf8")
    assert r.exit_code == 2 and "--raw" in r.stderr


def test_as_utf8_adds_a_declaration_when_none() -> None:
    from crawler.cli.show import as_utf8

    out = as_utf8("<html><head><title>Hà Nội</title></head></html>".encode(), None).decode()
    assert out.startswith('<html><head><meta charset="utf-8"><title>Hà Nội')
    out = as_utf8(b'<?xml version="1.0" encoding="ISO-8859-1"?><html><meta charset=latin1></html>', None).decode()
    assert 'encoding="utf-8"' in out and "<meta charset=utf-8>" in out


def test_history_diff_and_db_status_json(archive: dict[str, Any]) -> None:
    r = invoke("history", str(archive["a"]), "--json")
    assert r.exit_code == 0, r.output
    h = json.loads(r.stdout)
    assert [v["number"] for v in h["versions"]] == [1, 2] and h["current_version"] == 2
    assert h["versions"][0]["captured_at"].endswith("+07:00") and h["events"] == []
    r = invoke("diff", str(archive["a"]), "--json")
    d = json.loads(r.stdout)
    assert d["from"] == 1 and d["to"] == 2 and set(d["changes"]) == {"title", "text"}
    assert {"op": "+", "text": " đổ bộ"} in d["changes"]["title"] or any(
        c["op"] == "+" and "đổ" in c["text"] for c in d["changes"]["title"])
    r = invoke("db", "status", "--json")
    s = json.loads(r.stdout)
    assert s["up_to_date"] is True and s["schema"] == s["expected"] and s["backend"] == BACKEND


@pytest.mark.parametrize("cmd", [["runs"], ["stats"], ["search", "bão"], ["skipped"], ["reextract", "--dry-run"]])
def test_unknown_source_is_an_error(archive: dict[str, Any], cmd: list[str]) -> None:
    env = {"VNARCHIVE_SOURCES": str(ROOT / "config" / "vnweb.toml")} if cmd[0] == "reextract" else None
    r = invoke(*cmd, "--source", "nosuch", env=env)
    assert r.exit_code == 2, r.output
    assert "nosuch" in r.stderr and r.stdout == ""


def test_a_known_source_filters_runs_and_stats(archive: dict[str, Any]) -> None:
    r = invoke("stats", "--source", "bao", "--json")
    assert r.exit_code == 0, r.output
    (rec,) = [json.loads(x) for x in r.stdout.splitlines()]
    assert rec["source"] == "bao" and rec["articles"] == 1 and rec["versions"] == 2
    r = invoke("runs", "--source", "bao", "--json")
    assert r.exit_code == 0 and r.stdout == ""


def test_lookup_keys_are_the_crawlers_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """show/history compute URL keys without importing the archiving pipeline: the same keys as key_for."""
    from config import load_sources
    from pipelines.archive import key_for
    from pipelines.urls import lookup_forms

    path = ROOT / "config" / "sources.toml"
    url = "https://m.baochinhphu.vn/Thoi-Su/bai-102240501123456789.htm?utm_source=x&fbclid=y#top"
    _, keys = lookup_forms(url, load_sources(path).sources)
    assert set(keys) >= {key_for(s, url) for s in load_sources(path).sources}
