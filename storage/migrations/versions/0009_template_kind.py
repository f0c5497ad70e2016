"""template_blocks.kind: whether a learnt row is a block, a title or a lead's opening

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

A row's ``block_hash`` hashes its kind with its key (``pipelines.template_keys.block_hash``), so the kind could
only be found by working out the key of the row's sample and hashing it three ways.  The extraction workers did
that for every row they read back into their index of a source's titles and leads (``KnownKeys``), though nine
rows in ten are blocks, which the index does not hold: that was the largest part of applying the template in a
crawl.  New rows say their kind ("b", "t", "l"); rows learnt before this revision have none (NULL) and are read
as before.  ``op.add_column`` needs no table rebuild on SQLite (ALTER TABLE ADD COLUMN).
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("template_blocks", sa.Column("kind", sa.String(length=1), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("template_blocks") as batch:
        batch.drop_column("kind")
