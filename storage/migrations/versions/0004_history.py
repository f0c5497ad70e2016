"""history: listing backfill state, indexes for revisit batches and template pruning

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

``listing_state`` remembers, per source and listing, whether it was paged back once (the backfill) and by
which crawl it was last walked without loss, so that an interrupted first crawl is completed by the next ones.
Two indexes: articles by (source, last fetched), read in batches when a crawl picks its revisits, and
template blocks by (source, pages, last seen), for the scheduled pruning of blocks seen on one page only.
No table is rebuilt (the search triggers of 0002 stay).
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "listing_state",
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("backfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clean_run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_listing_state_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", "family", name=op.f("pk_listing_state")),
    )
    op.create_index("ix_template_blocks_prune", "template_blocks", ["source_id", "pages", "last_seen"])
    op.create_index("ix_articles_source_checked", "articles", ["source_id", "last_fetched"])


def downgrade() -> None:
    op.drop_index("ix_articles_source_checked", table_name="articles")
    op.drop_index("ix_template_blocks_prune", table_name="template_blocks")
    op.drop_table("listing_state")
