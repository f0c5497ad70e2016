"""Peak memory of `vnarchive crawl --all` over big archives (issue 10): 4 sources x 250,000 known articles.

    python3 bench/known_rss.py [--sources 4] [--known 250000] [--sitemap 50000] [--new 20] [--dir DIR]

Builds an archive with that many known articles per source (written straight into the tables, as old crawls
would have left them), serves each source on loopback (a 50,000-URL sitemap of known articles with their
<lastmod>, a home page, a few new articles; known articles answer 304 to their ETag), runs
`python -m crawler crawl --all` and samples the resident memory of the crawl and its extraction workers every
0.2 s from /proc.  The same crawl with 1,000 known articles per source is the baseline, measured in the same
run.  Prints the
peak RSS of the crawl process and of the whole process tree for both, and what the run fetched.
The target: under 500 MB for the crawl (the spider asks the archive instead of holding every known URL;
before, loading the known map alone took ~660 bytes a URL, about 660 MB for 1,000,000).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ARTICLE = """<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Tin mới số {n}</title>
<meta property="article:published_time" content="2024-10-03T08:00:00+07:00"></head><body>
<h1>Tin mới số {n} về hội nghị triển khai nhiệm vụ năm</h1><div class="body">{paras}</div></body></html>"""
PARA = ("<p>Sáng nay, tại Hà Nội, hội nghị triển khai nhiệm vụ năm {n} đã diễn ra với sự tham dự của đại biểu "
        "các bộ, ngành và địa phương; các đại biểu thảo luận về kết quả thực hiện và phương hướng sắp tới.</p>")


def sources_toml(bases: list[str], known: int, sitemap: int) -> str:
    out = ""
    for i, base in enumerate(bases, 1):
        out += f"""
