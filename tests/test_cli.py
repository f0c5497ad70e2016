"""crawler/cli/: every command documented; expected failures are one clean `error:` line, never a traceback."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner, Result

from crawler.cli import app
from storage.export import FIELDS
from tests.conftest import archive_sql, assert_no_archive, is_sqlite, sqlite_file

ROOT = Path(__file__).resolve().parent.parent
VNWEB_TOML = ROOT / "config" / "vnweb.toml"
VNWEB_IDS = ["mps", "tgvn", "tinh", "bao"]


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    # every VNARCHIVE_* the CLI reads is pinned, so a developer's own environment cannot leak in
    base = {"VNARCHIVE_DB": "", "VNARCHIVE_SOURCES": str(VNWEB_TOML), "VNARCHIVE_SCHEDULE_EVERY": "",
            "VNARCHIVE_LOG_FILE": ""}
    return CliRunner().invoke(app, list(args), env={**base, **(env or {})})


def assert_clean_error(r: Result, *, lines: int | None = 1) -> list[str]:
    """A non-zero exit, `error:` lines on stderr, nothing on stdout, no traceback."""
    assert r.exit_code != 0, (r.stdout, r.stderr)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert r.stdout == ""
    got = r.stderr.rstrip("\n").splitlines()
    if lines is not None:
        assert len(got) == lines, got
    assert got and all(line.startswith("error: ") for line in got), got
    return got


# ---------------------------------------------------------------- help on every command

def _walk(cmd: Any, path: tuple[str, ...] = (), parent: Any = None) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    if hasattr(cmd, "list_commands"):
        ctx = typer.Context(cmd, info_name=path[-1] if path else "vnarchive", parent=parent)
        for name in cmd.list_commands(ctx):
            yield from _walk(cmd.get_command(ctx, name), (*path, name), ctx)


COMMANDS = list(_walk(typer.main.get_command(app)))


def test_the_command_tree_has_the_expected_commands() -> None:
    paths = {p for p, _ in COMMANDS}
    for expected in [(), ("crawl",), ("sources",), ("export",), ("db",), ("db", "upgrade"), ("db", "status"),
                     ("history",), ("diff",)]:
        assert expected in paths
    assert len(paths) >= 9


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=[" ".join(p) or "vnarchive" for p, _ in COMMANDS])
def test_every_command_has_help(path: tuple[str, ...], cmd: Any) -> None:
    assert (cmd.help or "").strip(), f"`vnarchive {' '.join(path)}` has no help text"
    for param in cmd.params:
        assert (getattr(param, "help", None) or "").strip(), f"`vnarchive {' '.join(path)}`: {param.name} has no help"
    r = run(*path, "--help")
    assert r.exit_code == 0, r.stderr
    assert r.exception is None
    assert "Usage:" in r.stdout
    assert cmd.help.strip().split()[0] in r.stdout


def test_no_arguments_shows_usage() -> None:
    r = run()
    assert r.exit_code != 0
    assert "Usage:" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr


# ---------------------------------------------------------------- sources

def test_sources_lists_the_four_vnweb_ids() -> None:
    r = run("sources")
    assert r.exit_code == 0, r.stderr
    assert "4 sources" in r.stdout and "valid" in r.stdout
    for sid in VNWEB_IDS:
        assert sid in r.stdout


def test_sources_json() -> None:
    r = run("sources", "--json")
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert [x["id"] for x in rows] == VNWEB_IDS
    assert rows[3]["host_aliases"] == {"127.0.0.6:8080": "127.0.0.5:8080"}
    assert "Nhịp Sống Số" in rows[3]["name"]  # not \u-escaped


def test_sources_option_overrides_the_environment(tmp_path: Path) -> None:
    r = run("sources", "--sources", str(VNWEB_TOML), env={"VNARCHIVE_SOURCES": str(tmp_path / "nope.toml")})
    assert r.exit_code == 0, r.stderr
    assert "4 sources" in r.stdout


def test_missing_sources_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    (line,) = assert_clean_error(run("sources", env={"VNARCHIVE_SOURCES": str(missing)}))
    assert str(missing) in line and "not found" in line
    (line,) = assert_clean_error(run("crawl", "mps", env={"VNARCHIVE_SOURCES": str(missing)}))
    assert str(missing) in line


def test_bad_sources_file_one_problem_per_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[source]]\nid = "x"\nnme = "y"\nallowed_domains = ["a.vn"]\n'
                   'article_patterns = ["("]\nstart_urls = ["http://a.vn/"]\n', encoding="utf-8")
    lines = assert_clean_error(run("sources", env={"VNARCHIVE_SOURCES": str(bad)}), lines=3)
    assert all(str(bad) in line for line in lines)
    joined = "\n".join(lines)
    assert "source[0] (x).name: required key is missing" in joined
    assert "source[0] (x).nme: unknown key" in joined
    assert "source[0] (x).article_patterns:" in joined and "not a valid regular expression" in joined


def test_not_toml_sources_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("this = = is not toml\n", encoding="utf-8")
    (line,) = assert_clean_error(run("sources", env={"VNARCHIVE_SOURCES": str(bad)}))
    assert str(bad) in line and "not valid TOML" in line


def test_bad_schedule_every_is_a_clean_error() -> None:
    (line,) = assert_clean_error(run("sources", env={"VNARCHIVE_SCHEDULE_EVERY": "abc"}))
    assert "VNARCHIVE_SCHEDULE_EVERY" in line and "'abc'" in line


# ---------------------------------------------------------------- crawl: argument errors (no crawl is started)

def test_crawl_unknown_source_lists_known_ids(fresh_db: Callable[..., str]) -> None:
    url = fresh_db("a.db")
    (line,) = assert_clean_error(run("crawl", "nope", env={"VNARCHIVE_DB": url}))
    assert "'nope'" in line
    for sid in VNWEB_IDS:
        assert sid in line
    assert_no_archive(url)  # the archive was not created either


def test_crawl_needs_ids_or_all() -> None:
    (line,) = assert_clean_error(run("crawl"))
    assert "--all" in line
    for sid in VNWEB_IDS:
        assert sid in line


def test_crawl_ids_and_all_together() -> None:
    (line,) = assert_clean_error(run("crawl", "mps", "--all"))
    assert "not both" in line


# ---------------------------------------------------------------- db

def test_db_upgrade_twice_is_idempotent(fresh_db: Callable[..., str]) -> None:
    env = {"VNARCHIVE_DB": fresh_db()}
    r = run("db", "upgrade", env=env)
    assert r.exit_code == 0, r.stderr
    assert "was empty" in r.stdout
    head = r.stdout.split()[3]
    r2 = run("db", "upgrade", env=env)
    assert r2.exit_code == 0, r2.stderr
    assert "up to date" in r2.stdout and head in r2.stdout
    assert "was" not in r2.stdout
    r3 = run("db", "status", env=env)
    assert r3.exit_code == 0 and f"schema {head}" in r3.stdout and "db upgrade" not in r3.stdout


def test_db_option_overrides_the_environment(fresh_db: Callable[..., str]) -> None:
    url = fresh_db("flag.db")
    r = run("db", "upgrade", "--db", url, env={"VNARCHIVE_DB": "not a url"})
    assert r.exit_code == 0, r.stderr
    if is_sqlite(url):
        assert sqlite_file(url).exists()
    con = archive_sql(url)
    try:
        assert con.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    finally:
        con.close()


@pytest.mark.parametrize("command", [("db", "upgrade"), ("db", "status"), ("export",), ("history", "1")])
def test_non_url_database_is_a_clean_error(command: tuple[str, ...]) -> None:
    (line,) = assert_clean_error(run(*command, env={"VNARCHIVE_DB": "archive.db"}))
    assert "'archive.db'" in line and "URL" in line


def test_db_upgrade_in_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    (line,) = assert_clean_error(run("db", "upgrade", env={"VNARCHIVE_DB": f"sqlite:///{missing / 'a.db'}"}))
    assert str(missing) in line
    assert not (tmp_path / "no").exists()


def test_db_upgrade_refuses_a_garbage_file(tmp_path: Path) -> None:
    p = tmp_path / "archive.db"
    p.write_bytes(os.urandom(4096))
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    (line,) = assert_clean_error(run("db", "upgrade", env={"VNARCHIVE_DB": f"sqlite:///{p}"}))
    assert "not a usable database" in line
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before


def test_db_upgrade_refuses_a_foreign_database(fresh_db: Callable[..., str]) -> None:
    url = fresh_db("other.db")
    con = archive_sql(url)
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.close()
    (line,) = assert_clean_error(run("db", "upgrade", env={"VNARCHIVE_DB": url}))
    assert "refusing" in line


def test_db_upgrade_on_an_archive_from_a_newer_vnarchive(db_url: str) -> None:
    con = archive_sql(db_url)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.close()
    (line,) = assert_clean_error(run("db", "upgrade", env={"VNARCHIVE_DB": db_url}))
    assert "newer" in line


# ---------------------------------------------------------------- export

def test_export_against_an_empty_database_file(fresh_db: Callable[..., str]) -> None:
    url = fresh_db("empty.db")  # on PostgreSQL: an empty database
    if is_sqlite(url):
        sqlite_file(url).touch()
    (line,) = assert_clean_error(run("export", env={"VNARCHIVE_DB": url}))
    assert "empty" in line and "db upgrade" in line


def test_export_against_a_missing_database_file(tmp_path: Path) -> None:
    p = tmp_path / "missing.db"
    (line,) = assert_clean_error(run("export", env={"VNARCHIVE_DB": f"sqlite:///{p}"}))
    assert str(p) in line


def test_export_does_not_create_a_missing_database_file(tmp_path: Path) -> None:
    p = tmp_path / "missing.db"
    assert_clean_error(run("export", env={"VNARCHIVE_DB": f"sqlite:///{p}"}))
    assert not p.exists()


def test_export_with_an_unknown_format(db_url: str) -> None:
    (line,) = assert_clean_error(run("export", "--format", "xml", env={"VNARCHIVE_DB": db_url}))
    assert "'xml'" in line and "jsonl" in line and "csv" in line


def test_export_of_a_new_archive_is_empty(db_url: str) -> None:
    r = run("export", env={"VNARCHIVE_DB": db_url})
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""


@pytest.fixture
def filled_db(session_factory, db_url: str) -> str:  # type: ignore[no-untyped-def]
    from config import load_sources
    from pipelines.archive import archive_page
    from pipelines.items import Extracted, RawPage
    from storage import repo

    sf = load_sources(VNWEB_TOML)
    with session_factory.begin() as s:
        repo.ensure_sources(s, [(x.id, x.name) for x in sf.sources])
    t = dt.datetime(2024, 8, 25, 3, 0, tzinfo=dt.UTC)
    for i, sid in enumerate(("bao", "mps")):
        url = (f"http://127.0.0.5:8080/thoi-su/bai-{i}-480000{i}" if sid == "bao"
               else f"http://127.0.0.2:8080/bai-viet/bai-{i}-170000{i}")
        raw = RawPage(source_id=sid, url=url, final_url=url, status=200, headers={}, body=b"<html></html>",
                      fetched_at=t)
        ex = Extracted(title=f"Tiêu đề {i}", lead="Sapo", text=f"Nội dung bài số {i}, có dấu phẩy và \"ngoặc\".",
                       author=None, published=dt.datetime(2024, 8, 25, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))),
                       modified=None, language="vi", page_canonical=None)
        with session_factory.begin() as s:
            archive_page(s, sf.get(sid), raw, ex, None)
    return db_url


def test_export_jsonl(filled_db: str) -> None:
    r = run("export", env={"VNARCHIVE_DB": filled_db})
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["source"] for x in rows] == ["bao", "mps"]
    assert all(list(x) == FIELDS for x in rows)
    assert rows[0]["title"] == "Tiêu đề 0"
    assert "Tiêu đề 0" in r.stdout  # UTF-8, not \u-escaped
    assert rows[0]["published"] == "2024-08-25T09:00:00+07:00"
    r = run("export", "--source", "mps", env={"VNARCHIVE_DB": filled_db})
    assert [json.loads(line)["source"] for line in r.stdout.splitlines()] == ["mps"]


def test_export_csv_to_a_file(filled_db: str, tmp_path: Path) -> None:
    import csv

    out = tmp_path / "out.csv"
    r = run("export", "--format", "csv", "--out", str(out), env={"VNARCHIVE_DB": filled_db})
    assert r.exit_code == 0, r.stderr
    assert "2 articles written" in r.stderr
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert list(rows[0]) == FIELDS
    assert rows[0]["text"] == 'Nội dung bài số 0, có dấu phẩy và "ngoặc".'
    assert rows[0]["urls"] == "http://127.0.0.5:8080/thoi-su/bai-0-4800000"


def test_export_to_a_missing_directory_is_a_clean_error(filled_db: str, tmp_path: Path) -> None:
    out = tmp_path / "no" / "out.jsonl"
    (line,) = assert_clean_error(run("export", "--out", str(out), env={"VNARCHIVE_DB": filled_db}))
    assert str(out) in line


# ---------------------------------------------------------------- history / diff: expected failures

@pytest.mark.parametrize("command", [("history", "999"), ("diff", "999"),
                                     ("history", "http://127.0.0.5:8080/thoi-su/khong-co-4800001")])
def test_unknown_article_is_a_clean_error(db_url: str, command: tuple[str, ...]) -> None:
    (line,) = assert_clean_error(run(*command, env={"VNARCHIVE_DB": db_url}))
    assert command[1] in line


def test_diff_of_a_single_version_article(filled_db: str) -> None:
    (line,) = assert_clean_error(run("diff", "1", env={"VNARCHIVE_DB": filled_db}))
    assert "only one version" in line


# ---------------------------------------------------------------- skipped: pages recorded by the archive pipeline

@pytest.fixture
def skipped_db(filled_db: str, session_factory) -> str:  # type: ignore[no-untyped-def]
    """Pages skipped the way a crawl skips them (pipelines.archive.archive_page with a Skipped result)."""
    from config import load_sources
    from pipelines.archive import archive_page
    from pipelines.items import RawPage, Skipped

    sf = load_sources(VNWEB_TOML)
    t = dt.datetime(2024, 8, 26, 3, 0, tzinfo=dt.UTC)
    pages = [("tinh", "http://127.0.0.4:8080/tin-tuc/anh-1.html", "photo_page"),
             ("bao", "http://127.0.0.5:8080/thoi-su/en-4800009", "language_en"),
             # skipped once, archived since: not listed
             ("bao", "http://127.0.0.5:8080/thoi-su/bai-0-4800000", "no_article_text")]
    for sid, url, reason in pages:
        raw = RawPage(source_id=sid, url=url, final_url=url, status=200, headers={}, body=b"<html></html>",
                      fetched_at=t)
        with session_factory.begin() as s:
            archive_page(s, sf.get(sid), raw, Skipped(reason), None)
    return filled_db


def test_skipped_lists_what_the_archive_pipeline_skipped(skipped_db: str) -> None:
    r = run("skipped", "--json", env={"VNARCHIVE_DB": skipped_db})
    assert r.exit_code == 0, r.stderr
    got = [json.loads(line) for line in r.stdout.splitlines()]
    assert [(x["source"], x["reason"]) for x in got] == [("bao", "language_en"), ("tinh", "photo_page")]
    assert all(x["last_seen"] == "2024-08-26T10:00:00+07:00" for x in got)
    r = run("skipped", env={"VNARCHIVE_DB": skipped_db})
    assert r.exit_code == 0 and "2 skipped pages not archived: language_en 1, photo_page 1" in r.stdout


def test_skipped_unknown_source_is_a_clean_error(skipped_db: str) -> None:
    (line,) = assert_clean_error(run("skipped", "--source", "nosuch", env={"VNARCHIVE_DB": skipped_db}))
    assert line.startswith("error: no source 'nosuch' in the archive (known: ")
    assert run("skipped", "--source", "nosuch", env={"VNARCHIVE_DB": skipped_db}).exit_code == 2


def test_show_of_a_skipped_url_with_the_sources_own_ignored_parameter(skipped_db: str) -> None:
    # `lang` is one of tinh's ignore_params in config/vnweb.toml; utm_* and the fragment are always dropped
    url = "http://127.0.0.4:8080/tin-tuc/anh-1.html?lang=vi&utm_medium=x#gallery"
    (line,) = assert_clean_error(run("show", url, env={"VNARCHIVE_DB": skipped_db}))
    assert line == (f"error: {url}: not archived: skipped as photo_page under http://127.0.0.4:8080/tin-tuc/anh-1.html "
                    "(last fetched 2024-08-26 10:00 +07:00); see `vnarchive skipped`")
    assert run("show", url, env={"VNARCHIVE_DB": skipped_db}).exit_code == 2


def test_skipped_against_a_missing_database_file(tmp_path: Path) -> None:
    p = tmp_path / "missing.db"
    (line,) = assert_clean_error(run("skipped", env={"VNARCHIVE_DB": f"sqlite:///{p}"}))
    assert str(p) in line and not p.exists()
