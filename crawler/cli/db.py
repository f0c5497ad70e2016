"""`vnarchive db upgrade|status|reindex|copy`: the archive database itself (storage.migrate, storage.search,
storage.copy)."""

from __future__ import annotations

from typing import Annotated

import typer

from crawler.cli.common import DbOpt, JsonOpt, emit, err, expected_errors, out, settings_for

CopyDbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the archive to copy (default: "
                                               "$VNARCHIVE_DB or sqlite:///archive.db).", show_default=False)]

db_app = typer.Typer(no_args_is_help=True, help="Manage the archive database.")


def db_upgrade(db: DbOpt = None) -> None:
    """Create the archive or apply pending schema migrations."""
    from storage.db import make_engine
    from storage.migrate import upgrade

    with expected_errors():
        settings = settings_for(db)
        before, after = upgrade(make_engine(settings.db_url))
    out.print(f"archive schema at {after}" + (f" (was {before or 'empty'})" if before != after else " (up to date)"))


def db_status(json_: JsonOpt = False, db: DbOpt = None) -> None:
    """Show the archive's schema version and whether migrations are pending."""
    from storage.db import describe, make_engine
    from storage.migrate import current_revision, head_revision

    with expected_errors():
        engine = make_engine(settings_for(db).db_url, readonly=True)
        cur, head = current_revision(engine), head_revision(engine)
        where = describe(engine)
    if json_:
        emit({"archive": where, "backend": engine.dialect.name, "schema": cur, "expected": head,
               "up_to_date": cur == head})
        return
    out.print(f"schema {cur or 'none'}; this vnarchive expects {head}" + ("" if cur == head else
              " - run `vnarchive db upgrade`"))


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


def copy_cmd(
    to: Annotated[str, typer.Option("--to", metavar="URL", help="SQLAlchemy URL of the empty target database "
                                    "(postgresql+psycopg://user@host/db, sqlite:///copy.db).", show_default=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final line.")] = False,
    db: CopyDbOpt = None,
) -> None:
    """Copy the whole archive into an empty database (SQLite to PostgreSQL and back) and verify counts and
    content hashes of every table."""
    from storage.copy import copy_archive
    from storage.db import create_private_file, describe, make_engine, sqlite_path

    with expected_errors():
        src = make_engine(settings_for(db).db_url, readonly=True)
        target = sqlite_path(to)
        if target is not None:
            create_private_file(target)  # a new SQLite copy is the owner's only, like any archive
        dst = make_engine(to)
        last: dict[str, int] = {}

        def progress(table: str, n: int) -> None:
            if not quiet and err.is_terminal and n - last.get(table, -10_000) >= 10_000:
                err.print(f"{table}: {n} rows", markup=False, highlight=False)
            last[table] = n

        checks = copy_archive(src, dst, progress=progress)
        where = describe(dst)
        src.dispose()
        dst.dispose()
    if not quiet:
        for c in checks:
            out.print(f"{c.table}: {c.rows} rows, hash {c.digest[:16]} (equal)", markup=False, highlight=False)
    out.print(f"copied {sum(c.rows for c in checks)} rows in {len(checks)} tables to {where}; counts and content "
              "hashes verified", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add the db command group to the vnarchive command."""
    db_app.command("upgrade")(db_upgrade)
    db_app.command("status")(db_status)
    db_app.command("reindex")(db_reindex)
    db_app.command("copy")(copy_cmd)
    app.add_typer(db_app, name="db")
