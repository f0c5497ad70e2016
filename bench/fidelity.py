#!/usr/bin/env python3
"""Archive fidelity against vnweb ground truth, per site, beside plain trafilatura on the same captured pages.

    python3 bench/fidelity.py --truth TRUTH.jsonl --db sqlite:///archive.db [--reextract] [--json]
    python3 bench/fidelity.py --crawl [--seed 3] [--articles 300] [--port 38080] [--extra-sites FILE] [--keep DIR]

For every live truth article (current, HTTP 200, not a hostile case) found in the archive: mean token F1 of
lead+text against lead+body+captions, the share of pages below F1 0.95, the share leaking any truth
`boilerplate` string, and title / author / date accuracy; the scoring is the acceptance check's own
(``../shared/acceptance/fidelity.py``, see bench/scoring.py).  "plain" is trafilatura with its defaults on the
very capture the archived version was extracted from (``storage.repo.capture_body``), measured in this run.

plain trafilatura's title / author / date are scored the same way (its date is a day, so on sites that show a
time it only counts as right where the acceptance check compares days).

``--reextract`` also extracts those captures again with the current code, once without and once with the
template learner (learnt from the source's captures in fetch order, new articles only, then the end-of-run
refinement), to show what template learning adds without depending on how the archive pipeline wires it.

``--crawl`` starts the simulator on ``--port`` (never the acceptance port 8080 unless asked), writes a sources
file for that port (config/vnweb.toml, plus a [[source]] per extra site), crawls into a temporary archive with
``python -m crawler crawl --all``, writes the truth, and prints the report: one command per seed and size.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import scoring  # noqa: E402
from sqlalchemy import select  # noqa: E402

from pipelines import template as tpl  # noqa: E402
from pipelines.extract import extract_article, plain_trafilatura_fields  # noqa: E402
from pipelines.items import Extracted  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.export import iter_records  # noqa: E402
from storage.models import Capture, Version  # noqa: E402
from storage.repo import capture_body  # noqa: E402

VNWEB = ROOT.parent / "shared" / "vnweb" / "vnweb.py"
CORE_SITES = ("mps", "tgvn", "tinh", "bao")


# ---------------------------------------------------------------- figures

@dataclass
class Figures:
    n: int = 0
    f1: list[float] = field(default_factory=list)
    leaks: int = 0
    title: int = 0
    author: int = 0
    date: int = 0
    nfc: int = 0
    fffd: int = 0

    def add(self, row: dict[str, Any], rec: dict[str, Any], shows_time: set[str]) -> None:
        pred = scoring.predicted_text(row)
        self.n += 1
        self.f1.append(scoring.token_f1(pred, scoring.reference_text(rec))[2])
        self.leaks += bool(scoring.leaked_boilerplate(pred, rec))
        self.title += scoring.norm(row.get("title") or "") == scoring.norm(rec["title"])
        self.author += scoring.norm(row.get("author") or "") == scoring.norm(rec.get("author") or "")
        self.date += scoring.date_ok(row, rec, shows_time)
        blob = "".join(str(row.get(k) or "") for k in ("title", "lead", "text", "author"))
        self.nfc += unicodedata.is_normalized("NFC", blob)
        self.fffd += "\ufffd" in blob

    def summary(self) -> dict[str, float]:
        n = max(1, self.n)
        return {"n": self.n, "f1": sum(self.f1) / n, "lt095": sum(f < 0.95 for f in self.f1) / n,
                "leak": self.leaks / n, "title": self.title / n, "author": self.author / n, "date": self.date / n,
                "nfc": self.nfc / n, "fffd": self.fffd}


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


# ---------------------------------------------------------------- archive access

@dataclass(slots=True)
class Page:
    """A captured article page: what the archive made of it and the bytes it was made from."""

    source: str
    url: str
    body: bytes
    content_type: str | None
    capture_id: int
    article_id: int | None


def _ctype(headers: dict[str, str] | None) -> str | None:
    return next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), None)


def archive_rows(db_url: str) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Export rows (as `vnarchive export` writes them) and article id -> capture id of its current version."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    with factory() as s:
        rows = list(iter_records(s))
        caps = {a: c for a, c in s.execute(select(Version.article_id, Version.capture_id)
                                           .where(Version.capture_id.is_not(None))
                                           .order_by(Version.article_id, Version.number)).all() if c is not None}
    engine.dispose()
    return rows, caps


def captured_pages(db_url: str, capture_ids: Iterable[int] | None = None) -> list[Page]:
    """Captures with a body, in fetch order (all article pages of every source, or the given ones)."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    out = []
    with factory() as s:
        q = select(Capture).where(Capture.body.is_not(None)).order_by(Capture.id)
        if capture_ids is not None:
            q = q.where(Capture.id.in_(list(capture_ids)))
        for cap in s.execute(q).scalars():
            body = capture_body(cap)
            if body is not None:
                out.append(Page(cap.source_id, cap.final_url or cap.url, body, _ctype(cap.headers), cap.id,
                                cap.article_id))
    engine.dispose()
    return out


