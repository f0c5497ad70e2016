#!/usr/bin/env python3
"""Cost against archive size (issue 12): synthetic archives of N articles, then what one more page costs.

    python3 bench/scale.py                          # 10k and 100k articles
    python3 bench/scale.py --sizes 10000,100000,1000000 --work /var/tmp/vnscale
    python3 bench/scale.py --sizes 10000,100000,1000000 --work /var/tmp/vnscale --reuse   # measure again only

Each size is built fresh in its own process (bulk Core inserts of sources, articles, captures, versions, URLs,
MinHash signatures and LSH bands through the archive's own schema and search triggers; no crawl), then
measured there:

- **archive**: 200 new pages through the crawl's own transaction (``pipelines.pipeline.store_page``: article
  and URL lookups, the template applied and learnt, the near-duplicate band lookup, the version and its
  search index), ms per page;
- **search**: 20 fixed queries (with and without diacritics, phrases), median and p95 ms;
- **stats**: ``vnarchive stats``' query, ms;
- **export**: every current article through ``storage.export.iter_records``, articles/s, and the RSS the
  process grew by while exporting (constant memory means ~0);
- database bytes per article, and the process's peak RSS.

The last line prints the largest/smallest ratio of each cost (the goals: archive ≤ 1.5 from 10k to 1M, search
median < 20 ms at 1M).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SOURCES = ("mps", "tgvn", "tinh", "bao")
WORDS = ("hội nghị triển khai nhiệm vụ kinh tế xã hội năm tỉnh thành phố Hà Nội Đà Nẵng Quảng Ninh Cần Thơ Huế "
         "chính phủ bộ công an quốc phòng ngoại giao y tế giáo dục đào tạo nông nghiệp môi trường tài nguyên "
         "doanh nghiệp đầu tư xuất khẩu nông sản du lịch khách quốc tế giao thông cao tốc đường sắt sân bay "
         "an ninh mạng chuyển đổi số dịch vụ công trực tuyến căn cước điện tử ngân hàng tín dụng lãi suất "
         "giá vàng xăng dầu thời tiết mưa lũ bão miền Trung Tây Nguyên đồng bằng sông Cửu Long phòng chống "
         "thiên tai cứu hộ người dân cán bộ lãnh đạo chủ tịch thủ tướng bí thư đại biểu quốc hội kỳ họp "
         "luật nghị định thông tư chỉ thị kế hoạch dự án công trình khởi công khánh thành bàn giao").split()
QUERIES = ("hội nghị", "hoi nghi", "Đà Nẵng", "da nang", "chuyển đổi số", "chuyen doi so", "giá vàng",
           "mua lu mien trung", "căn cước điện tử", "cao toc", "\"dịch vụ công trực tuyến\"", "quoc hoi ky hop",
           "du lich khach quoc te", "ngân hàng lãi suất", "thu tuong", "phòng chống thiên tai", "xuat khau nong san",
           "an ninh mang", "khánh thành công trình", "bo cong an")
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


# Text is drawn from a Zipf vocabulary of VOCAB words (Vietnamese syllables, as the search index's tokens
# are), like news text: a few words in nearly every article, most in few.  The words the queries use sit at
# ranks spread from the common (df ~80%) to the rare (~1%), so the 20 queries span small and huge match sets.
# (A uniform draw from ~150 words put every query word in ~90% of articles: a worst case, not an archive.)
VOCAB = 30_000
_ONSETS = ("b c ch d đ g gh h k kh l m n ng nh p ph qu r s t th tr v x").split()
_RIMES = ("a à á ả ã ạ ai ao an ang anh ăn ăng âm ân âu ây e è é em en eo ê ế ên ênh i ì í im in inh iu o ò ó "
          "oa oai oan oang oanh ô ồ ố ông ơ ờ ớ ơn u ù ú um un ung uy uyên ư ừ ứ ưng ươi ương").split()


def _vocabulary(seed: int) -> tuple[list[str], list[float]]:
    rng = random.Random(seed)
    queried = list(dict.fromkeys(WORDS))
    others = [o + r for o in _ONSETS for r in _RIMES]
    others = [w for w in dict.fromkeys(others) if w not in set(queried)]
    while len(others) < VOCAB - len(queried):
        others.append(rng.choice(_ONSETS) + rng.choice(_RIMES) + str(len(others)))
    vocab: list[str | None] = [None] * VOCAB
    # the queried words at ranks spread log-evenly over 5 .. 500
    for k, w in enumerate(rng.sample(queried, len(queried))):
        r = int(5 * (100 ** (k / max(1, len(queried) - 1))))
        while vocab[r] is not None:
            r += 1
        vocab[r] = w
    fill = iter(others)
    words = [w if w is not None else next(fill) for w in vocab]
    weights = [1.0 / (r + 2.7) for r in range(VOCAB)]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return words, cum


_VOCAB, _CUM = _vocabulary(12)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(_VOCAB, cum_weights=_CUM, k=words))


def _paragraphs(rng: random.Random, n: int) -> str:
    return "\n\n".join(_text(rng, rng.randint(30, 60)).capitalize() + "." for _ in range(n))


def build(db_url: str, n: int, seed: int, batch: int = 5000) -> None:
    from pipelines import stories
    from storage.db import make_engine
    from storage.migrate import upgrade
    from storage.models import Base

    engine = make_engine(db_url)
    upgrade(engine)
    t = Base.metadata.tables
    rng = random.Random(seed)
    with engine.begin() as c:
        c.execute(t["sources"].insert(), [{"id": s, "name": s.upper(), "created_at": T0} for s in SOURCES])
    for start in range(1, n + 1, batch):
        rows: dict[str, list[dict[str, Any]]] = {k: [] for k in
                                                  ("articles", "captures", "versions", "article_urls",
                                                   "article_signatures", "story_bands")}
        for i in range(start, min(n, start + batch - 1) + 1):
            src = SOURCES[i % len(SOURCES)]
            url = f"http://{src}.example.vn/bai-viet/tin-so-{i}.html"
            when = T0 + dt.timedelta(minutes=i)
            title = _text(rng, rng.randint(8, 14)).capitalize()
            lead, text = _text(rng, 30).capitalize() + ".", _paragraphs(rng, rng.randint(4, 9))
            html = f"<html><body><h1>{title}</h1><p>{lead}</p><p>{text}</p></body></html>".encode()
            rows["articles"].append({"id": i, "source_id": src, "canonical_url": url, "status": "live",
                                     "first_seen": when, "last_seen": when, "last_fetched": when,
                                     "published": when, "current_version": 1})
            rows["captures"].append({"id": i, "source_id": src, "article_id": i, "url": url, "final_url": url,
                                     "status": 200, "headers": {"Content-Type": "text/html; charset=utf-8"},
                                     "fetched_at": when, "body": zlib.compress(html, 6),
                                     "body_sha256": hashlib.sha256(html).hexdigest(), "body_size": len(html),
                                     "outcome": "archived", "decode_errors": 0})
            rows["versions"].append({"id": i, "article_id": i, "number": 1, "content_sha256":
                                     hashlib.sha256(f"{title}{lead}{text}".encode()).hexdigest(), "capture_id": i,
                                     "created_at": when, "title": title, "lead": lead, "text": text,
                                     "author": None, "published": when, "utc_offset_minutes": 420,
                                     "language": "vi", "page_canonical": url, "extractor": "scale",
                                     "extractor_version": "bench"})
            rows["article_urls"].append({"url": url, "key": url, "article_id": i, "first_seen": when})
            # a random signature: most articles are no one's copy, which is what the band lookup costs
            sig = bytes(rng.getrandbits(8) for _ in range(stories.PERMUTATIONS * 8))
            rows["article_signatures"].append({"article_id": i, "signature": sig, "shingles": 200})
            rows["story_bands"] += [{"article_id": i, "band": b, "hash": h} for b, h in stories.bands(sig)]
        with engine.begin() as c:
            for name in ("articles", "captures", "versions", "article_urls", "article_signatures", "story_bands"):
                c.execute(t[name].insert(), rows[name])
    engine.dispose()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(db_url: str, n: int, seed: int) -> dict[str, Any]:
    from config.sources import Source
    from pipelines import stories, template
    from pipelines.items import Extracted, RawPage
    from pipelines.pipeline import store_page
    from storage.db import make_engine, make_session_factory
    from storage.export import iter_records
    from storage.reading import stats
    from storage.search import search

    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    rng = random.Random(seed + 1)
    source = Source(id="bao", name="BAO", allowed_domains=("bao.example.vn",), article_patterns=("/bai-viet/",),
                    start_urls=("http://bao.example.vn/",))
    # archive: new pages, one transaction each, as the writer does
    times = []
    run = int(time.time())  # new URLs on every run: a reused archive measures new articles too
    for j in range(200):
        url = f"http://bao.example.vn/bai-viet/moi-{run}-{j}.html"
        title, lead, text = _text(rng, 10).capitalize(), _text(rng, 30).capitalize() + ".", _paragraphs(rng, 6)
        ex = Extracted(title=title, lead=lead, text=text, author=None, published=T0, modified=None, language="vi",
                       page_canonical=url, blocks=tuple(p[:300] for p in text.split("\n\n")) + ("Tin đọc nhiều",))
        sh = stories.shingle_hashes(text)
        ex.signature, ex.shingle_count = stories.signature_of(sh), len(sh)
        ex.learned = template.page_hashes(ex)
        raw = RawPage(source_id="bao", url=url, final_url=url, status=200, headers={}, body=text.encode(),
                      fetched_at=dt.datetime.now(dt.UTC), seen_urls=(url,))
        t0 = time.perf_counter()
        with factory.begin() as s:
            store_page(s, source, raw, ex, None)
        times.append(time.perf_counter() - t0)
    archive_ms = statistics.mean(times[20:]) * 1000  # after the first pages warm the caches
    # search
    lat = []
    with factory() as s:
        for _ in range(3):
            for q in QUERIES:
                t0 = time.perf_counter()
                search(s, q, limit=20)
                lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    # stats
    with factory() as s:
        t0 = time.perf_counter()
        stats(s)
        stats_ms = (time.perf_counter() - t0) * 1000
    # export
    before = _rss_mb()
    grew = 0.0
    t0 = time.perf_counter()
    count = 0
    with factory() as s:
        for _ in iter_records(s):
            count += 1
            if count % 10_000 == 0:
                grew = max(grew, _rss_mb() - before)
    export_s = time.perf_counter() - t0
    path = db_url.removeprefix("sqlite:///")
    size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    engine.dispose()
    return {"articles": n, "archive_ms": round(archive_ms, 2), "search_median_ms": round(statistics.median(lat), 2),
            "search_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 2), "stats_ms": round(stats_ms, 1),
            "export_per_s": round(count / export_s), "export_rss_growth_mb": round(grew, 1),
            "bytes_per_article": round(size / n), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF)
                                                                       .ru_maxrss / 1024)}


def one(size: int, work: Path, seed: int, reuse: bool = False) -> dict[str, Any]:
    db = work / f"scale-{size}.db"
    url = f"sqlite:///{db}"
    built = 0.0
    if not (reuse and db.exists()):
        for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            p.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build(url, size, seed)
        built = time.perf_counter() - t0
    else:
        # an archive built by an earlier run (and grown by its 200 measured pages): brought to this schema
        from storage.db import make_engine
        from storage.migrate import upgrade
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    out = measure(url, size, seed)
    out["build_s"] = round(built, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated article counts")
    ap.add_argument("--work", default="/tmp/vnarchive-scale", help="where the archives are built (kept)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reuse", action="store_true",
                    help="measure the archives an earlier run left in --work (upgraded to this schema) instead of "
                         "building them again: for the 1M size, whose build takes most of an hour")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a single size, in this process
    a = ap.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    if a.one:
        print(json.dumps(one(a.one, work, a.seed, a.reuse)))
        return 0
    results = []
    for size in (int(x) for x in a.sizes.split(",")):
        r = subprocess.run([sys.executable, __file__, "--one", str(size), "--work", str(work), "--seed", str(a.seed),
                            *(["--reuse"] if a.reuse else [])], capture_output=True, text=True)
        if r.returncode:
            print(f"size {size} failed: {r.stderr[-2000:]}", file=sys.stderr)
            return 1
        results.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    keys = ("archive_ms", "search_median_ms", "search_p95_ms", "stats_ms", "export_per_s", "export_rss_growth_mb",
            "bytes_per_article", "peak_rss_mb", "build_s")
    print("\n| articles | " + " | ".join(keys) + " |\n|" + "---|" * (len(keys) + 1))
    for r in results:
        print(f"| {r['articles']:,} | " + " | ".join(str(r[k]) for k in keys) + " |")
    if len(results) > 1:
        lo, hi = results[0], results[-1]
        print(f"\n{hi['articles']:,} / {lo['articles']:,}: archive cost x{hi['archive_ms'] / lo['archive_ms']:.2f}, "
              f"search median x{hi['search_median_ms'] / lo['search_median_ms']:.2f}, "
              f"stats x{hi['stats_ms'] / max(lo['stats_ms'], 0.1):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
