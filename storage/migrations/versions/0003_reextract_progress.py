"""reextract progress: where an interrupted `vnarchive reextract` of a source can resume

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

One small table; nothing else changes (articles and versions are not rebuilt, so the search triggers of
0002 stay as they are).
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "reextract_progress",
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=False),
        sa.Column("after_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_reextract_progress_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_reextract_progress")),
    )


def downgrade() -> None:
    op.drop_table("reextract_progress")
