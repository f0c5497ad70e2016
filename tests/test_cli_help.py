"""Help text names what an option takes, never a Python type placeholder (issue 13)."""

from __future__ import annotations

import re

import typer

from crawler.cli import _plain_help, app
from tests.conftest import run_cli


def _commands(cmd: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    out: list[tuple[tuple[str, ...], object]] = [(path, cmd)]
    for name, sub in getattr(cmd, "commands", {}).items():
        out += _commands(sub, (*path, name))
    return out


def test_no_help_page_shows_a_type_placeholder() -> None:
    """Every command's help, rendered in-process as ``main()`` renders it."""
    cmd = typer.main.get_command(app)
    _plain_help(cmd)
    commands = _commands(cmd)
    assert len(commands) > 10
    for path, c in commands:
        text = c.get_help(typer.Context(c, info_name=" ".join(("vnarchive", *path))))  # type: ignore[attr-defined]
        assert not re.search(r"<(str|int|float|list\[\w+\]|path|bool)>", text), (path, text)


def test_an_option_shows_its_name_as_what_it_takes() -> None:
    """The same through the installed entry point."""
    r = run_cli("search", "--help", env={})
    assert r.returncode == 0
    assert "--source SOURCE" in r.stdout and "QUERY..." in r.stdout and "<str>" not in r.stdout
