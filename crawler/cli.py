"""The `vnarchive` command: a thin layer over the library.  Expected failures are one line and a non-zero exit."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from config import Settings, SourcesError, from_env, load_sources
from config.sources import SourcesFile
from crawler.cli_copy import copy_cmd
from crawler.cli_export import export_cmd
from crawler.cli_inspect import register as _register_inspect
from crawler.cli_reextract import register as _register_reextract
from crawler.cli_scheduler import register as _register_scheduler
from crawler.cli_try import register as _register_try
from crawler.cli_worker import crawl_queued
from crawler.cli_worker import register as _register_worker
from storage.db import ArchiveError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Archive Vietnamese ministry and newspaper websites: crawl, keep versions, export.")
db_app = typer.Typer(no_args_is_help=True, help="Manage the archive database.")
app.add_typer(db_app, name="db")

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 120)
F = TypeVar("F", bound=Callable[..., Any])

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the archive (default: $VNARCHIVE_DB "
                                           "or sqlite:///archive.db).", show_default=False)]
SourcesOpt = Annotated[Path | None, typer.Option("--sources", help="Sources file (default: $VNARCHIVE_SOURCES or "
                                                 "the sources.toml installed with vnarchive).", show_default=False)]


JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object instead of text.")]


def _emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


class UsageFailure(Exception):
    """An expected failure: printed as one line, exit code 2."""


def fail(msg: str, code: int = 2) -> None:
    err.print(f"error: {msg}", markup=False, highlight=False)
    raise typer.Exit(code)


@contextmanager
def expected_errors() -> Iterator[None]:
    try:
        yield
    except (SourcesError, ArchiveError, UsageFailure, ValueError) as e:
        first, *rest = str(e).splitlines() or [type(e).__name__]
        if rest and isinstance(e, SourcesError):
            # every problem of a bad sources file, one per line
            err.print("error: " + "\nerror: ".join([first, *rest]), markup=False, highlight=False)
            raise typer.Exit(2) from None
        fail(first)
    except OSError as e:
        fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e), 1)
    except DBAPIError as e:
        # read-only file, disk full, server gone: name it, exit non-zero, no traceback
        fail(f"archive database error: {str(getattr(e, 'orig', e)).strip().splitlines()[0]}", 1)


def settings_for(db: str | None = None, sources: Path | None = None) -> Settings:
    return from_env().with_overrides(db_url=db, sources_path=sources)


def load(settings: Settings) -> SourcesFile:
    return load_sources(settings.sources_path)


def version_line() -> str:
    """``vnarchive 0.1.0 (Python 3.11.2, Scrapy 2.13.3, trafilatura 2.0.0)``: what a bug report needs."""
    import platform
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    def of(name: str) -> str:
        try:
            return dist_version(name)
        except PackageNotFoundError:
            return "not installed"

    return (f"vnarchive {of('vnarchive')} (Python {platform.python_version()}, Scrapy {of('scrapy')}, "
            f"trafilatura {of('trafilatura')})")


def _print_version(value: bool) -> None:
    if value:
        out.print(version_line(), markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print vnarchive's version and exit.",
                                          callback=_print_version, is_eager=True)] = False,
) -> None:
    """Archive Vietnamese ministry and newspaper websites: crawl, keep versions, export."""


def _setup_logging(verbose: bool) -> None:
    from crawler.logtime import FORMAT, VietnamTimeFormatter

    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(VietnamTimeFormatter(FORMAT))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[h])


# ---------------------------------------------------------------- crawl

@app.command()
def crawl(
    source_ids: Annotated[list[str] | None, typer.Argument(metavar="SOURCE...", help="Source ids to crawl.",
                                                           show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Crawl every configured source.")] = False,
    trigger: Annotated[str, typer.Option(help="Recorded with the run: manual, schedule or run-now.",
                                         hidden=True)] = "manual",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live progress display.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log Scrapy's progress to stderr.")] = False,
    queue: Annotated[bool, typer.Option("--queue", help="Enqueue one job per source for `vnarchive worker`s "
                                        "($VNARCHIVE_BROKER) instead of crawling here.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --queue: wait until the jobs end; exit 0 only if "
                                       "every one finished.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as one JSON object per source (the run's "
                                          "fields as `runs --json` names them, errors by kind).")] = False,
    db: DbOpt = None,
    sources: SourcesOpt = None,
) -> None:
    """Crawl sources into the archive, then print a summary."""
    from crawler.progress import Progress, print_summary
    from crawler.runner import crawl as run
    from crawler.runner import exit_code

    with expected_errors():
        settings = settings_for(db, sources)
        sf = load(settings)
        if all_ == bool(source_ids):
            raise UsageFailure("name sources to crawl or give --all (not both)" if all_ else
                               f"name sources to crawl or give --all; configured: {', '.join(sf.ids)}")
        chosen = list(sf.sources) if all_ else [sf.get(i) for i in dict.fromkeys(source_ids or [])]
        if wait and not queue:
            raise UsageFailure("--wait goes with --queue")
        if queue:
            code = crawl_queued(settings, chosen, trigger, wait)
    if queue:
        raise typer.Exit(code)
    with expected_errors():
        show = not quiet and err.is_terminal
        results = run(settings, chosen, trigger=trigger, progress=(lambda c: Progress(c, err)) if show else None,
                      log_level="INFO" if verbose else "WARNING")
    if as_json:
        for r in results:
            print(json.dumps(summary_record(r), ensure_ascii=False))
    else:
        print_summary(results, out)
    raise typer.Exit(exit_code(results))


def summary_record(r: Any) -> dict[str, Any]:
    """A crawl's result for one source, as ``crawl --json`` prints it."""
    return {"id": r.run_id, "source": r.source_id, "status": r.status, "finish_reason": r.finish_reason,
            "pages": r.pages, "new": r.new, "updated": r.updated, "unchanged": r.unchanged,
            "not_modified": r.not_modified, "removed": r.removed, "moved": r.moved, "skipped": r.skipped,
            "errors": r.errors, "seconds": round(r.elapsed, 1), "error": r.failure, "log_file": r.log_file}


