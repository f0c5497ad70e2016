"""Shared fixtures: a fresh migrated SQLite archive per test, a loopback HTTP site, the vnweb simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VNWEB = ROOT.parent / "shared" / "vnweb" / "vnweb.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A new, migrated SQLite archive."""
    from storage.db import make_engine
    from storage.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'archive.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def session_factory(db_url: str):  # type: ignore[no-untyped-def]
    from storage.db import make_engine, make_session_factory

    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


# ---------------------------------------------------------------- a small site on loopback

@dataclass
class Page:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})


@dataclass
class Site:
    """Pages by path (query included); tests change them between crawls. Every request is logged."""

    pages: dict[str, Any]  # path -> Page, or a callable returning one
    base: str = ""
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def paths_requested(self) -> list[str]:
        return [p for _, p, _ in self.log]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            site.log.append(("GET", self.path, dict(self.headers)))
            page = site.pages.get(self.path) or site.pages.get(self.path.split("?")[0] if "utm_" in self.path
                                                                 or "print=" in self.path else "\0")
            if callable(page):  # a page that answers differently over time (rate limits, flaky servers)
                page = page()
            if page is None:
                page = Page(b"<html><body><h1>404</h1></body></html>", 404)
            etag = page.headers.get("ETag")
            if etag and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(page.status)
            for k, v in page.headers.items():
                self.send_header(k, v.replace("{base}", site.base))
            body = page.body.replace(b"{base}", site.base.encode())
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def serve_site() -> Iterator[object]:
    """serve_site(pages) -> Site served on 127.0.0.1:<free port>; `{base}` in bodies is the site's URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(pages: dict[str, Page]) -> Site:
        site = Site(pages)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
        site.base = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return site

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def run_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`vnarchive ARGS` in a subprocess, as users run it (one Scrapy reactor per process)."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- the vnweb simulator (../shared/vnweb)

@dataclass
class VnWeb:
    manifest: dict
    port: int
    seed: int
    articles: int
    sources_file: Path

    def truth(self, day: int, out: Path) -> list[dict]:
        subprocess.run([sys.executable, str(VNWEB), "truth", "--seed", str(self.seed), "--articles",
                        str(self.articles), "--port", str(self.port), "--day", str(day), "--out", str(out)],
                       check=True, capture_output=True)
        return [json.loads(line) for line in out.open(encoding="utf-8")]

    def admin(self, what: str, post: bool = False) -> dict:
        import urllib.request

        req = urllib.request.Request(self.manifest["admin"] + what, method="POST" if post else "GET")
        return json.loads(urllib.request.urlopen(req, timeout=30).read())


def start_vnweb(tmp: Path, seed: int, articles: int, port: int) -> tuple[subprocess.Popen[bytes], VnWeb]:
    if not VNWEB.exists():
        pytest.skip(f"the vnweb simulator is not at {VNWEB} (it ships beside the project in ../shared)")
    manifest = tmp / "vnweb.json"
    proc = subprocess.Popen([sys.executable, str(VNWEB), "serve", "--seed", str(seed), "--articles", str(articles),
                             "--port", str(port), "--manifest", str(manifest)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        if manifest.exists():
            break
        if proc.poll() is not None:
            pytest.skip(f"vnweb could not start on port {port} (busy?)")
        time.sleep(0.1)
    sources = tmp / "vnweb.toml"
    sources.write_text((ROOT / "config" / "vnweb.toml").read_text(encoding="utf-8").replace(":8080", f":{port}"),
                       encoding="utf-8")
    return proc, VnWeb(json.loads(manifest.read_text()), port, seed, articles, sources)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
