"""CLI conventions (issue 13): --version, the packaged sources file found from anywhere, unknown --source is an
error, URL forms resolved as history does, --raw bytes exact, --json on the commands that print data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import ROOT


def invoke(*args: str, env: dict[str, str] | None = None) -> object:
    from crawler.cli import app

    return CliRunner().invoke(app, list(args), env=env)


def test_version() -> None:
    r = invoke("--version")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("vnarchive 0.") and "trafilatura" in r.stdout


def test_packaged_sources_found_outside_the_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "VNARCHIVE_SOURCES"}
    r = subprocess.run([sys.executable, "-m", "crawler", "sources", "--json"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    ids = [json.loads(line)["id"] for line in r.stdout.splitlines()]
    assert len(ids) >= 9 and "baochinhphu" in ids
    # VNARCHIVE_SOURCES still wins
    r = subprocess.run([sys.executable, "-m", "crawler", "sources", "--json"], cwd=tmp_path, capture_output=True,
                       env={**env, "VNARCHIVE_SOURCES": str(ROOT / "config" / "vnweb.toml")}, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "baochinhphu" not in r.stdout and len(r.stdout.splitlines()) == 4


def test_packaged_sources_is_package_data() -> None:
    import tomllib

    from config.settings import DEFAULT_SOURCES, PACKAGED_SOURCES

    assert Path(DEFAULT_SOURCES) == PACKAGED_SOURCES and PACKAGED_SOURCES.is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.toml" in pyproject["tool"]["setuptools"]["package-data"]["config"]