def match(rows: list[dict[str, Any]], truth: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    idx = scoring.url_index(truth)
    by_article: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in rows:
        urls = [row.get("url") or "", *(row.get("urls") or [])]
        aid = next((idx.get(u) or idx.get(u.rstrip("/")) for u in urls if idx.get(u) or idx.get(u.rstrip("/"))),
                   None)
        if aid:
            by_article[aid].append(row)
    return by_article


def as_row(ex: Any, base: dict[str, Any]) -> dict[str, Any]:
    """An export-like row from a fresh extraction (dates as the export writes them)."""
    if not isinstance(ex, Extracted):
        return {**base, "lead": "", "text": "", "title": "", "author": None, "published": None}
    return {**base, "title": ex.title, "lead": ex.lead, "text": ex.text, "author": ex.author,
            "published": ex.published.isoformat() if ex.published else None}


# ---------------------------------------------------------------- template learning, offline

def simulate_template(pages: list[Page], results: dict[int, Any]) -> dict[int, Any]:
    """Capture id -> extraction after template learning as the pipeline does it: per source, in fetch order,
    learn from each new article's page, apply the model as it stands, then refine with the final model."""
    out: dict[int, Any] = {}
    by_source: dict[str, list[Page]] = collections.defaultdict(list)
    for p in pages:
        by_source[p.source].append(p)
    for plist in by_source.values():
        model = tpl.TemplateModel()
        seen_articles: set[int] = set()
        for p in plist:
            ex = results[p.capture_id]
            if not isinstance(ex, Extracted):
                continue
            out[p.capture_id] = tpl.apply(ex, model)   # online: what process_item would store
            if p.article_id is not None and p.article_id not in seen_articles:
                seen_articles.add(p.article_id)
                model.learn(ex)
        for p in plist:                                # refine: the versions of this run, final model
            ex = results[p.capture_id]
            if isinstance(ex, Extracted):
                out[p.capture_id] = tpl.apply(ex, model)
    return out


# ---------------------------------------------------------------- the report

def report(truth_path: Path, db_url: str, reextract: bool = False, as_json: bool = False,
           shows_time: set[str] | None = None, timing: bool = True) -> dict[str, Any]:
    truth = [json.loads(line) for line in truth_path.open(encoding="utf-8") if line.strip()]
    shows_time = set(scoring.SHOWS_TIME) | (shows_time or set())
    want = scoring.live(truth)
    rows, caps = archive_rows(db_url)
    by_article = match(rows, truth)
    chosen = {rec["article_id"]: by_article[rec["article_id"]][0] for rec in want if by_article.get(rec["article_id"])}
    need_caps = {caps[row["id"]] for row in chosen.values() if row["id"] in caps}
    pages = captured_pages(db_url, None if reextract else need_caps)
    page_by_cap = {p.capture_id: p for p in pages}

    t0 = time.monotonic()
    plain: dict[int, dict[str, str | None]] = {
        c: plain_trafilatura_fields(page_by_cap[c].body, page_by_cap[c].url, page_by_cap[c].content_type)
        for c in need_caps if c in page_by_cap}
    t_plain = time.monotonic() - t0
    fresh: dict[int, Any] = {}
    templated: dict[int, Any] = {}
    t_ours = 0.0
    if reextract:
        t0 = time.monotonic()
        fresh = {p.capture_id: extract_article(p.body, p.url, p.content_type) for p in pages}
        t_ours = time.monotonic() - t0
        templated = simulate_template(pages, fresh)

    sites = sorted({r["site"] for r in want}, key=lambda s: (s not in CORE_SITES, s))
    figs: dict[str, dict[str, Figures]] = {s: collections.defaultdict(Figures) for s in [*sites, "ALL"]}
    live_n = collections.Counter(r["site"] for r in want)
    for rec in want:
        row = chosen.get(rec["article_id"])
        if row is None:
            continue
        for site in (rec["site"], "ALL"):
            figs[site]["archive"].add(row, rec, shows_time)
            cap = caps.get(row["id"])
            if cap in plain:
                p = plain[cap]
                # trafilatura's date is a day: "YYYY-MM-DD" at 00:00 Vietnam time
                when = f"{p['published']}T00:00:00+07:00" if p.get("published") else None
                figs[site]["plain"].add({"lead": "", "text": p["text"], "title": p["title"], "author": p["author"],
                                         "published": when}, rec, shows_time)
            if reextract and cap in fresh:
                figs[site]["reextract"].add(as_row(fresh[cap], row), rec, shows_time)
                figs[site]["template"].add(as_row(templated.get(cap, fresh[cap]), row), rec, shows_time)
    live_n["ALL"] = len(want)

    result: dict[str, Any] = {"truth": str(truth_path), "db": db_url, "scoring": scoring.SOURCE, "sites": {}}
    for site, fs in figs.items():
        result["sites"][site] = {"live": live_n[site], **{k: f.summary() for k, f in fs.items()}}
    if timing:
        result["timing"] = {"plain_s_per_page": t_plain / max(1, len(plain)),
                            "ours_s_per_page": t_ours / max(1, len(fresh)) if fresh else None}
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print_table(result, reextract)
    return result


def print_table(result: dict[str, Any], reextract: bool) -> None:
    print(f"scoring: {result['scoring']}")
    head = (f"{'site':7} {'what':10} {'live':>5} {'found':>6} {'F1':>7} {'<0.95':>6} {'leak':>6} "
            f"{'title':>6} {'author':>6} {'date':>6} {'nfc':>6} {'fffd':>4}")
    print(head)
    print("-" * len(head))
    kinds = ["archive", "plain"] + (["reextract", "template"] if reextract else [])
    for site, d in result["sites"].items():
        for k in kinds:
            f = d.get(k)
            if not f:
                continue
            found = f"{100 * f['n'] / max(1, d['live']):5.1f}%" if k == "archive" else ""
            meta = f"{_pct(f['title'])} {_pct(f['author'])} {_pct(f['date'])} {_pct(f['nfc'])} {f['fffd']:4d}"
            print(f"{site:7} {k:10} {d['live']:5d} {found:>6} {f['f1']:7.4f} {_pct(f['lt095'])} {_pct(f['leak'])} {meta}")
    t = result.get("timing")
    if t:
        ours = f", vnarchive {1000 * t['ours_s_per_page']:.0f} ms/page" if t.get("ours_s_per_page") else ""
        print(f"extraction time: plain trafilatura {1000 * t['plain_s_per_page']:.0f} ms/page{ours}")


# ---------------------------------------------------------------- --crawl

def _load_site_module(path: Path, vnweb: Path) -> Any:
    sys.path.insert(0, str(vnweb.parent))
    spec = importlib.util.spec_from_file_location(f"vnweb_extra_{path.stem}", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def sources_file(manifest: dict[str, Any], port: int, extra: list[Path], vnweb: Path = VNWEB) -> str:
    """config/vnweb.toml moved to ``port``, plus a [[source]] for each extra site of the manifest."""
    text = (ROOT / "config" / "vnweb.toml").read_text(encoding="utf-8").replace(":8080", f":{port}")
    classes = {}
    for path in extra:
        for cls in getattr(_load_site_module(path, vnweb), "SITES", []):
            classes[cls.id] = cls
    for sid, site in manifest["sites"].items():
        if sid in CORE_SITES or sid not in classes:
            continue
        hints = getattr(classes[sid], "vnarchive", {})
        entry = {"id": sid, "name": site["name"], "allowed_domains": [site["host"]],
                 "start_urls": site["start_urls"], "feeds": site["rss"], "sitemaps": [site["sitemap"]],
                 "article_patterns": hints.get("article_patterns", []),
                 "listing_patterns": hints.get("listing_patterns", []),
                 "deny_patterns": hints.get("deny_patterns", [])}
        text += "\n[[source]]\n" + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in entry.items())
    return text


def crawl_and_report(a: argparse.Namespace) -> int:
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="fidelity-"))
    work.mkdir(parents=True, exist_ok=True)
    extra = [Path(p).resolve() for p in a.extra_sites.split(",") if p]
    common = ["--articles", str(a.articles), "--seed", str(a.seed), "--port", str(a.port)]
    if extra:
        common += ["--extra-sites", ",".join(map(str, extra))]
    manifest_path = work / "vnweb.json"
    manifest_path.unlink(missing_ok=True)
    db = work / "archive.db"
    for f in (db, work / "archive.db-wal", work / "archive.db-shm"):
        f.unlink(missing_ok=True)
    web = subprocess.Popen([sys.executable, str(a.vnweb), "serve", *common, "--manifest", str(manifest_path)],
                           stdout=subprocess.DEVNULL, stderr=open(work / "vnweb.log", "w"))
    try:
        for _ in range(600):
            if manifest_path.exists() or web.poll() is not None:
                break
            time.sleep(0.1)
        if not manifest_path.exists():
            print(f"vnweb did not start (port {a.port} busy?); see {work / 'vnweb.log'}", file=sys.stderr)
            return 2
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        (work / "sources.toml").write_text(sources_file(manifest, a.port, extra, a.vnweb), encoding="utf-8")
        subprocess.run([sys.executable, str(a.vnweb), "truth", *common, "--day", "0", "--out",
                        str(work / "truth.jsonl")], check=True, capture_output=True)
        env = dict(os.environ, VNARCHIVE_DB=f"sqlite:///{db}", VNARCHIVE_SOURCES=str(work / "sources.toml"))
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--all"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=a.timeout)
        (work / "crawl.log").write_text(r.stdout + r.stderr, encoding="utf-8")
        print(f"seed {a.seed}, {a.articles} stories, port {a.port}: crawl exit {r.returncode} in "
              f"{time.monotonic() - t0:.0f} s; work dir {work}")
    finally:
        if web.poll() is None:
            web.send_signal(signal.SIGTERM)
            try:
                web.wait(10)
            except subprocess.TimeoutExpired:
                web.kill()
    shows = {sid for sid in manifest["sites"] if sid not in CORE_SITES}
    report(work / "truth.jsonl", f"sqlite:///{db}", reextract=a.reextract, as_json=a.json, shows_time=shows)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--truth", help="vnweb truth file (JSON Lines)")
    ap.add_argument("--db", help="SQLAlchemy URL of the archive")
    ap.add_argument("--reextract", action="store_true",
                    help="also re-extract the captures now, without and with template learning")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--shows-time", default="", help="extra site ids whose pages state a time of day")
    ap.add_argument("--crawl", action="store_true", help="start vnweb, crawl it into a temporary archive, report")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--articles", type=int, default=300)
    ap.add_argument("--port", type=int, default=38080, help="simulator port for --crawl (8080 is for acceptance)")
    ap.add_argument("--extra-sites", default="", help="extra vnweb site templates for --crawl (comma separated)")
    ap.add_argument("--vnweb", type=Path, default=VNWEB, help="path of vnweb.py")
    ap.add_argument("--keep", help="work folder for --crawl (default: a new temporary folder)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds allowed for the crawl")
    a = ap.parse_args(argv)
    if a.crawl:
        return crawl_and_report(a)
    if not (a.truth and a.db):
        ap.error("--truth and --db are required (or use --crawl)")
    report(Path(a.truth), a.db, reextract=a.reextract, as_json=a.json,
           shows_time={s for s in a.shows_time.split(",") if s})
    return 0


if __name__ == "__main__":
    sys.exit(main())