# ---------------------------------------------------------------- sources

@app.command("sources")
def sources_cmd(
    json_: Annotated[bool, typer.Option("--json", help="One JSON object per source.")] = False,
    sources: SourcesOpt = None,
) -> None:
    """List and validate the configured sources."""
    with expected_errors():
        sf = load(settings_for(sources=sources))
    if json_:
        for s in sf.sources:
            out.print(json.dumps(s.model_dump(mode="json"), ensure_ascii=False), markup=False, highlight=False)
        return
    t = Table(title=f"{len(sf.sources)} sources in {sf.path} (valid)")
    for col in ("id", "name", "domains", "entry points", "schedule (Asia/Ho_Chi_Minh)"):
        t.add_column(col)
    for s in sf.sources:
        entry = f"{len(s.start_urls)} listings, {len(s.feeds)} feeds, {len(s.sitemaps)} sitemaps"
        t.add_row(s.id, s.name, ", ".join(s.allowed_domains), entry, s.schedule)
    out.print(t)


# ---------------------------------------------------------------- db

@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Create the archive or apply pending schema migrations."""
    from storage.db import make_engine
    from storage.migrate import upgrade

    with expected_errors():
        settings = settings_for(db)
        before, after = upgrade(make_engine(settings.db_url))
    out.print(f"archive schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (up to date)"))


@db_app.command("status")
def db_status(json_: JsonOpt = False, db: DbOpt = None) -> None:
    """Show the archive's schema version and whether migrations are pending."""
    from storage.db import describe, make_engine
    from storage.migrate import current_revision, head_revision

    with expected_errors():
        engine = make_engine(settings_for(db).db_url, readonly=True)
        cur, head = current_revision(engine), head_revision(engine)
        where = describe(engine)
    if json_:
        _emit({"archive": where, "backend": engine.dialect.name, "schema": cur, "expected": head,
               "up_to_date": cur == head})
        return
    out.print(f"schema {cur or 'none'}; this vnarchive expects {head}" + ("" if cur == head else
              " - run `vnarchive db upgrade`"))


@db_app.command("reindex")
def db_reindex(db: DbOpt = None) -> None:
    """Rebuild the full-text search index from the archive (after restoring a backup, say)."""
    from storage import search
    from storage.db import make_engine, make_session_factory
    from storage.migrate import check_current

    with expected_errors():
        engine = make_engine(settings_for(db).db_url)
        check_current(engine)
        with make_session_factory(engine).begin() as session:
            search.rebuild(session)
            search.check(session)
    out.print("search index rebuilt and checked")


# copy to another database (SQLite <-> PostgreSQL): crawler.cli_copy
db_app.command("copy")(copy_cmd)


# ---------------------------------------------------------------- export

# jsonl, json, csv, warc, wacz: crawler.cli_export
app.command("export")(export_cmd)


# ---------------------------------------------------------------- history

ArticleArg = Annotated[str, typer.Argument(metavar="ARTICLE", help="Article id or any URL it was seen under.")]


