"""FAULTS.md E: scope and the local attack surface.  E1 and E3 (internal addresses in every spelling, names
resolving inside, look-alike hosts, canaries) are tests/test_scope.py; the scheme links and redirects of E2 are
tests/test_faults_c.py (C7) and test_scope.py."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from tests.conftest import ROOT, Page, Site, _handler, process_tree, run_cli
from tests.faultkit import (
    ROBOTS_ALLOW,
    RawServer,
    http_head,
    mock_resolver,
    one,
    run_errors,
    setup,
    source_toml,
)
from tests.sitefixture import article_html, listing_html, paragraphs

ROBOTS = Page(ROBOTS_ALLOW, headers={"Content-Type": "text/plain"})


# ---------------------------------------------------------------- E2 the download handlers themselves

_SPIDER = r'''
import json, sys
import scrapy
from scrapy.crawler import CrawlerProcess
from config.settings import Settings
from crawler.settings import base_settings

settings = base_settings(Settings(db_url="sqlite://"))
settings["ITEM_PIPELINES"] = {}
# the scope check taken away: what is left is the download handlers (file, data, ftp, s3 switched off)
settings["DOWNLOADER_MIDDLEWARES"] = {**settings["DOWNLOADER_MIDDLEWARES"], "crawler.scope.ScopeMiddleware": None,
                                      "crawler.robots.RobotsPolicyMiddleware": None}
out = {}

class Direct(scrapy.Spider):
    name = "direct"

    async def start(self):
        for url in sys.argv[2:]:
            yield scrapy.Request(url, callback=self.ok, errback=self.err, dont_filter=True, cb_kwargs={"u": url})

    def ok(self, response, u):
        out[u] = "fetched: " + response.body[:200].decode("latin-1")

    def err(self, failure):
        out[failure.request.cb_kwargs["u"]] = "refused: " + type(failure.value).__name__

p = CrawlerProcess(settings)
p.crawl(Direct)
p.start()
open(sys.argv[1], "w").write(json.dumps(out))
'''


@pytest.mark.slow
def test_file_data_ftp_s3_requests_scheduled_directly_fail_at_download(tmp_path: Path) -> None:
    """FAULTS E2: with the scope middleware taken away, a Request for file:, data:, ftp: or s3: scheduled
    directly still fails: their download handlers are off (DOWNLOAD_HANDLERS), nothing of /etc/hostname read."""
    urls = ["file:///etc/hostname", "data:text/html,<h1>du-lieu</h1>", "ftp://127.0.0.1:9/x", "s3://bucket/key"]
    out = tmp_path / "out.json"
    r = subprocess.run([sys.executable, "-c", _SPIDER, str(out), *urls], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(out.read_text())
    assert set(got) == set(urls), got
    assert all(v == "refused: NotSupported" for v in got.values()), got


# ---------------------------------------------------------------- E1, E3 with a mock resolver: rebinding, look-alikes

@pytest.mark.slow
def test_names_resolving_inside_and_look_alikes_never_reach_the_canary(serve_site, tmp_path: Path) -> None:
    """FAULTS E1, E3: a name the source allows that resolves to a loopback canary (DNS rebinding: `tin.test` ->
    127.0.0.2), linked and redirected to, and look-alikes of an allowed `chinhphu.vn` (`chinhphu.vn.evil.test`,
    `evil-chinhphu.vn`, mapped to the canary too): canary hits = 0; the name is refused at the resolver (its
    robots.txt unreachable, its requests blocked), the look-alikes are refused as off-site before any lookup.
    The mock resolver answers every name (tests/faultkit.py): nothing is looked up on the network."""
    canary = RawServer(lambda c, path, req: c.sendall(http_head(6) + b"canary"), host="127.0.0.2")
    port = canary.base.rsplit(":", 1)[1]
    evil = [f"http://tin.test:{port}/bai-viet/doi-ten-2.html", f"http://chinhphu.vn.evil.test:{port}/bai-viet/gia-3.html",
            f"http://evil-chinhphu.vn:{port}/bai-viet/gia-4.html"]
    site = serve_site({"/robots.txt": ROBOTS, "/bai-viet/bai-so-1.html": Page(article_html(1, "Tin số 1 về hội nghị",
                                                                                          paragraphs(1))),
                       "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/chuyen-5.html", *evil])),
                       "/bai-viet/chuyen-5.html": Page(b"", 302, {"Location": evil[0].replace("-2.", "-6.")})})
    names = {"tin.test": "127.0.0.2", "chinhphu.vn.evil.test": "127.0.0.2", "evil-chinhphu.vn": "127.0.0.2",
             "chinhphu.vn": "127.0.0.2"}
    dns_env, lookups = mock_resolver(tmp_path, names=names)
    db, env = setup(tmp_path, source_toml(site.base, domains='["127.0.0.1", "tin.test", "chinhphu.vn"]'), **dns_env)
    try:
        r = run_cli("crawl", "fixture", "-q", env=env)
    finally:
        canary.close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert canary.log == [], f"the canary was reached: {canary.paths()}"
    errors = run_errors(db)
    assert errors.get("robots:unreachable", 0) + errors.get("refused:blocked_address", 0) >= 1, errors
    assert errors.get("refused:offsite", 0) >= 2, errors
    looked_up = lookups.read_text().split()
    assert "tin.test" in looked_up, "the rebinding name was never resolved: the test proves nothing"
    assert not {"chinhphu.vn.evil.test", "evil-chinhphu.vn"} & set(looked_up), looked_up
    assert one(db, "select count(*) from articles") == 1


# ---------------------------------------------------------------- E4 cookies and credentials on redirect

@pytest.mark.slow
def test_cookies_and_credentials_never_follow_a_redirect_to_another_host_or_port(serve_site, tmp_path: Path) -> None:
    """FAULTS E4: site A sets a cookie and its article 302s to host B (127.0.0.2) and to another port of A's
    host; B and the other port log their request headers: no Cookie, no Authorization, no Proxy-Authorization."""
    b = Site({"/bai-viet/bai-so-2.html": Page(article_html(2, "Tin số 2 về an ninh trật tự", paragraphs(2))),
              "/robots.txt": ROBOTS})
    server = ThreadingHTTPServer(("127.0.0.2", 0), _handler(b))  # another host (Linux routes 127/8 to lo)
    b.base = f"http://127.0.0.2:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    other = serve_site({"/bai-viet/bai-so-3.html": Page(article_html(3, "Tin số 3 về giao thông", paragraphs(3))),
                        "/robots.txt": ROBOTS})
    cookie = {"Content-Type": "text/html; charset=utf-8", "Set-Cookie": "phien=bi-mat-123; Path=/"}
    a = serve_site({
        "/robots.txt": Page(ROBOTS_ALLOW, headers={"Content-Type": "text/plain", "Set-Cookie": "phien=bi-mat-123; Path=/"}),
        "/": Page(listing_html(["/bai-viet/bai-so-1.html", "/bai-viet/sang-b-2.html", "/bai-viet/sang-cong-3.html"]),
                  headers=cookie),
        "/bai-viet/bai-so-1.html": Page(article_html(1, "Tin số 1 về hội nghị", paragraphs(1)), headers=cookie),
        "/bai-viet/sang-b-2.html": Page(b"", 302, {**cookie, "Location": f"{b.base}/bai-viet/bai-so-2.html"}),
        "/bai-viet/sang-cong-3.html": Page(b"", 302, {**cookie, "Location": f"{other.base}/bai-viet/bai-so-3.html"}),
    })
    db, env = setup(tmp_path, source_toml(a.base, domains='["127.0.0.1", "127.0.0.2"]'))
    try:
        r = run_cli("crawl", "fixture", "-q", env=env)
    finally:
        server.shutdown()
        server.server_close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert any(p == "/bai-viet/bai-so-1.html" and "bi-mat-123" in h.get("Cookie", "")
               for _, p, h in a.log), "the cookie was never sent back to A: the test proves nothing"
    for site in (b, other):
        hits = [(p, h) for _, p, h in site.log if p.startswith("/bai-viet/")]
        assert hits, "the redirect was not followed"
        for p, h in hits:
            sent = {k.lower() for k in h}
            assert not sent & {"cookie", "authorization", "proxy-authorization"}, (p, h)


# ---------------------------------------------------------------- E5 the daemon's local attack surface

def _listening_inodes() -> set[str]:
    out = set()
    for name in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if name.startswith("tcp") and f[3] != "0A":  # LISTEN
                continue
            if name.startswith("udp") and f[3] != "07":  # unconnected (bound) UDP
                continue
            out.add(f[9])
    return out


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


@pytest.fixture
def daemon(serve_site: Any, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Any]]:
    slow = {"n": 0}

    def slow_article() -> Page:
        slow["n"] += 1
        time.sleep(3)  # keeps a crawl (and its workers) alive while the test looks
        return Page(article_html(1, "Tin số 1 về hội nghị", paragraphs(1)))

    site = serve_site({"/robots.txt": ROBOTS, "/": Page(listing_html(["/bai-viet/bai-so-1.html"])),
                       "/bai-viet/bai-so-1.html": slow_article})
    db, env = setup(tmp_path, source_toml(site.base), VNARCHIVE_SCHEDULE_EVERY="2", VNARCHIVE_STOP_GRACE="10")
    p = subprocess.Popen([sys.executable, "-m", "crawler", "scheduler", "start"], cwd=ROOT,
                         env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    yield p, db, slow
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.mark.slow
def test_the_daemon_listens_on_nothing_and_keeps_its_files_private(daemon: Any) -> None:
    """FAULTS E5: the daemon and the crawls it runs (with their extraction workers) hold no listening socket
    (no telnet console, no remote control); the archive, its lock and control files are 0600 / 0700 and
    owned by the user running it; the job store is in memory (nothing pickled is read from disk)."""
    p, db, slow = daemon
    deadline = time.monotonic() + 60
    while slow["n"] == 0:  # a crawl is running
        assert time.monotonic() < deadline and p.poll() is None, p.stderr.read() if p.poll() is not None else ""
        time.sleep(0.2)
    time.sleep(1)
    procs = process_tree(p.pid)
    assert len(procs) >= 2, "no crawl child to look at"
    listening = _listening_inodes()
    for pid in procs:
        held = _socket_inodes(pid) & listening
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
        assert not held, f"process {pid} ({cmd!r}) listens on a socket"
    uid = os.getuid()
    files = [db, *[f for f in db.parent.iterdir() if f.name.startswith(db.name) and f != db]]
    for f in files:
        st = f.stat()
        assert st.st_uid == uid, f
        if f.is_dir():
            assert stat.S_IMODE(st.st_mode) & 0o077 == 0, f"{f}: {oct(st.st_mode)}"
        elif not f.name.endswith(("-wal", "-shm")):
            assert stat.S_IMODE(st.st_mode) & 0o077 == 0, f"{f}: {oct(st.st_mode)}"
    assert one(db, "select count(*) from sqlite_master where name like 'apscheduler%'") == 0
    assert not [f for f in db.parent.rglob("*") if f.suffix in (".pkl", ".pickle")]


# ---------------------------------------------------------------- E6 known-vulnerable dependencies

def test_dependencies_are_past_their_known_advisories() -> None:
    """FAULTS E6: Scrapy >= 2.13.4 (br/deflate decompression bombs, CVE-2025-6176), brotli >= 1.2.0 (br bomb
    protection), APScheduler >= 3.11.2 (the DST loop).  pip-audit needs the network: .ci/run's business, not a
    test's."""
    from importlib.metadata import version

    assert Version(version("scrapy")) >= Version("2.13.4")
    assert Version(version("brotli")) >= Version("1.2.0")
    assert Version(version("apscheduler")) >= Version("3.11.2")
    assert Version(version("twisted")) >= Version("24.7.0")  # CVE-2024-41671/41810 in twisted.web
    assert Version(version("lxml")) >= Version("5.0")
    for name in ("scrapy", "brotli", "apscheduler"):
        spec = [r for r in _requirements() if r.lower().startswith(name)]
        assert spec and (">=" in spec[0] or "==" in spec[0]), f"{name} is not pinned from below in pyproject.toml"


def _requirements() -> list[str]:
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(data["project"]["dependencies"])
