"""The `vnarchive` command: a thin layer over the library.  Expected failures are one line and a non-zero exit.

One module per command group, each over crawler.cli.common (consoles, options, errors, settings); this module
only assembles them, in the order `--help` lists them (crawl first: a newcomer needs it first).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from crawler.cli import crawl, db, export, history, reextract, scheduler, search, serve, show, try_url, worker
from crawler.cli.common import out

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Archive Vietnamese ministry and newspaper websites: crawl, keep versions, export.")


def version_line() -> str:
    """``vnarchive 0.1.0 (Python 3.11.2, Scrapy 2.13.3, trafilatura 2.0.0)``: what a bug report needs."""
    import platform
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    def of(name: str) -> str:
        try:
            return dist_version(name)
        except PackageNotFoundError:
            return "not installed"

    return (f"vnarchive {of('vnarchive')} (Python {platform.python_version()}, Scrapy {of('scrapy')}, "
            f"trafilatura {of('trafilatura')})")


def _print_version(value: bool) -> None:
    if value:
        out.print(version_line(), markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print vnarchive's version and exit.",
                                          callback=_print_version, is_eager=True)] = False,
) -> None:
    """Archive Vietnamese ministry and newspaper websites: crawl, keep versions, export."""


for _group in (crawl, db, export, history, search, show, serve, try_url, reextract, scheduler, worker):
    _group.register(app)


def _plain_help(cmd: Any) -> None:
    """Help that names what an option takes (``--source SOURCE``), not its Python type (``--source <str>``)."""
    from typer.core import TyperArgument, TyperOption

    for p in getattr(cmd, "params", ()):
        if isinstance(p, TyperOption) and not p.is_flag and p.metavar is None and p.name:
            p.metavar = p.name.upper()
        elif isinstance(p, TyperArgument):
            p.display_type_rich = lambda ctx: None  # type: ignore[method-assign]  # QUERY... alone
    for sub in getattr(cmd, "commands", {}).values():
        _plain_help(sub)


def main() -> None:
    cmd = typer.main.get_command(app)
    _plain_help(cmd)
    cmd()


if __name__ == "__main__":
    main()