@contextmanager
def _archive_session(db: str | None) -> Iterator[Any]:
    from storage.db import make_engine, make_session_factory
    from storage.migrate import check_current

    engine = make_engine(settings_for(db).db_url, readonly=True)
    check_current(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def _find(session: Any, ref: str, db: str | None = None) -> Any:
    """By id or URL, through the one URL identity ``show`` uses too (crawler.cli_inspect.resolve_article)."""
    from crawler.cli_inspect import resolve_article
    from storage.history import NotFound

    a = resolve_article(session, ref, db)
    if a is None:
        raise NotFound(f"no archived article with id or URL {ref.strip()!r}")
    return a


@app.command()
def history(article: ArticleArg, json_: JsonOpt = False, db: DbOpt = None) -> None:
    """List an article's versions and events (removed, reappeared, moved) with their times."""
    from storage.export import iso
    from storage.history import NotFound, events, versions

    with expected_errors():
        try:
            with _archive_session(db) as session:
                a = _find(session, article, db)
                vs, evs = versions(session, a.id), events(session, a.id)
        except NotFound as e:
            raise UsageFailure(str(e)) from None
    if json_:
        _emit({"id": a.id, "source": a.source_id, "url": a.canonical_url, "status": a.status,
               "current_version": a.current_version,
               "versions": [{"number": v.number, "captured_at": iso(v.created_at), "title": v.title,
                             "words": len(v.text.split()), "content_sha256": v.content_sha256,
                             "capture_id": v.capture_id, "published": iso(v.published, v.utc_offset_minutes),
                             "modified": iso(v.modified, v.utc_offset_minutes),
                             "extractor_version": v.extractor_version} for v in vs],
               "events": [{"at": iso(ev.at), "kind": ev.kind, "detail": ev.detail} for ev in evs]})
        return
    out.print(f"article {a.id} [{a.source_id}] {a.status}: {a.canonical_url}", markup=False, highlight=False)
    t = Table()
    for c in ("version", "captured", "title", "words", "content sha256"):
        t.add_column(c)
    for v in vs:
        t.add_row(str(v.number), iso(v.created_at) or "", v.title, str(len(v.text.split())), v.content_sha256[:16])
    out.print(t)
    for ev in evs:
        out.print(f"{iso(ev.at)}  {ev.kind}" + (f"  {ev.detail}" if ev.detail else ""), markup=False, highlight=False)


@app.command()
def diff(
    article: ArticleArg,
    v1: Annotated[int | None, typer.Argument(help="Older version (default: the one before V2).")] = None,
    v2: Annotated[int | None, typer.Argument(help="Newer version (default: the current one).")] = None,
    color: Annotated[bool, typer.Option("--color/--no-color", help="Colour removed/added words "
                                        "(default: when writing to a terminal).")] = sys.stdout.isatty(),
    json_: Annotated[bool, typer.Option("--json", help="One JSON object: per changed field, the runs of kept (=), "
                                        "removed (-) and added (+) text.")] = False,
    db: DbOpt = None,
) -> None:
    """Show what changed between two versions of an article, word by word ([-removed-] {+added+})."""
    from storage.history import NotFound, diff_versions, version

    with expected_errors():
        try:
            with _archive_session(db) as session:
                a = _find(session, article, db)
                new = v2 or a.current_version
                old = v1 or new - 1
                if old < 1:
                    raise UsageFailure(f"article {a.id} has only one version")
                changes = diff_versions(version(session, a.id, old), version(session, a.id, new))
        except NotFound as e:
            raise UsageFailure(str(e)) from None
    if json_:
        _emit({"id": a.id, "from": old, "to": new,
               "changes": {f: [{"op": ch.op, "text": ch.text} for ch in parts] for f, parts in changes.items()}})
        return
    out.print(f"article {a.id}: version {old} -> {new}", markup=False, highlight=False)
    if not changes:
        out.print("no difference in title, lead, text, author or dates")
    marks = {"-": ("\x1b[31;9m", "\x1b[0m"), "+": ("\x1b[32;1m", "\x1b[0m")} if color else \
        {"-": ("[-", "-]"), "+": ("{+", "+}")}
    for field, parts in changes.items():
        out.print(f"\n== {field} ==", markup=False, highlight=False)
        # \x00/\x01 bracket changed words, so unchanged paragraphs can be left out of a long text
        rendered = "".join(ch.text if ch.op == "=" else "\n\n".join(f"\x00{ch.op}{piece}\x01" if piece.strip() else piece
                                                                   for piece in ch.text.split("\n\n"))
                           for ch in parts)
        paragraphs = rendered.split("\n\n")
        shown = [p for p in paragraphs if "\x00" in p]
        for i, para in enumerate(shown):
            para = re.sub(r"\x00([-+])(.*?)\x01", lambda m: marks[m[1]][0] + m[2] + marks[m[1]][1], para, flags=re.S)
            sys.stdout.write(("\n…\n" if i else "") + para + "\n")
        if len(shown) < len(paragraphs):
            out.print(f"({len(paragraphs) - len(shown)} unchanged paragraphs not shown)", highlight=False)


# commands of the other modules come after these in --help: crawl first, as a newcomer needs it
_register_inspect(app)
_register_try(app)
_register_reextract(app)
_register_scheduler(app)
_register_worker(app)


def _plain_help(cmd: Any) -> None:
    """Help that names what an option takes (``--source SOURCE``), not its Python type (``--source <str>``)."""
    from typer.core import TyperArgument, TyperOption

    for p in getattr(cmd, "params", ()):
        if isinstance(p, TyperOption) and not p.is_flag and p.metavar is None and p.name:
            p.metavar = p.name.upper()
        elif isinstance(p, TyperArgument):
            p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # QUERY... alone
    for sub in getattr(cmd, "commands", {}).values():
        _plain_help(sub)


def main() -> None:
    cmd = typer.main.get_command(app)
    _plain_help(cmd)
    cmd()


if __name__ == "__main__":
    main()
