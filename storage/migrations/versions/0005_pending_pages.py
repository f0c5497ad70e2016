"""pending pages: article pages fetched and stored but not yet archived

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

A crawl commits each fetched article page (its capture, outcome ``pending``, and a ``pending_pages`` row)
before extracting it, and archives it in a second transaction that deletes the row; the next crawl of the
source archives what is still pending from the stored bytes instead of fetching it again.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "pending_pages",
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("page", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_id"],
            ["captures.id"],
            name=op.f("fk_pending_pages_capture_id_captures"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_pending_pages_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("capture_id", name=op.f("pk_pending_pages")),
    )
    op.create_index(op.f("ix_pending_pages_source_id"), "pending_pages", ["source_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_pages_source_id"), table_name="pending_pages")
    op.drop_table("pending_pages")
