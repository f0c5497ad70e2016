"""analyst views: current_articles, article_versions, article_events_view, crawl_runs_view

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

SQL views a person can query (sqlite3, psql, Datasette) without reading code; docs/schema.md documents every
column.  The tables keep times as UTC (SQLite: naive UTC text), which puts an article published at 06:00 in
Hanoi on the previous day for ``date(published)``; every time in these views is text in Vietnam time with its
offset, ``2024-05-01T06:00:00+07:00`` (seconds precision), and ``*_day`` columns are the Vietnamese day
(``2024-05-01``).  Vietnam has kept UTC+07:00 since 1975 without daylight saving, so the offset is fixed:
the text sorts and compares as time does (``WHERE published >= '2024-05-01'``).

- ``current_articles``: one row per archived article (an article with at least one version, removed ones
  included: the same set as ``vnarchive export``) with its current version's fields.
- ``article_versions``: one row per version, with the capture it was extracted from.
- ``article_events_view``: one timeline per article: ``new`` (version 1), ``updated`` (a later version
  from another fetch of the page), and the rows of the ``article_events`` table (``removed``, ``reappeared``,
  ``moved``, ``redirected_away``, ``reextracted``).  A version made by ``vnarchive reextract`` (from the same
  capture as the version before it) is not an ``updated`` row: its ``reextracted`` event says it.
- ``crawl_runs_view``: crawl runs with their times, duration and counts.

``article_events`` and ``crawl_runs`` are table names already: their views take a ``_view`` suffix.

Views are named like tables: Alembic's autogenerate does not reflect views, so the models/migrations check is
unaffected.  A later migration that rebuilds ``articles``, ``versions``, ``captures``, ``sources``,
``article_events`` or ``crawl_runs`` in SQLite batch mode (copy, drop, rename) must call ``drop_views()``
first and ``create_views()`` after (SQLite refuses to rename a table while a view names a missing one), as
it must re-run 0002's ``sqlite_triggers()``.
"""

from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

VIEWS = ("current_articles", "article_versions", "article_events_view", "crawl_runs_view")


def _vn(col: str, dialect: str) -> str:
    """``col`` (a UTC timestamp) as ISO 8601 text in Vietnam time, NULL stays NULL."""
    if dialect == "postgresql":
        return f"(to_char({col} AT TIME ZONE INTERVAL '+07:00', 'YYYY-MM-DD\"T\"HH24:MI:SS') || '+07:00')"
    return f"strftime('%Y-%m-%dT%H:%M:%S+07:00', {col}, '+7 hours')"


def _vn_day(col: str, dialect: str) -> str:
    """The Vietnamese day of ``col`` as ``YYYY-MM-DD`` text."""
    if dialect == "postgresql":
        return f"to_char({col} AT TIME ZONE INTERVAL '+07:00', 'YYYY-MM-DD')"
    return f"strftime('%Y-%m-%d', {col}, '+7 hours')"


