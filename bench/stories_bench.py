"""Near-duplicate lookup cost as the archive grows: the LSH bands are indexed, so 1k and 100k should cost alike.

    python3 bench/stories_bench.py [--sizes 1000,100000] [--queries 300]

Builds synthetic archives (random MinHash signatures stand in for unrelated articles, which is what
unrelated texts' signatures look like), then times the lookup the archive pipeline makes for each new
article: candidates sharing a band, confirmed on the full signature.  Prints median and p95 per size and
the ratio to the smallest size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert  # noqa: E402

from pipelines import stories  # noqa: E402
from storage import repo  # noqa: E402
from storage.db import make_engine, make_session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Article, ArticleSignature, StoryBand  # noqa: E402


def random_signature(rng: random.Random) -> bytes:
    return struct.pack(f"<{stories.PERMUTATIONS}Q", *(rng.getrandbits(61) for _ in range(stories.PERMUTATIONS)))


def build(path: Path, n: int, rng: random.Random) -> tuple[object, list[bytes]]:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    sigs = []
    with factory.begin() as s:
        repo.ensure_sources(s, [("bench", "bench")])
        for start in range(0, n, 5000):
            ids = range(start + 1, min(n, start + 5000) + 1)
            s.execute(insert(Article), [{"id": i, "source_id": "bench", "canonical_url": f"http://b/{i}",
                                         "status": "live", "first_seen": now, "last_seen": now,
                                         "current_version": 1} for i in ids])
            chunk = [random_signature(rng) for _ in ids]
            sigs += chunk
            s.execute(insert(ArticleSignature), [{"article_id": i, "signature": g, "shingles": 500}
                                                 for i, g in zip(ids, chunk, strict=True)])
            s.execute(insert(StoryBand), [{"article_id": i, "band": b, "hash": h}
                                          for i, g in zip(ids, chunk, strict=True) for b, h in stories.bands(g)])
    return factory, sigs


def near_copy(sig: bytes, rng: random.Random, keep: float = 0.85) -> bytes:
    """A signature agreeing with ``sig`` on about ``keep`` of its minima (a syndicated copy)."""
    vals = stories.unpack(sig)
    return struct.pack(f"<{stories.PERMUTATIONS}Q", *(v if rng.random() < keep else rng.getrandbits(61) for v in vals))


def lookup_times(factory, sigs: list[bytes], queries: int, rng: random.Random) -> tuple[list[float], float]:
    times, found = [], 0
    with factory() as s:
        for q in range(queries):
            # half the probes are copies of a stored article, half are new unrelated stories
            sig = near_copy(rng.choice(sigs), rng) if q % 2 == 0 else random_signature(rng)
            t0 = time.perf_counter()
            cands = repo.story_candidates(s, stories.bands(sig), exclude=-1)
            hits = [c for c in cands if stories.similarity(sig, c[2]) >= stories.SAME_STORY_JACCARD]
            times.append((time.perf_counter() - t0) * 1000)
            found += bool(hits) and q % 2 == 0
    return times, found / (queries / 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--queries", type=int, default=300)
    a = ap.parse_args()
    rng = random.Random(7)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in a.sizes.split(",")):
            t0 = time.perf_counter()
            factory, sigs = build(Path(tmp) / f"a{n}.db", n, rng)
            built = time.perf_counter() - t0
            times, recall = lookup_times(factory, sigs, a.queries, rng)
            times.sort()
            rows.append((n, statistics.median(times), times[int(0.95 * len(times)) - 1], recall, built))
    base = rows[0][1]
    print(f"{'articles':>10} {'median ms':>10} {'p95 ms':>8} {'vs first':>9} {'copies found':>13} {'build s':>8}")
    for n, med, p95, recall, built in rows:
        print(f"{n:>10} {med:>10.3f} {p95:>8.3f} {med / base:>8.2f}x {recall:>12.1%} {built:>8.1f}")


if __name__ == "__main__":
    main()
