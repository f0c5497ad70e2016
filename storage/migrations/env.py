"""Alembic environment: migrations run on the connection vnarchive hands over (see storage.migrate)."""

from __future__ import annotations

from alembic import context

from storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `vnarchive db upgrade`, which provides the connection")

# render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
