"""Help text names what an option takes, never a Python type placeholder (issue 13)."""

from __future__ import annotations

import re

import typer

from crawler.cli import _plain_help, app
from tests.conftest import run_cli


def _commands(cmd: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, sub in getattr(cmd, "commands", {}).items():
        out += _commands(sub, (*path, name))
    return out


def test_no_help_page_shows_a_type_placeholder() -> None:
    cmd = typer.main.get_command(app)
    _plain_help(cmd)
    paths = _commands(cmd)
    assert len(paths) > 10
    for path in paths:
        r = run_cli(*path, "--help", env={})
        assert r.returncode == 0, (path, r.stderr)
        assert not re.search(r"<(str|int|float|list\[\w+\]|path|bool)>", r.stdout), (path, r.stdout)


def test_an_option_shows_its_name_as_what_it_takes() -> None:
    r = run_cli("search", "--help", env={})
    assert "--source SOURCE" in r.stdout and "QUERY..." in r.stdout
