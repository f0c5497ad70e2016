"""What every `vnarchive` command shares: the consoles, the common options, the one way an expected failure
becomes one `error:` line and a non-zero exit, the settings, and read-only access to the archive.

The command modules of this package import from here, never from each other's siblings' package
(crawler.cli assembles them): no import cycle."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from config import Settings, SourcesError, from_env, load_sources
from config.sources import SourcesFile
from storage.db import ArchiveError, db_error_line

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 120)

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the archive (default: $VNARCHIVE_DB "
                                           "or sqlite:///archive.db).", show_default=False)]
SourcesOpt = Annotated[Path | None, typer.Option("--sources", help="Sources file (default: $VNARCHIVE_SOURCES or "
                                                 "the sources.toml installed with vnarchive).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object instead of text.")]
JsonLinesOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")]


def emit(record: dict[str, Any]) -> None:
    """One JSON line on stdout (``--json``): UTF-8 text as it is, not \\u escapes."""
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
        fail(f"archive database error: {db_error_line(e)}", 1)


def settings_for(db: str | None = None, sources: Path | None = None) -> Settings:
    return from_env().with_overrides(db_url=db, sources_path=sources)


def load(settings: Settings) -> SourcesFile:
    return load_sources(settings.sources_path)


def short_day(iso_value: str | None) -> str:
    """Minutes, no offset: "2024-05-01 10:00"."""
    return (iso_value or "")[:16].replace("T", " ")


def short_time(iso_value: str | None) -> str:
    """Minutes and offset: "2024-05-01 10:00 +07:00"."""
    return f"{short_day(iso_value)} {iso_value[-6:]}" if iso_value else "-"


def setup_logging(verbose: bool) -> None:
    from crawler.logtime import FORMAT, VietnamTimeFormatter

    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(VietnamTimeFormatter(FORMAT))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[h])


# ---------------------------------------------------------------- reading the archive

@contextmanager
def reading(db: str | None) -> Iterator[Session]:
    """A read-only session on an archive whose schema is current."""
    from sqlalchemy.orm import Session

    from storage.migrate import check_current
    from storage.reading import open_reader

    engine = open_reader(settings_for(db).db_url)
    try:
        check_current(engine)
        with engine.connect() as conn, Session(conn) as session:
            yield session
    finally:
        engine.dispose()


def configured_sources(db: str | None) -> Sequence[Any]:
    """The sources file's sources; none when it cannot be read (the archive can be read without one)."""
    try:
        return load_sources(settings_for(db).sources_path).sources
    except SourcesError:
        return ()


def resolve_article(session: Session, ref: str, db: str | None = None) -> Any:
    """The article ``ref`` (an id or any URL form, through pipelines.urls.lookup_forms) names, or None."""
    from pipelines.urls import lookup_forms
    from storage.reading import find_article

    urls, keys = lookup_forms(ref, configured_sources(db) if "://" in ref else ())
    return find_article(session, ref, keys, urls)


def check_source(session: Session, source: str | None, db: str | None = None) -> None:
    """An unknown ``--source`` is a usage error naming the archive's sources (never an empty, successful
    answer).  A source of the sources file the archive has nothing of yet is known: its answer is empty."""
    if source is None:
        return
    from sqlalchemy import select

    from config.sources import SOURCE_ID
    from storage.models import SourceRow

    if SOURCE_ID.fullmatch(source) and session.get(SourceRow, source) is not None:
        return
    if source in {s.id for s in configured_sources(db)}:
        return
    known = ", ".join(session.execute(select(SourceRow.id).order_by(SourceRow.id)).scalars())
    raise UsageFailure(f"no source {source!r} in the archive (known: {known or 'none'})")
