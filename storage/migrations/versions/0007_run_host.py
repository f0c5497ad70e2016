"""crawl runs record their host: the machine or `vnarchive worker` that ran them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

With crawl workers on several machines writing one archive, a run's ``pid`` means something on one machine
only: ``crawl_runs.host`` names it (``$VNARCHIVE_HOST``, which a worker sets to its name, else the machine's
name).  Runs recorded before this revision have none (NULL).

``op.add_column`` needs no table rebuild on SQLite (ALTER TABLE ADD COLUMN), so the views of 0006 stay; only
``crawl_runs_view`` is dropped and created again, with a ``host`` column after ``trigger``.  A later migration
that rebuilds a table the views read (see 0006) calls this module's ``drop_views()`` and ``create_views()``,
not 0006's, which would bring back the view without ``host``.
"""

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

RUNS_VIEW = "crawl_runs_view"


def _v6() -> ModuleType:
    """Migration 0006 (its file name is no module name), for its view helpers."""
    path = Path(__file__).with_name("0006_analyst_views.py")
    spec = importlib.util.spec_from_file_location("vnarchive_migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def view_sql(dialect: str) -> dict[str, str]:
    """0006's views, ``crawl_runs_view`` with ``host``."""
    views = _v6().view_sql(dialect)
    old = views[RUNS_VIEW]
    anchor = "       r.trigger AS trigger,\n"
    assert anchor in old, "0006's crawl_runs_view changed: fix 0007"
    views[RUNS_VIEW] = old.replace(anchor, anchor + "       r.host AS host,\n")
    return views


def create_views() -> None:
    for name, select in view_sql(op.get_bind().dialect.name).items():
        op.execute(f"CREATE VIEW {name} AS {select}")


def drop_views() -> None:
    _v6().drop_views()


def upgrade() -> None:
    op.add_column("crawl_runs", sa.Column("host", sa.String(length=255), nullable=True))
    op.execute(f"DROP VIEW IF EXISTS {RUNS_VIEW}")
    op.execute(f"CREATE VIEW {RUNS_VIEW} AS {view_sql(op.get_bind().dialect.name)[RUNS_VIEW]}")


def downgrade() -> None:
    v6 = _v6()
    v6.drop_views()  # batch mode rebuilds crawl_runs on SQLite: no view may name it meanwhile
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("host")
    v6.create_views()
