"""The archive: SQLAlchemy models, engine factory, migrations and repository functions.  Knows no HTTP."""
