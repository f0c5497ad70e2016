"""History over several simulated days on sites added by config only: the Liferay ministry portal and the
WordPress provincial paper of bench/vnweb_liferay.py and bench/vnweb_wordpress.py (issue 10, "Done when").

    python3 bench/history_sites.py [--seed 7] [--articles 200] [--days 4] [--port 38480] [--keep DIR]

Starts ../shared/vnweb with both templates on its own port, writes a sources file from the manifest and each
template's ``vnarchive`` hints (bench/fidelity.py's ``sources_file``: what a new user writes), crawls the two
extra sites on day 0 and after each simulated day, and scores the export against the simulator's truth the way
``accept.py history`` does: edits kept as versions, removals marked, moved articles kept once, versions the
site never published (phantoms), plus the requests of the last day's crawl against the first's.
Prints one line per site and exits 0 only when every edit, removal and move was kept and nothing is phantom.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VNWEB = ROOT.parent / "shared" / "vnweb" / "vnweb.py"
EXTRA = [HERE / "vnweb_liferay.py", HERE / "vnweb_wordpress.py"]
sys.path.insert(0, str(HERE))

from fidelity import sources_file  # noqa: E402


def admin(manifest: dict[str, Any], what: str, post: bool = False) -> dict[str, Any]:
    req = urllib.request.Request(manifest["admin"] + what, method="POST" if post else "GET")
    return json.loads(urllib.request.urlopen(req, timeout=60).read())


def url_index(truth: list[dict[str, Any]]) -> dict[str, str]:
    idx = {}
    for r in truth:
        if r["current"]:
            for u in [r["canonical_url"], *r.get("url_variants", []), *r.get("previous_urls", [])]:
                idx[u] = idx[u.rstrip("/")] = r["article_id"]
    return idx


def article_of(row: dict[str, Any], idx: dict[str, str]) -> str | None:
    for u in [row.get("url") or "", *(row.get("urls") or [])]:
        aid = idx.get(u) or idx.get(u.rstrip("/"))
        if aid:
            return aid
    return None


def score(site: str, truth: list[dict[str, Any]], rows: list[dict[str, Any]], versions: list[dict[str, Any]]) -> dict[str, Any]:
    cur = [r for r in truth if r["current"] and r["site"] == site and not r.get("hostile")]
    idx = url_index(truth)
    by_article: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in rows:
        aid = article_of(row, idx)
        if aid:
            by_article[aid].append(row)
    vcount: collections.Counter[str] = collections.Counter()
    for v in versions:
        aid = article_of(v, idx)
        if aid:
            vcount[aid] += 1
    edited = [r for r in cur if r["version"] > 1 and r.get("http_status") == 200]
    removed = [r for r in cur if r["status"] == "removed"]
    moved = [r for r in cur if r.get("previous_urls") and r.get("http_status") == 200]
    live = [r for r in cur if r.get("http_status") == 200]
    truth_versions = {r["article_id"]: r["version"] for r in cur}
    return {
        "live": len(live), "found": sum(1 for r in live if by_article.get(r["article_id"])),
        "edited": len(edited), "edits_kept": sum(1 for r in edited if vcount[r["article_id"]] >= r["version"]),
        "removed": len(removed),
        "removals_marked": sum(1 for r in removed if any(x.get("status") == "removed"
                                                         for x in by_article.get(r["article_id"], []))),
        "moved": len(moved), "moved_once": sum(1 for r in moved if len(by_article.get(r["article_id"], [])) == 1),
        "phantom_versions": sum(max(0, c - truth_versions[a]) for a, c in vcount.items() if a in truth_versions),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--port", type=int, default=38480)
    ap.add_argument("--keep", help="keep the work folder (archive, truth, sources file) here")
    a = ap.parse_args()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="history-sites-"))
    work.mkdir(parents=True, exist_ok=True)
    for f in ("archive.db", "archive.db-wal", "archive.db-shm", "vnweb.json"):
        (work / f).unlink(missing_ok=True)
    common = ["--articles", str(a.articles), "--seed", str(a.seed), "--port", str(a.port),
              "--extra-sites", ",".join(map(str, EXTRA))]
    web = subprocess.Popen([sys.executable, str(VNWEB), "serve", *common, "--manifest", str(work / "vnweb.json")],
                           stdout=subprocess.DEVNULL, stderr=open(work / "vnweb.log", "w"))
    try:
        for _ in range(600):
            if (work / "vnweb.json").exists() or web.poll() is not None:
                break
            time.sleep(0.1)
        if not (work / "vnweb.json").exists():
            print(f"vnweb did not start (port {a.port} busy?); see {work / 'vnweb.log'}", file=sys.stderr)
            return 2
        manifest = json.loads((work / "vnweb.json").read_text(encoding="utf-8"))
        sites = [s for s in manifest["sites"] if s in ("bnv", "bsh")]
        (work / "sources.toml").write_text(sources_file(manifest, a.port, EXTRA), encoding="utf-8")
        env = {**os.environ, "VNARCHIVE_DB": f"sqlite:///{work / 'archive.db'}",
               "VNARCHIVE_SOURCES": str(work / "sources.toml")}

        def vnarchive(*args: str) -> None:
            r = subprocess.run([sys.executable, "-m", "crawler", *args], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=3600)
            if r.returncode != 0:
                raise SystemExit(f"vnarchive {' '.join(args)} exited {r.returncode}: {r.stderr[-800:]}")

        vnarchive("crawl", *sites, "--quiet")
        first = {s: admin(manifest, "stats")["sites"][s]["requests"] for s in sites}
        for _ in range(a.days):
            admin(manifest, "advance", post=True)
            admin(manifest, "reset-stats", post=True)
            vnarchive("crawl", *sites, "--quiet")
        last = {s: admin(manifest, "stats")["sites"][s]["requests"] for s in sites}
        truth_file = work / "truth.jsonl"
        subprocess.run([sys.executable, str(VNWEB), "truth", *common, "--day", str(a.days), "--out", str(truth_file)],
                       check=True, capture_output=True)
        truth = [json.loads(line) for line in truth_file.open(encoding="utf-8")]
        vnarchive("export", "--format", "jsonl", "--out", str(work / "export.jsonl"))
        vnarchive("export", "--format", "jsonl", "--versions", "--out", str(work / "versions.jsonl"))
        rows = [json.loads(line) for line in (work / "export.jsonl").open(encoding="utf-8") if line.strip()]
        versions = [json.loads(line) for line in (work / "versions.jsonl").open(encoding="utf-8") if line.strip()]
    finally:
        web.terminate()
        web.wait(10)
    ok = True
    print(f"seed {a.seed}, {a.articles} stories, {a.days} simulated days, work folder {work}")
    for s in sites:
        f = score(s, truth, rows, versions)
        good = (f["edits_kept"] == f["edited"] and f["removals_marked"] == f["removed"]
                and f["moved_once"] == f["moved"] and f["phantom_versions"] == 0)
        ok = ok and good
        print(f"{s}: live={f['live']} found={f['found']} edited={f['edited']} kept={f['edits_kept']} "
              f"removed={f['removed']} marked={f['removals_marked']} moved={f['moved']} once={f['moved_once']} "
              f"phantom_versions={f['phantom_versions']} requests day0={first[s]} day{a.days}={last[s]} "
              f"{'ok' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
