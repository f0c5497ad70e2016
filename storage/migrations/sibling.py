"""Loading another migration of ``versions/`` as a module (their file names, ``0006_analyst_views.py``, are no
module names): a later migration reuses an earlier one's view or trigger DDL instead of writing it again."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

VERSIONS = Path(__file__).with_name("versions")


def migration(filename: str) -> ModuleType:
    """The migration in ``versions/filename``, loaded afresh."""
    path = VERSIONS / filename
    spec = importlib.util.spec_from_file_location(f"vnarchive_migration_{path.stem.split('_', 1)[0]}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
