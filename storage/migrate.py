"""Schema migrations (Alembic), run by `vnarchive db upgrade` and automatically on a new archive."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Engine

from storage.db import ArchiveError, describe, table_names

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the archive to ``revision``; returns (before, after)."""
    tables = table_names(engine)  # raises ArchiveError on a file that is not a database
    if tables and "alembic_version" not in tables:
        raise ArchiveError(f"{describe(engine)} holds tables but no vnarchive schema version: refusing to touch "
                           "a database vnarchive did not create")
    before = current_revision(engine)
    check_known(engine, before)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    after = current_revision(engine)
    if before != after:
        logger.info("archive schema upgraded from %s to %s", before, after)
    return before, after


def check_known(engine: Engine, revision: str | None) -> None:
    """A schema version this vnarchive has no migration for was written by a newer vnarchive."""
    if revision is None:
        return
    script = ScriptDirectory.from_config(alembic_config(engine))
    try:
        known = script.get_revision(revision) is not None
    except CommandError:
        known = False
    if not known:
        raise ArchiveError(f"the archive's schema version {revision} is newer than this vnarchive knows: "
                           "upgrade vnarchive (pip install -U vnarchive)")


def ensure_current(engine: Engine) -> None:
    """Create or upgrade the schema when needed (crawl does this; read-only commands only check)."""
    if current_revision(engine) != head_revision(engine):
        upgrade(engine)


def check_current(engine: Engine) -> None:
    if not table_names(engine):
        raise ArchiveError(f"{describe(engine)} is empty: run `vnarchive crawl` or `vnarchive db upgrade` first")
    cur, head = current_revision(engine), head_revision(engine)
    check_known(engine, cur)
    if cur != head:
        raise ArchiveError(f"the archive's schema is at {cur}, this vnarchive needs {head}: "
                           "run `vnarchive db upgrade`")
