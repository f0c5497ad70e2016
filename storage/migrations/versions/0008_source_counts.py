"""source_counts: each source's articles, removed articles, versions and newest article, kept by triggers (SQLite)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

``vnarchive stats`` counted them with GROUP BY over ``articles`` and a join of ``versions``: a scan of the archive
(0.3 s at 100k articles, seconds at a million).  On SQLite this table holds the counts and triggers keep them
in step with every write that commits, as 0002's triggers keep the search index: reading them costs one row
per source.  Every write path is covered (the archive's, a plain sqlite3 client's, a rollback undoes the
counts with the rows):

- an article inserted, deleted, or whose ``status``, ``source_id`` or ``first_seen`` changes;
- a version inserted or deleted (a version deleted by the cascade of its article's deletion is counted by
  the article's BEFORE DELETE trigger, which still sees them; the cascade that follows finds no article).

PostgreSQL computes the same figures with its aggregates (parallel index scans), and the table stays empty
there: counters would put every writer of a source on one locked row, and writers of several sources (group
commit, workers on several machines) could deadlock on them.

A later migration that rebuilds ``articles`` or ``versions`` in SQLite batch mode must re-run
``sqlite_triggers()`` of this module (batch mode drops a table's triggers), as it must 0002's.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TRIGGER_NAMES = ("source_counts_articles_ai", "source_counts_articles_au", "source_counts_articles_au_move",
                 "source_counts_articles_bd",
                 "source_counts_versions_ai", "source_counts_versions_ad")


def _add(source: str, articles: str = "0", removed: str = "0", versions: str = "0",
         first_seen: str | None = None) -> str:
    """Statements adding these amounts to ``source``'s row (created if missing)."""
    newest = (f"last_new_article = CASE WHEN last_new_article IS NULL OR {first_seen} > last_new_article "
              f"THEN {first_seen} ELSE last_new_article END," if first_seen else "")
    return (f"INSERT OR IGNORE INTO source_counts (source_id, articles, removed, versions) VALUES ({source}, 0, 0, 0);\n"
            f"  UPDATE source_counts SET {newest} articles = articles + ({articles}), removed = removed + ({removed}), "
            f"versions = versions + ({versions}) WHERE source_id = {source};")


def _newest_without(source: str, article: str) -> str:
    return (f"UPDATE source_counts SET last_new_article = (SELECT max(first_seen) FROM articles "
            f"WHERE source_id = {source} AND id IS NOT {article}) WHERE source_id = {source};")


def sqlite_triggers() -> list[str]:
    versions_of = "(SELECT count(*) FROM versions WHERE article_id = {a})"
    removed = "(CASE WHEN {r}.status = 'removed' THEN 1 ELSE 0 END)"
    return [
        f"""CREATE TRIGGER source_counts_articles_ai AFTER INSERT ON articles BEGIN
  {_add('NEW.source_id', '1', removed.format(r='NEW'), versions_of.format(a='NEW.id'), 'NEW.first_seen')}
END""",
        # removed or back: the removed count moves (the common update, one row touched)
        f"""CREATE TRIGGER source_counts_articles_au AFTER UPDATE OF status ON articles
WHEN OLD.source_id IS NEW.source_id AND OLD.first_seen IS NEW.first_seen BEGIN
  {_add('NEW.source_id', removed=removed.format(r='NEW') + ' - ' + removed.format(r='OLD'))}
END""",
        # moved to another source, or first seen at another time (never done by vnarchive): out of the old
        # source's figures, into the new one's
        f"""CREATE TRIGGER source_counts_articles_au_move AFTER UPDATE OF source_id, first_seen ON articles
WHEN OLD.source_id IS NOT NEW.source_id OR OLD.first_seen IS NOT NEW.first_seen BEGIN
  {_add('OLD.source_id', '-1', '-' + removed.format(r='OLD'), '-' + versions_of.format(a='OLD.id'))}
  {_newest_without('OLD.source_id', 'OLD.id')}
  {_add('NEW.source_id', '1', removed.format(r='NEW'), versions_of.format(a='NEW.id'), 'NEW.first_seen')}
END""",
        # BEFORE: its versions still exist (the cascade that follows finds no article and counts nothing)
        f"""CREATE TRIGGER source_counts_articles_bd BEFORE DELETE ON articles BEGIN
  {_add('OLD.source_id', '-1', '-' + removed.format(r='OLD'), '-' + versions_of.format(a='OLD.id'))}
  {_newest_without('OLD.source_id', 'OLD.id')}
END""",
        """CREATE TRIGGER source_counts_versions_ai AFTER INSERT ON versions BEGIN
  UPDATE source_counts SET versions = versions + 1
  WHERE source_id = (SELECT source_id FROM articles WHERE id = NEW.article_id);
END""",
        """CREATE TRIGGER source_counts_versions_ad AFTER DELETE ON versions BEGIN
  UPDATE source_counts SET versions = versions - 1
  WHERE source_id = (SELECT source_id FROM articles WHERE id = OLD.article_id);
END""",
    ]


def backfill_sqlite() -> None:
    """The counts of what the archive already holds."""
    op.execute("DELETE FROM source_counts")
    op.execute("""INSERT INTO source_counts (source_id, articles, removed, versions, last_new_article)
SELECT source_id, count(*), sum(CASE WHEN status = 'removed' THEN 1 ELSE 0 END), 0, max(first_seen)
FROM articles GROUP BY source_id""")
    op.execute("""UPDATE source_counts SET versions = (SELECT count(*) FROM versions v JOIN articles a
ON a.id = v.article_id WHERE a.source_id = source_counts.source_id)""")


def upgrade() -> None:
    op.create_table(
        "source_counts",
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("articles", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("last_new_article", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_counts")),
    )
    if op.get_bind().dialect.name == "sqlite":
        backfill_sqlite()
        for ddl in sqlite_triggers():
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("source_counts")
