"""End to end against the vnweb simulator (../shared/vnweb): day-0 crawl, two simulated days, the export scored
against the ground truth.  Skipped with the reason when the simulator is absent (a user's clone)."""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, VnWeb, run_cli, start_vnweb, stop

pytestmark = [pytest.mark.slow, pytest.mark.vnweb]

sys.path.insert(0, str(ROOT.parent / "shared" / "acceptance"))
PORT = 48080  # not the simulator's default: acceptance runs may use 8080 on the same machine


def _index(truth: list[dict]) -> dict[str, str]:
    idx = {}
    for r in truth:
        if r["current"]:
            for u in [r["canonical_url"], *r.get("url_variants", []), *r.get("previous_urls", [])]:
                idx[u] = idx[u.rstrip("/")] = r["article_id"]
    return idx


def _match(rows: list[dict], truth: list[dict]) -> tuple[dict[str, list[dict]], list[dict]]:
    idx, by, unmatched = _index(truth), collections.defaultdict(list), []
    for row in rows:
        aid = next((idx[u] for u in [row["url"], *row["urls"]] if u in idx), None)
        (by[aid].append(row) if aid else unmatched.append(row))
    return by, unmatched


def _export(env: dict[str, str], out: Path, versions: bool = False) -> list[dict]:
    r = run_cli("export", "--format", "jsonl", *(["--versions"] if versions else []), "--out", str(out), env=env)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in out.open(encoding="utf-8")]


def test_vnweb_day0_and_two_days(tmp_path: Path, fresh_db: Callable[..., str]) -> None:
    from fidelity import reference_text, token_f1  # the acceptance checks' own scoring

    proc, web = start_vnweb(tmp_path, seed=2718, articles=200, port=PORT)
    try:
        _run(tmp_path, fresh_db(), web, reference_text, token_f1)
    finally:
        stop(proc)


def _run(tmp_path: Path, url: str, web: VnWeb, reference_text, token_f1) -> None:  # type: ignore[no-untyped-def]
    env = {"VNARCHIVE_DB": url, "VNARCHIVE_SOURCES": str(web.sources_file)}
    r = run_cli("crawl", "--all", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    day0 = web.admin("stats")
    truth = web.truth(0, tmp_path / "truth0.jsonl")
    live = [t for t in truth if t["current"] and t["http_status"] == 200 and not t.get("hostile")]
    rows = _export(env, tmp_path / "e0.jsonl")
    by, unmatched = _match(rows, truth)
    assert sum(1 for t in live if len(by.get(t["article_id"], [])) == 1) >= 0.98 * len(live)
    assert len(unmatched) <= 0.02 * len(live)
    f1 = [token_f1(f"{by[t['article_id']][0]['lead']}\n{by[t['article_id']][0]['text']}", reference_text(t))[2]
          for t in live if t["article_id"] in by]
    assert sum(f1) / len(f1) >= 0.97
    assert sum(s.get("disallowed_requests", 0) for s in day0["sites"].values()) == 0

    requests0 = sum(s["requests"] for s in day0["sites"].values())
    for _ in range(2):
        web.admin("advance", post=True)
        web.admin("reset-stats", post=True)
        r = run_cli("crawl", "--all", "--quiet", env=env)
        assert r.returncode == 0, r.stderr
    requests2 = sum(s["requests"] for s in web.admin("stats")["sites"].values())
    assert requests2 <= 0.25 * requests0, (requests2, requests0)

    truth = web.truth(2, tmp_path / "truth2.jsonl")
    current = [t for t in truth if t["current"]]
    by, _ = _match(_export(env, tmp_path / "e2.jsonl"), truth)
    versions = collections.Counter()
    idx = _index(truth)
    for v in _export(env, tmp_path / "v2.jsonl", versions=True):
        aid = next((idx[u] for u in [v["url"], *v["urls"]] if u in idx), None)
        versions[aid] += 1
    for t in current:
        if t["version"] > 1 and t["http_status"] == 200 and not t.get("hostile"):
            assert versions[t["article_id"]] >= t["version"], f"{t['article_id']} edit not kept"
        if t["status"] == "removed" and not t.get("hostile"):
            assert any(row["status"] == "removed" for row in by.get(t["article_id"], [])), t["article_id"]
        if t.get("previous_urls") and t["http_status"] == 200:
            assert len(by.get(t["article_id"], [])) == 1, f"{t['article_id']} moved: duplicated or lost"
    # syndicated copies share a story; unrelated articles do not
    story_of = {t["article_id"]: t["story_id"] for t in current}
    pred = {aid: rws[0]["story"] or f"self:{aid}" for aid, rws in by.items()}
    pairs = lambda groups: {frozenset((a, b)) for g in groups.values() for a in g for b in g if a < b}  # noqa: E731
    true_g, pred_g = collections.defaultdict(set), collections.defaultdict(set)
    for aid in pred:
        true_g[story_of.get(aid)].add(aid)
        pred_g[pred[aid]].add(aid)
    same_true, same_pred = pairs(true_g), pairs(pred_g)
    assert same_pred and len(same_true & same_pred) / len(same_pred) >= 0.99
    assert len(same_true & same_pred) / len(same_true) >= 0.95
