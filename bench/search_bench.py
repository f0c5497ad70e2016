"""Search latency on a synthetic archive of 100,000 Vietnamese-like articles.

    python bench/search_bench.py [--articles 100000] [--db PATH] [--reuse] [--queries 25]

Builds the archive through the schema's own write path: articles and versions are inserted in one transaction
and the search triggers index them as they would a crawl's writes.  Then times ``storage.search.search``
(the library function behind `vnarchive search`, limit 20) on two-word phrases taken from titles, each typed
without and with diacritics, and prints build time, median and p95 latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import statistics
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from storage import repo  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.fold import fold  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Article, Version  # noqa: E402
from storage.search import search  # noqa: E402

# common syllables of Vietnamese news text, most frequent first; the long tail is generated
COMMON = """của và các có là trong được cho với người không này đã những một tại về năm đến để theo khi công
nhiều hội ngày cũng như từ ra sẽ trên tỉnh nước đồng thành phố nhà nam quốc Việt Nam dân chính động phát triển
kinh tế tổ chức quan lý xã thực hiện cao giáo dục học sinh viên bộ trưởng an ninh quân đội biên giới hợp tác
đầu tư doanh nghiệp thị trường giá tăng giảm sản xuất nông nghiệp du lịch văn hóa thể thao y tế bệnh viện
Hà Nội Đà Nẵng Huế Cần Thơ Hải Phòng Sài Gòn đường giao thông nhân quyền tôn giáo pháp luật tòa án điều tra
chủ tịch thủ tướng ủy ban bầu cử đại biểu hội nghị triển khai chặt chẽ gắn kết đối thoại cải cách hành chính
khoa công nghệ số chuyển đổi môi trường biến khí hậu mưa lũ bão lụt cứu hộ mới cũ lớn nhỏ đầu tiên cuối
tháng tuần sáng chiều tối hôm nay qua tới vừa đang bị phải cần nên rất hơn nhất lại còn đều chỉ mà nếu vì
nên nhưng hoặc hay thì đó đây kia ấy họ chúng ta tôi bà ông anh chị em cháu con gia đình""".split()
ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng", "ngh", "nh", "p",
          "ph", "qu", "r", "s", "t", "th", "tr", "v", "x"]
RHYMES = ["a", "ai", "am", "an", "ang", "anh", "ao", "au", "ay", "ăm", "ăn", "ăng", "âm", "ân", "âng", "âu", "ây",
          "e", "em", "en", "eo", "ê", "êm", "ên", "ênh", "êu", "i", "ia", "im", "in", "inh", "iu", "iêm", "iên",
          "iêu", "o", "oa", "oai", "oan", "oang", "oanh", "oi", "om", "on", "ong", "ô", "ôi", "ôm", "ôn", "ông",
          "ơ", "ơi", "ơm", "ơn", "u", "ua", "ui", "um", "un", "ung", "uy", "uyên", "ư", "ưa", "ưng", "ươi",
          "ươn", "ương", "ưu", "y"]
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]


def _toned(rhyme: str, tone: str) -> str:
    # put the mark on the rhyme's main vowel (close enough for a benchmark)
    for i, ch in enumerate(rhyme):
        if ch in "ăâêôơư":
            return unicodedata.normalize("NFC", rhyme[:i + 1] + tone + rhyme[i + 1:])
    i = 1 if len(rhyme) > 1 and rhyme[0] in "iuy" and rhyme[1] in "aeo" else 0
    return unicodedata.normalize("NFC", rhyme[:i + 1] + tone + rhyme[i + 1:])


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words = list(dict.fromkeys(w.lower() if w.islower() else w for w in COMMON))
    seen = set(words)
    while len(words) < size:
        w = rng.choice(ONSETS) + _toned(rng.choice(RHYMES), rng.choice(TONES))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def build(db: Path, n: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    # Zipf-like frequencies, as in real text
    cum: list[float] = []
    total = 0.0
    for rank in range(len(vocab)):
        total += 1.0 / (rank + 1) ** 1.05
        cum.append(total)

    def sentence(k: int) -> str:
        return " ".join(rng.choices(vocab, cum_weights=cum, k=k))

    url = f"sqlite:///{db}"
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    t0 = time.perf_counter()
    base = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    batch = 5000
    with factory.begin() as s:
        repo.ensure_sources(s, [(f"src{i}", f"Source {i}") for i in range(8)])
        for start in range(0, n, batch):
            arts, vers = [], []
            for i in range(start, min(n, start + batch)):
                when = base + dt.timedelta(minutes=7 * i)
                title = sentence(rng.randint(8, 14)).capitalize()
                lead = sentence(rng.randint(20, 35)).capitalize() + "."
                body = "\n".join(sentence(rng.randint(40, 80)).capitalize() + "." for _ in range(rng.randint(3, 7)))
                arts.append({"id": i + 1, "source_id": f"src{i % 8}", "canonical_url": f"https://bao{i % 8}.vn/a/{i}",
                             "status": "live", "first_seen": when, "last_seen": when, "published": when,
                             "current_version": 1})
                vers.append({"article_id": i + 1, "number": 1, "created_at": when, "title": title, "lead": lead,
                             "text": body, "published": when, "utc_offset_minutes": 420, "extractor": "bench",
                             "extractor_version": "1",
                             "content_sha256": hashlib.sha256(f"{title}{body}".encode()).hexdigest()})
            # the article points at version 1 first; inserting the version fires the index trigger
            s.execute(insert(Article), arts)
            s.execute(insert(Version), vers)
    built = time.perf_counter() - t0
    engine.dispose()
    return built


def queries(db: Path, k: int, seed: int = 3) -> list[str]:
    """Two-word phrases from titles that several articles share, as a researcher would look for them."""
    import sqlite3

    con = sqlite3.connect(db)
    titles = [r[0] for r in con.execute("SELECT title FROM versions ORDER BY random() LIMIT 20000")]
    con.close()
    pairs: Counter[str] = Counter()
    for t in titles:
        ws = t.lower().split()
        pairs.update({" ".join(ws[i:i + 2]) for i in range(len(ws) - 1)
                      if any(ord(c) > 127 for c in ws[i] + ws[i + 1])})
    # like the acceptance check: phrases shared by several titles, not the ubiquitous ones
    candidates = [p for p, c in pairs.most_common() if 3 <= c <= 300]
    rng = random.Random(seed)
    chosen = rng.sample(candidates, min(k, len(candidates)))
    return [q for p in chosen for q in (fold(p), p)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=100_000, help="Articles in the synthetic archive.")
    ap.add_argument("--db", type=Path, default=Path("/tmp/vnarchive-search-bench.db"), help="Archive file.")
    ap.add_argument("--reuse", action="store_true", help="Reuse an archive built by an earlier run.")
    ap.add_argument("--queries", type=int, default=25, help="Phrases (each run unaccented and accented).")
    ap.add_argument("--repeat", type=int, default=3, help="Timed runs of each query.")
    args = ap.parse_args()

    if not (args.reuse and args.db.exists()):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        built = build(args.db, args.articles)
        print(f"built {args.articles:,} articles in {built:.1f} s "
              f"({args.articles / built:,.0f} articles/s, indexed by the triggers)")
    size = sum(Path(f"{args.db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{args.db}{s}").exists())
    print(f"archive {args.db}: {size / 1e6:.0f} MB")

    qs = queries(args.db, args.queries)
    engine = make_engine(f"sqlite:///{args.db}")
    factory = make_session_factory(engine)
    times: list[float] = []
    per_query: list[tuple[float, str, int]] = []
    with factory() as s:
        for q in qs:  # warm the page cache, as a server that has been running would be
            search(s, q)
        for q in qs:
            ts = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                hits = search(s, q)
                ts.append(time.perf_counter() - t0)
            times += ts
            per_query.append((statistics.median(ts), q, len(hits)))
    engine.dispose()
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"{len(qs)} queries x {args.repeat} runs (limit 20): median {1000 * statistics.median(times):.1f} ms, "
          f"p95 {1000 * p95:.1f} ms, max {1000 * times[-1]:.1f} ms")
    for t, q, n in sorted(per_query, reverse=True)[:3]:
        print(f"  slowest: {q!r} {1000 * t:.1f} ms ({n} hits shown)")


if __name__ == "__main__":
    main()
