"""What the FAULTS.md tests (tests/test_faults_*.py) share: a source file with the knobs a case needs, the
crawl's environment, queries on the archive, a raw-socket server for the faults http.server cannot make, and a
mock resolver so no name is ever looked up on the network."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROBOTS_ALLOW = b"User-agent: *\nAllow: /\n"


def source_toml(base: str, *, id: str = "fixture", domains: str = '["127.0.0.1"]', start: str = "/",
                extra: str = "", politeness: str = "", limits: str = "", retries: int = 0,
                timeout: float = 10, concurrency: int = 4) -> str:
    return f"""
[[source]]
id = "{id}"
name = "Báo Thử Nghiệm"
allowed_domains = {domains}
start_urls = ["{base}{start}"]
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html']
listing_patterns = ['/chuyen-muc/[a-z0-9-]+(\\?page=\\d+)?$']
sitemaps_from_robots = false
{extra}
[source.politeness]
download_delay = 0
concurrency = {concurrency}
autothrottle = false
retries = {retries}
timeout = {timeout}
{politeness}
[source.limits]
{limits}
"""


def setup(tmp_path: Path, toml: str, **env: str) -> tuple[Path, dict[str, str]]:
    (tmp_path / "s.toml").write_text(toml, encoding="utf-8")
    db = tmp_path / "a.db"
    return db, {"VNARCHIVE_DB": f"sqlite:///{db}", "VNARCHIVE_SOURCES": str(tmp_path / "s.toml"), **env}


def q(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def one(db: Path, sql: str, *args: Any) -> Any:
    return q(db, sql, *args)[0][0]


def run_errors(db: Path) -> dict[str, int]:
    """The errors by kind of the last run (what the summary prints)."""
    return json.loads(one(db, "select errors from crawl_runs order by id desc limit 1") or "{}")


def skipped(db: Path) -> dict[str, str]:
    """skipped_pages as {last path segment: reason}."""
    return {u.rsplit("/", 1)[1]: why for u, why in q(db, "select url, reason from skipped_pages")}


# ---------------------------------------------------------------- a raw-socket server

Handler = Callable[[socket.socket, str, bytes], None]


class RawServer:
    """Accepts connections on 127.0.0.1:<free port>; `handle(conn, path, request)` answers each (it may trickle,
    lie about lengths, reset, never answer).  Every request path is logged with its arrival time."""

    def __init__(self, handle: Handler, host: str = "127.0.0.1") -> None:
        self.handle = handle
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.base = f"http://{host}:{self.sock.getsockname()[1]}"
        self.log: list[tuple[float, str]] = []
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c: socket.socket) -> None:
        try:
            req = c.recv(65536)
            path = req.split(b" ", 2)[1].decode() if req.count(b" ") >= 2 else ""
            self.log.append((time.monotonic(), path))
            self.handle(c, path, req)
        except OSError:
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def paths(self) -> list[str]:
        return [p for _, p in self.log]

    def close(self) -> None:
        self.stopped = True
        self.sock.close()


def http_head(body_len: int | None, ctype: str = "text/html; charset=utf-8", status: str = "200 OK",
              extra: str = "") -> bytes:
    length = f"Content-Length: {body_len}\r\n" if body_len is not None else ""
    return f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n{length}{extra}Connection: close\r\n\r\n".encode()


# ---------------------------------------------------------------- a mock resolver for the crawl subprocess

SITECUSTOMIZE = '''
"""Test-only mock resolver (tests/faultkit.py): no name is looked up on the network.  Numeric hosts and
localhost resolve as usual; NAMES maps a name to an address; every other name fails like NXDOMAIN, after
SLOW seconds for names in SLOW_NAMES.  Every lookup is appended to LOG."""
import os, socket, time
_real = socket.getaddrinfo
NAMES = {names!r}
SLOW_NAMES = {slow!r}
LOG = {log!r}

def getaddrinfo(host, *args, **kw):
    h = host.decode() if isinstance(host, bytes) else host
    with open(LOG, "a") as f:
        f.write(f"{{h}}\\n")
    if h is None or h == "localhost":
        return _real(host, *args, **kw)
    if h in NAMES:
        return _real(NAMES[h], *args, **kw)
    try:
        _real(h, None, 0, 0, 0, socket.AI_NUMERICHOST)
        return _real(host, *args, **kw)
    except socket.gaierror:
        pass
    if h in SLOW_NAMES:
        time.sleep(SLOW_NAMES[h])
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

socket.getaddrinfo = getaddrinfo
'''


def mock_resolver(tmp_path: Path, names: dict[str, str] | None = None,
                  slow: dict[str, float] | None = None) -> tuple[dict[str, str], Path]:
    """The environment that installs the mock resolver in a crawl subprocess, and the file of its lookups."""
    d = tmp_path / "mockdns"
    d.mkdir(exist_ok=True)
    log = d / "lookups.log"
    log.write_text("")
    (d / "sitecustomize.py").write_text(SITECUSTOMIZE.format(names=names or {}, slow=slow or {}, log=str(log)),
                                        encoding="utf-8")
    import os

    path = os.pathsep.join(p for p in (str(d), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path}, log
