"""`vnarchive db copy --to URL`: a thin command over storage.copy.

crawler.cli imports this module while it is itself being imported, so its helpers are imported inside the
command, when crawler.cli is complete.
"""

from __future__ import annotations

from typing import Annotated

import typer

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL of the archive to copy (default: "
                                           "$VNARCHIVE_DB or sqlite:///archive.db).", show_default=False)]


def copy_cmd(
    to: Annotated[str, typer.Option("--to", metavar="URL", help="SQLAlchemy URL of the empty target database "
                                    "(postgresql+psycopg://user@host/db, sqlite:///copy.db).", show_default=False)],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final line.")] = False,
    db: DbOpt = None,
) -> None:
    """Copy the whole archive into an empty database (SQLite to PostgreSQL and back) and verify counts and
    content hashes of every table."""
    from crawler.cli import err, expected_errors, out, settings_for
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
