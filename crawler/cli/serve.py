"""`vnarchive serve`: the read-only web view (crawler.web) on a local port."""

from __future__ import annotations

from typing import Annotated

import typer

from crawler.cli.common import DbOpt, configured_sources, err, expected_errors, settings_for


def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    db: DbOpt = None,
) -> None:
    """Serve a read-only web view of the archive: search, browse by source and day, changes and removals
    (with Atom feeds), articles with diffs, lookup by URL, source health, and a JSON API under /api/."""
    from crawler.web import make_server

    with expected_errors():
        settings = settings_for(db)
        sources = configured_sources(db)  # none: URLs are looked up by their generic rules only, as `show` does
        server = make_server(settings.db_url, host, port, sources=sources)
    h, p = str(server.server_address[0]), server.server_address[1]
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"warning: listening on {host}: anyone who can reach it can read the archive", highlight=False)
    err.print(f"serving the archive read-only at http://{h}:{p}/ (Ctrl-C stops)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    """Add serve to the vnarchive command."""
    app.command("serve")(serve_cmd)
