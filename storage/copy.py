"""Copy a whole archive to another database (SQLite to PostgreSQL and back), then prove the copy equal.

The way from one machine to several: `vnarchive db copy --to postgresql+psycopg://…` moves an SQLite archive
into the PostgreSQL server the workers share (and back, for a laptop copy or a backup that opens anywhere).

- The target must be empty (no row in any archive table): a copy never merges into, or overwrites, an
  archive.  Its schema is created by the migrations (``storage.migrate.upgrade``), exactly as `db upgrade`
  would, so views, triggers and indexes are those of the target's backend; the source must be up to date.
- Every table of ``storage.models`` is copied in foreign-key order, in batches, through SQLAlchemy Core
  (the model types carry times as UTC, JSON and raw bytes across both backends unchanged), in one
  transaction: a failed copy leaves the target empty, ready for another try.  PostgreSQL's id sequences
  are moved past the copied ids.  The search index is rebuilt on the target (it is derived data) and checked;
  ``stats``' per-source counters (``source_counts``, derived too) are the target's triggers' own count.
- Then each table is read back on both sides: row count and a content hash (SHA-256 of each row's values
  in a canonical form, summed modulo 2^256, so it does not depend on the order either backend returns
  rows in) must agree, or the copy is reported as failed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Table, select, text
from sqlalchemy.engine import Engine

from storage import search
from storage.db import ArchiveError, describe, table_names
from storage.migrate import check_current, upgrade
from storage.models import Base

BATCH = 500
_MOD = 1 << 256


class CopyError(ArchiveError):
    """The copy was refused (target not empty, same database) or came out different: one line for the user."""


@dataclass(frozen=True, slots=True)
class TableCheck:
    table: str
    rows: int
    digest: str  # hex of the row hashes' sum


# derived from the other tables by the target's own triggers as the rows arrive (SQLite), or not kept at all
# (PostgreSQL counts with aggregates): neither copied nor compared
DERIVED = frozenset({"source_counts"})


def tables() -> list[Table]:
    """The archive's tables, parents before children (what a copy moves and compares)."""
    return [t for t in Base.metadata.sorted_tables if t.name not in DERIVED]


def first_rows(engine: Engine) -> str | None:
    """The name of an archive table that holds a row in ``engine``'s database, or None when there is none."""
    present = table_names(engine)
    with engine.connect() as conn:
        for t in tables():
            if t.name in present and conn.execute(select(t).limit(1)).first() is not None:
                return t.name
    return None


def _canon(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "sha256:" + hashlib.sha256(bytes(value)).hexdigest()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def table_check(engine: Engine, table: Table, batch: int = BATCH) -> TableCheck:
    """Row count and order-independent content hash of ``table`` in ``engine``'s database."""
    total, n = 0, 0
    cols = [c.name for c in table.columns]
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(select(table))
        for part in result.partitions(batch):
            for row in part:
                canon = json.dumps([[c, _canon(v)] for c, v in zip(cols, row, strict=True)], ensure_ascii=False,
                                   default=str)
                total = (total + int.from_bytes(hashlib.sha256(canon.encode()).digest(), "big")) % _MOD
                n += 1
    return TableCheck(table.name, n, f"{total:064x}")


def _same_database(a: Engine, b: Engine) -> bool:
    from storage.db import sqlite_path

    pa, pb = sqlite_path(a.url.render_as_string(hide_password=False)), \
        sqlite_path(b.url.render_as_string(hide_password=False))
    if pa is not None or pb is not None:
        return pa is not None and pb is not None and pa.resolve() == pb.resolve()
    ua, ub = a.url, b.url
    return (ua.get_backend_name(), ua.host, ua.port, ua.database) == (ub.get_backend_name(), ub.host, ub.port,
                                                                       ub.database)


def _fix_sequences(conn: Any) -> None:
    """Move PostgreSQL's serial sequences past the ids copied in explicitly."""
    for t in tables():
        pk = list(t.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, Integer) and pk[0].autoincrement in (True, "auto"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t.name}', '{pk[0].name}'), "
                              f"COALESCE(MAX({pk[0].name}), 1), MAX({pk[0].name}) IS NOT NULL) FROM {t.name}"))


def copy_archive(src: Engine, dst: Engine, batch: int = BATCH,
                 progress: Callable[[str, int], None] | None = None) -> list[TableCheck]:
    """Copy every row of the archive at ``src`` into the empty database ``dst`` and verify it; the per-table
    checks (equal on both sides).  CopyError when refused or when the copy differs."""
    if _same_database(src, dst):
        raise CopyError(f"{describe(dst)} is the archive being copied")
    check_current(src)
    busy = first_rows(dst)
    if busy is not None:
        raise CopyError(f"{describe(dst)} is not empty (table {busy} has rows): a copy goes to an empty database")
    upgrade(dst)
    with src.connect() as rconn, dst.begin() as wconn:
        for t in tables():
            n = 0
            result = rconn.execution_options(stream_results=True, yield_per=batch).execute(
                select(t).order_by(*t.primary_key.columns))
            for part in result.partitions(batch):
                wconn.execute(t.insert(), [dict(row._mapping) for row in part])
                n += len(part)
                if progress is not None:
                    progress(t.name, n)
            if progress is not None and n == 0:
                progress(t.name, 0)
        if dst.dialect.name == "postgresql":
            _fix_sequences(wconn)
    from storage.db import make_session_factory

    with make_session_factory(dst).begin() as session:
        search.rebuild(session)
        search.check(session)
    checks = []
    for t in tables():
        a, b = table_check(src, t, batch), table_check(dst, t, batch)
        if (a.rows, a.digest) != (b.rows, b.digest):
            raise CopyError(f"the copy differs in table {t.name}: {a.rows} rows (hash {a.digest[:16]}) in the "
                            f"archive, {b.rows} rows (hash {b.digest[:16]}) in {describe(dst)}")
        checks.append(a)
    return checks
