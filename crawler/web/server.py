"""Serving the web view: waitress, with a fixed pool of worker threads, over a pool of read-only connections of
the same size. Requests beyond the workers wait in waitress's queue; nothing grows with the number of readers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import Flask
from sqlalchemy.engine import Engine
from waitress import create_server, wasyncore
from waitress.trigger import trigger

from config.sources import Source
from crawler.web.app import create_app
from crawler.web.db import reader_engine
from storage.migrate import check_current

THREADS = 8

# "Task queue depth is N": readers waiting for a worker is the pool doing its job, not a warning
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class WebServer:
    """waitress on (host, port); ``serve_forever`` until ``shutdown`` (from another thread) or Ctrl-C, then
    ``server_close``."""

    def __init__(self, app: Flask, engine: Engine, host: str, port: int, threads: int = THREADS) -> None:
        self._map: dict[int, Any] = {}
        self._engine = engine
        self._server = create_server(app, map=self._map, host=host, port=port, threads=threads,
                                     ident="vnarchive", asyncore_use_poll=True, expose_tracebacks=False)
        self._wake = trigger(self._map)  # runs a function in the server's own loop

    @property
    def server_address(self) -> tuple[str, int]:
        """The first address listened on (the port chosen, when 0 was asked for)."""
        listen = getattr(self._server, "effective_listen", None)
        host, port = listen[0] if listen else (self._server.effective_host, self._server.effective_port)
        return str(host), int(port)

    def serve_forever(self) -> None:
        self._server.run()

    def shutdown(self) -> None:
        """Make ``serve_forever`` return: its loop closes every socket, which ends it."""
        self._wake.pull_trigger(lambda: wasyncore.close_all(self._map))

    def server_close(self) -> None:
        self._server.task_dispatcher.shutdown()
        wasyncore.close_all(self._map)
        self._engine.dispose()


def make_server(db_url: str, host: str = "127.0.0.1", port: int = 8000, threads: int = THREADS,
                sources: Sequence[Source] = ()) -> WebServer:
    """The web view of the archive at ``db_url``, opened read-only, on (host, port); port 0 picks a free one.
    ``sources`` (the sources file's) give the lookup by URL each source's own URL rules, as in ``show``."""
    engine = reader_engine(db_url, threads)
    try:
        check_current(engine)
        return WebServer(create_app(engine, sources), engine, host, port, threads)
    except BaseException:
        engine.dispose()
        raise
