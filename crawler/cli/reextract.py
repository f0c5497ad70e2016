"""`vnarchive reextract`: the current extractor run again on the pages the archive kept (pipelines.reextract).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from crawler.cli.common import UsageFailure, err, expected_errors, load, out, settings_for, setup_logging

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from pipelines.reextract import Report

EXIT_OK, EXIT_INTERRUPTED = 0, 3
COLUMNS = ("examined", "changed", "unchanged", "newly_archived", "still_skipped", "now_skipped", "failed")


def open_archive(db_url: str, dry_run: bool) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
    """(writer, reader) session factories on an existing archive; the reader never takes the write lock.

    A real run brings the schema up to date, as crawl does; a dry run writes nothing, so it needs a current
    schema.  An archive that does not exist is an error, never created empty."""
    from storage.db import ArchiveError, make_engine, make_session_factory, sqlite_path, table_names
    from storage.migrate import check_current, ensure_current

    path = sqlite_path(db_url)
    if path is not None and not path.is_file():
        raise ArchiveError(f"{path} does not exist: no archive there (run `vnarchive crawl` first)")
    reader = make_engine(db_url, readonly=True)
    if dry_run:
        check_current(reader)
        factory = make_session_factory(reader)
        return factory, factory
    writer = make_engine(db_url)
    if not table_names(writer):
        raise ArchiveError(f"{writer.url.render_as_string(hide_password=True)} is empty: nothing to re-extract")
    ensure_current(writer)
    return make_session_factory(writer), make_session_factory(reader)


def _note_unknown(reader: sessionmaker[Session], configured: set[str], path: str) -> None:
    """Sources in the archive that the sources file lacks have no hints to extract with: say they are left."""
    from sqlalchemy import select

    from storage.models import SourceRow

    with reader() as session:
        left = sorted(set(session.execute(select(SourceRow.id)).scalars()) - configured)
    if left:
        err.print(f"note: not in {path}, so not re-extracted: {', '.join(left)}", markup=False, highlight=False)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def print_report(report: Report) -> None:

    t = Table(title="re-extraction" + (" (dry run: nothing written)" if report.dry_run else ""),
              title_justify="left")
    show_superseded = report.total.superseded > 0
    cols = (*COLUMNS, "superseded") if show_superseded else COLUMNS
    t.add_column("source")
    for c in cols:
        t.add_column(c.replace("_", " "), justify="right")
    t.add_column("time", justify="right")

    def row(name: str, rec: dict[str, Any]) -> list[str]:
        return [name, *(str(rec[c]) for c in cols), f"{rec['seconds']:.1f} s"]

    for sid, counts in report.sources.items():
        t.add_row(*row(sid, counts.record()))
    if len(report.sources) != 1:
        t.add_row(*row("total", report.total.record()), style="bold")
    out.print(t)
    for sid, (phase, after) in report.resumed.items():
        out.print(f"{sid}: resumed an interrupted run (after {phase} id {after})", markup=False, highlight=False)
    total = report.total
    verb = "would be" if report.dry_run else "were"
    out.print(f"{total.changed} articles {verb} given a new version and {total.newly_archived} skipped pages "
              f"{verb} archived as articles; nothing was fetched" + (" or written" if report.dry_run else ""),
              markup=False, highlight=False)
    if report.interrupted:
        out.print("interrupted: the batch in flight was rolled back; run the same command again to finish",
                  markup=False, highlight=False)


def reextract_cmd(
    source_ids: Annotated[list[str] | None, typer.Option("--source", metavar="SOURCE", help="Only this source (repeat for several; "
                                                         "default: every source of the sources file).",
                                                         show_default=False)] = None,
    since: Annotated[str | None, typer.Option("--since", metavar="DAY", help="Only pages fetched on or after this day "
                                              "(YYYY-MM-DD, Vietnam time).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write nothing; report what would change.")] = False,
    batch: Annotated[int, typer.Option("--batch", metavar="N", help="Pages per batch: each batch's writes are one "
                                       "transaction.")] = 100,
    json_: Annotated[bool, typer.Option("--json", help="The report as one JSON object.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each batch to stderr.")] = False,
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the archive (default: $VNARCHIVE_DB "
                                           "or sqlite:///archive.db).", show_default=False)] = None,
    sources: Annotated[Path | None, typer.Option("--sources", help="Sources file, for each source's extraction "
                                                "hints (default: $VNARCHIVE_SOURCES or the bundled sources.toml).",
                                                show_default=False)] = None,
) -> None:
    """Re-extract archived pages with the current extractor (never refetches); new versions where content changed."""
    from pipelines.reextract import day_start, reextract
    from storage.search import parse_day

    setup_logging(verbose)
    with expected_errors():
        if batch < 1:
            raise UsageFailure(f"--batch must be at least 1, not {batch}")
        settings = settings_for(db, sources)
        sf = load(settings)
        chosen = [sf.get(i) for i in dict.fromkeys(source_ids)] if source_ids else list(sf.sources)
        since_v = day_start(parse_day(since, "--since")) if since else None
        factory, reader = open_archive(settings.db_url, dry_run)
        if not source_ids:
            _note_unknown(reader, {s.id for s in chosen}, str(sf.path))
        previous = signal.signal(signal.SIGTERM, _interrupt)  # kill: roll the batch back, report, exit 3
        try:
            report = reextract(factory, chosen, reader=reader, since=since_v, dry_run=dry_run, batch=batch)
        finally:
            signal.signal(signal.SIGTERM, previous)
    if json_:
        sys.stdout.write(json.dumps(report.record(), ensure_ascii=False) + "\n")
    else:
        print_report(report)
    raise typer.Exit(EXIT_INTERRUPTED if report.interrupted else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add reextract to the vnarchive command."""
    app.command("reextract")(reextract_cmd)