def _seconds(start: str, end: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST(round(EXTRACT(EPOCH FROM ({end} - {start}))) AS INTEGER)"
    return f"CAST(round((julianday({end}) - julianday({start})) * 86400) AS INTEGER)"


def view_sql(dialect: str) -> dict[str, str]:
    """The SELECT of each view, for ``dialect`` (``sqlite`` or ``postgresql``)."""
    t = lambda col: _vn(col, dialect)  # noqa: E731
    day = lambda col: _vn_day(col, dialect)  # noqa: E731
    errors = "r.errors::text" if dialect == "postgresql" else "r.errors"
    return {
        "current_articles": f"""
SELECT a.id AS id,
       a.source_id AS source,
       s.name AS source_name,
       a.canonical_url AS url,
       a.status AS status,
       v.title AS title,
       v.lead AS lead,
       v.text AS text,
       v.author AS author,
       {t('v.published')} AS published,
       {day('v.published')} AS published_day,
       {t('v.modified')} AS modified,
       v.language AS language,
       a.current_version AS version,
       (SELECT count(*) FROM versions x WHERE x.article_id = a.id) AS versions,
       {t('v.created_at')} AS captured_at,
       {t('a.first_seen')} AS first_seen,
       {t('a.last_seen')} AS last_seen,
       {t('a.last_fetched')} AS last_checked,
       {t('a.removed_at')} AS removed_at,
       a.story_id AS story_id,
       v.content_sha256 AS content_sha256,
       v.capture_id AS capture_id,
       v.page_canonical AS page_canonical,
       v.extractor AS extractor,
       v.extractor_version AS extractor_version
FROM articles a
JOIN versions v ON v.article_id = a.id AND v.number = a.current_version
JOIN sources s ON s.id = a.source_id""",
        "article_versions": f"""
SELECT v.article_id AS article_id,
       v.number AS version,
       CASE WHEN v.number = a.current_version THEN 1 ELSE 0 END AS is_current,
       a.source_id AS source,
       a.canonical_url AS url,
       {t('v.created_at')} AS captured_at,
       v.title AS title,
       v.lead AS lead,
       v.text AS text,
       v.author AS author,
       {t('v.published')} AS published,
       {day('v.published')} AS published_day,
       {t('v.modified')} AS modified,
       v.language AS language,
       v.content_sha256 AS content_sha256,
       v.extractor AS extractor,
       v.extractor_version AS extractor_version,
       v.page_canonical AS page_canonical,
       v.capture_id AS capture_id,
       c.final_url AS fetched_url,
       {t('c.fetched_at')} AS fetched_at,
       c.status AS http_status,
       c.body_sha256 AS body_sha256,
       c.body_size AS body_size,
       v.id AS version_id
FROM versions v
JOIN articles a ON a.id = v.article_id
LEFT JOIN captures c ON c.id = v.capture_id""",
        "article_events_view": f"""
SELECT {t('e.at')} AS at,
       {day('e.at')} AS day,
       e.article_id AS article_id,
       a.source_id AS source,
       a.canonical_url AS url,
       cur.title AS title,
       e.kind AS kind,
       e.detail AS detail,
       CAST(NULL AS INTEGER) AS version
FROM article_events e
JOIN articles a ON a.id = e.article_id
LEFT JOIN versions cur ON cur.article_id = a.id AND cur.number = a.current_version
UNION ALL
SELECT {t('v.created_at')} AS at,
       {day('v.created_at')} AS day,
       v.article_id AS article_id,
       a.source_id AS source,
       a.canonical_url AS url,
       cur.title AS title,
       CASE WHEN v.number = 1 THEN 'new' ELSE 'updated' END AS kind,
       CASE WHEN v.number = 1 THEN 'version 1' ELSE 'version ' || CAST(v.number AS TEXT) END AS detail,
       v.number AS version
FROM versions v
JOIN articles a ON a.id = v.article_id
LEFT JOIN versions cur ON cur.article_id = a.id AND cur.number = a.current_version
WHERE NOT EXISTS (SELECT 1 FROM versions p WHERE p.article_id = v.article_id AND p.number = v.number - 1
                  AND p.capture_id = v.capture_id)""",
        "crawl_runs_view": f"""
SELECT r.id AS id,
       r.source_id AS source,
       r.trigger AS trigger,
       r.status AS status,
       r.exit_code AS exit_code,
       {t('r.started_at')} AS started_at,
       {day('r.started_at')} AS started_day,
       {t('r.ended_at')} AS ended_at,
       {_seconds('r.started_at', 'r.ended_at', dialect)} AS seconds,
       r.pages_fetched AS pages_fetched,
       r.articles_new AS articles_new,
       r.articles_updated AS articles_updated,
       r.articles_unchanged AS articles_unchanged,
       r.articles_removed AS articles_removed,
       r.pages_skipped AS pages_skipped,
       {errors} AS errors,
       r.error AS error
FROM crawl_runs r""",
    }


def create_views() -> None:
    dialect = op.get_bind().dialect.name
    for name, select in view_sql(dialect).items():
        op.execute(f"CREATE VIEW {name} AS {select}")


def drop_views() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")


def upgrade() -> None:
    create_views()


def downgrade() -> None:
    drop_views()