[[source]]
id = "s{i}"
name = "Nguồn {i}"
allowed_domains = ["127.0.0.1"]
start_urls = ["{base}/"]
sitemaps = ["{base}/sitemap.xml"]
article_patterns = ['/bai-viet/[a-z0-9-]+-\\d+\\.html$']
[source.politeness]
download_delay = 0
concurrency = 8
autothrottle = false
retries = 0
[source.limits]
max_sitemap_urls = {sitemap}
max_pages = 5000
[source.revisit]
max_per_run = 500
"""
    return out


def build_archive(db: Path, toml: Path, n_sources: int, known: int) -> None:
    """Migrated archive, then `known` articles per source (one URL each) by bulk inserts."""
    from config import load_sources
    from pipelines.archive import key_for
    from storage.db import make_engine
    from storage.migrate import upgrade

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    engine.dispose()
    sources = load_sources(toml).sources
    now = dt.datetime.now(dt.UTC)
    seen = (now - dt.timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.000000")
    pub = "2024-10-01 01:00:00.000000"
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    aid = 0
    for src in sources:
        con.execute("INSERT INTO sources (id, name, created_at) VALUES (?, ?, ?)", (src.id, src.name, seen))
        base = src.start_urls[0].rstrip("/")
        for start in range(0, known, 50_000):
            arts, urls = [], []
            for n in range(start, min(known, start + 50_000)):
                aid += 1
                url = f"{base}/bai-viet/bai-so-{n}.html"
                arts.append((aid, src.id, url, "live", seen, seen, seen, pub, 1, f'"k{n}"', pub))
                urls.append((url, key_for(src, url), aid, seen))
            con.executemany("INSERT INTO articles (id, source_id, canonical_url, status, first_seen, last_seen, "
                            "last_fetched, published, current_version, etag, listed_lastmod) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", arts)
            con.executemany("INSERT INTO article_urls (url, key, article_id, first_seen) VALUES (?, ?, ?, ?)", urls)
            con.commit()
    con.close()


class Site:
    def __init__(self, known: int, sitemap: int, new: int) -> None:
        self.known, self.new = known, new
        self.requests = 0
        site = self
        # the most recent `sitemap` known articles with the lastmod they were archived for, and the new ones
        first = max(0, known - sitemap + new)
        self.sitemap = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/'
                        'sitemap/0.9">' + "".join(
                            f"<url><loc>{{base}}/bai-viet/bai-so-{n}.html</loc><lastmod>2024-10-01T08:00:00+07:00"
                            "</lastmod></url>" for n in range(first, known + new)) + "</urlset>")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                site.requests += 1
                base = f"http://127.0.0.1:{self.server.server_address[1]}"
                path = self.path
                status, body, headers = 200, b"", {"Content-Type": "text/html; charset=utf-8"}
                if path == "/robots.txt":
                    body, headers = b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}
                elif path == "/sitemap.xml":
                    body, headers = site.sitemap.replace("{base}", base).encode(), {"Content-Type": "application/xml"}
                elif path == "/":
                    body = "".join(f'<a href="/bai-viet/bai-so-{n}.html">x</a>'
                                   for n in range(site.known, site.known + site.new)).encode()
                elif path.startswith("/bai-viet/bai-so-"):
                    n = int(path.rsplit("-", 1)[1].split(".")[0])
                    etag = f'"k{n}"'
                    if self.headers.get("If-None-Match") == etag:
                        status = 304
                    else:
                        body = ARTICLE.format(n=n, paras="".join(PARA.format(n=n + k) for k in range(6))).encode()
                        headers["ETag"] = etag
                else:
                    status = 404
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def crawl(db: Path, toml: Path) -> tuple[float, float, float, str]:
    env = {**os.environ, "VNARCHIVE_DB": f"sqlite:///{db}", "VNARCHIVE_SOURCES": str(toml)}
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "--all", "--quiet"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_main = peak_tree = 0
    while p.poll() is None:
        peak_main = max(peak_main, rss_kb(p.pid))
        peak_tree = max(peak_tree, sum(rss_kb(x) for x in tree(p.pid)))
        time.sleep(0.2)
    out, err = p.communicate()
    if p.returncode != 0:
        print(err[-2000:], file=sys.stderr)
    return peak_main / 1024, peak_tree / 1024, time.monotonic() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sources", type=int, default=4)
    ap.add_argument("--known", type=int, default=250_000)
    ap.add_argument("--sitemap", type=int, default=50_000)
    ap.add_argument("--new", type=int, default=20)
    ap.add_argument("--dir", help="work folder (kept); a temporary one otherwise")
    a = ap.parse_args()
    work = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix="known-rss-"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    small = min(1000, a.known)
    for label, known in ((f"{a.sources} x {small:,} known (baseline)", small), (f"{a.sources} x {a.known:,} known", a.known)):
        # each source's site lists its latest known articles in its sitemap (unchanged) and a few new ones
        sites = [Site(known, min(a.sitemap, known), a.new) for _ in range(a.sources)]
        toml = work / f"sources-{known}.toml"
        toml.write_text(sources_toml([s.base for s in sites], known, a.sitemap), encoding="utf-8")
        db = work / f"archive-{known}.db"
        for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            f.unlink(missing_ok=True)
        t0 = time.monotonic()
        build_archive(db, toml, a.sources, known)
        built = time.monotonic() - t0
        main_mb, tree_mb, secs, out = crawl(db, toml)
        fetched = sum(s.requests for s in sites)
        results[label] = (main_mb, tree_mb)
        print(f"{label}: peak RSS crawl process {main_mb:.0f} MB, with extraction workers {tree_mb:.0f} MB; "
              f"{fetched} requests in {secs:.0f} s (archive built in {built:.0f} s, "
              f"{db.stat().st_size / 2**20:.0f} MB)")
        print("\n".join(line for line in out.splitlines() if line.startswith("│")))
        for s in sites:
            s.server.shutdown()
    (base_main, _), (big_main, big_tree) = results.values()
    print(f"known articles add {big_main - base_main:.0f} MB to the crawl process "
          f"({a.sources * a.known:,} known URLs); peak {big_main:.0f} MB "
          f"{'<' if big_main < 500 else '>='} 500 MB target")
    if not a.dir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
