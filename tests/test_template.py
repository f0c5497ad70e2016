"""The template learner: the pure core (blocks, keys, the model, apply) and its storage on a fresh archive."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from lxml import html as lhtml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.sources import Source
from pipelines import refine
from pipelines import template as tpl
from pipelines import template_store as tpl_store
from pipelines.archive import content_of
from pipelines.extract import extract_article
from pipelines.items import Extracted, Skipped
from pipelines.refine import refine_run

NOW = dt.datetime(2024, 10, 3, 8, 0, tzinfo=dt.UTC)
PROMO = "Mời bạn đọc theo dõi Bản tin Khoa học và Công nghệ phát sóng lúc 20 giờ thứ Bảy hằng tuần trên sóng Đài tỉnh."
SENTENCES = [
    "Ban Chỉ đạo tỉnh {p} tổ chức hội nghị sơ kết công tác chuyển đổi số tại trụ sở Ủy ban nhân dân với {n} đại biểu.",
    "Các sở, ngành cần đẩy nhanh tiến độ số hóa hồ sơ thủ tục hành chính trên địa bàn {p}, phấn đấu đạt {n}% kế hoạch.",
    "Đồng chí Giám đốc Sở nhấn mạnh, các đơn vị phải nâng cao chất lượng dữ liệu dân cư tại {p} trong {n} tháng tới.",
    "Kết thúc hội nghị, {p} đã khen thưởng {n} tập thể có thành tích xuất sắc trong phong trào xây dựng chính quyền số.",
]
PROVINCES = ["Hà Giang", "Lào Cai", "Yên Bái", "Tuyên Quang", "Cao Bằng", "Bắc Kạn", "Lạng Sơn", "Thái Nguyên",
             "Phú Thọ", "Điện Biên", "Lai Châu", "Sơn La"]


def article(i: int) -> tuple[str, str, list[str]]:
    p = PROVINCES[i % len(PROVINCES)]
    title = f"{p} đẩy mạnh chuyển đổi số trong cải cách hành chính đợt {i}"
    lead = f"Sáng {i + 1}/10, tỉnh {p} tổ chức hội nghị triển khai chuyển đổi số, lần thứ {i} trong năm 2024."
    return title, lead, [s.format(p=p, n=10 + 7 * i + k) for k, s in enumerate(SENTENCES)]


def page(i: int, see_also: int | None = None, promo: bool = True) -> bytes:
    """A page of an unnamed portal: the furniture recurs, the article differs."""
    title, lead, body = article(i)
    paras = [f"<p>{body[0]}</p>", f"<p>{body[1]}</p>"]
    if see_also is not None:
        paras.append(f'<p><b>Xem thêm:</b> <a href="/tin/{see_also}.html">{article(see_also)[0]}</a></p>')
    if promo:
        paras.append(f"<p>{PROMO}</p>")
    paras += [f"<p>{body[2]}</p>", f"<p>{body[3]}</p>"]
    related = ""
    if see_also is not None:
        t, ld, _ = article(see_also)
        related = f'<table><tr><td><a href="/tin/{see_also}.html">{t}</a><br>{ld.rsplit(" ", 1)[0]} ...</td></tr></table>'
    return f"""<html><head><meta charset="utf-8"><title>{title} | Sở Khoa học tỉnh</title></head><body>
    <div><a href="/">Trang chủ</a> | <a href="/gt">Giới thiệu</a></div><div><div><b>{title}</b></div>
    <div>08:00 | Thứ Năm, 03/10/2024</div><div><b>{lead}</b></div>
    <div id="noidung">{''.join(paras)}<div>Bài viết liên quan</div>{related}</div></div>
    <div>Bản quyền thuộc Sở Khoa học tỉnh. Ghi rõ nguồn khi phát hành lại thông tin.</div></body></html>""".encode()


def extract(i: int, **kw: object) -> Extracted:
    ex = extract_article(page(i, **kw), f"http://so.example.vn/tin/{i}.html", "text/html; charset=utf-8")  # type: ignore[arg-type]
    assert isinstance(ex, Extracted), ex
    return ex


# ---------------------------------------------------------------- pure core

def test_keys_ignore_normalisation_case_digits_and_punctuation() -> None:
    import unicodedata

    a = tpl.block_key("Lượt xem: 1234 | In trang")
    assert a == tpl.block_key(unicodedata.normalize("NFD", "LƯỢT XEM: 98 - In trang"))
    assert a == "lượt xem 0 in trang"
    assert tpl.text_key("Sáng 22/9, tại Hà Nội") == "sáng 22 9 tại hà nội"  # titles and leads keep their digits
    assert len(tpl.block_hash(a)) == 32 and tpl.block_hash(a) != tpl.block_hash(a, "t")


def test_text_blocks_are_what_a_reader_sees() -> None:
    root = lhtml.document_fromstring(
        "<html><head><title>T</title><script>var x = 'không';</script></head><body>"
        "<div>Tin <b>liên</b> quan<div>Bài <a href='/a'>một</a></div>đuôi</div>"
        "<p>dòng một<br>dòng hai</p><ul><li>Mục</li><li>Mục</li></ul><style>p{}</style></body></html>")
    assert tpl.text_blocks(root) == ("Tin liên quan", "Bài một", "đuôi", "dòng một", "dòng hai", "Mục")


def test_text_blocks_skip_what_is_not_shown_but_keep_what_follows_it() -> None:
    """An icon's <svg>, a <noscript> holding a <script>: nothing inside is a block, and the text after each (its
    tail) still belongs to the block around it."""
    root = lhtml.document_fromstring(
        "<html><body><p>Chia sẻ <svg><g><text>icon</text><path/></g></svg>bài viết</p>"
        "<div>trước<noscript><div>bật JavaScript</div><script>x()</script></noscript> sau</div></body></html>")
    assert tpl.text_blocks(root) == ("Chia sẻ bài viết", "trước sau")


def test_text_blocks_of_a_deeply_nested_page() -> None:
    root = lhtml.document_fromstring("<html><body>" + "<div>x" * 5000 + "</div>" * 5000 + "</body></html>")
    assert tpl.text_blocks(root) == ("x",)


def test_threshold_is_max_3_or_5_percent_capped() -> None:
    assert [tpl.TemplateModel(pages=n).threshold() for n in (0, 10, 60, 100, 400, 100_000)] == [3, 3, 3, 5, 20, 50]
    # a sentence needs more pages: a formulaic caption on a few articles is still their text
    assert [tpl.TemplateModel(pages=n).threshold(sentence=True) for n in (0, 60, 400)] == [5, 9, 60]
    model = tpl.TemplateModel(pages=60)
    for text in ("Toàn cảnh Hội nghị tập huấn.", "Tin liên quan"):
        model.counts[tpl.block_hash(tpl.block_key(text))] = 4
    assert model.is_boilerplate("Tin liên quan") and not model.is_boilerplate("Toàn cảnh Hội nghị tập huấn.")


def learnt(n: int) -> tpl.TemplateModel:
    model = tpl.TemplateModel()
    for i in range(n):
        model.learn(extract(i, see_also=(i + 1) % n))
    return model


def test_apply_drops_template_links_and_teasers_but_keeps_the_article() -> None:
    model = learnt(12)
    ex = extract(3, see_also=7)
    assert PROMO in ex.text and article(7)[0] in ex.text  # the generic extractor alone keeps these
    assert "Xem thêm" not in ex.text  # (a label and a link only: dropped without any learning)
    out = tpl.apply(ex, model)
    _, _, body = article(3)
    for para in body:
        assert para in out.text
    assert PROMO not in out.text
    assert article(7)[0] not in out.text  # another article's title, with its teaser
    assert "Bài viết liên quan" not in out.text
    assert article(7)[1][:40] not in out.text  # its teaser
    assert (out.title, out.lead, out.author, out.published) == (ex.title, ex.lead, ex.author, ex.published)


def test_apply_with_an_empty_model_changes_nothing() -> None:
    ex = extract(2, see_also=5)
    assert tpl.apply(ex, tpl.TemplateModel()) is ex


def test_a_cold_template_drops_nothing() -> None:
    model = tpl.TemplateModel()
    model.learn(extract(0, see_also=1))
    model.learn(extract(1, see_also=2))  # the promo is on 2 pages: under the threshold of 3
    ex = extract(2, see_also=3)
    assert PROMO in tpl.apply(ex, model).text


def test_the_page_own_title_lead_and_first_paragraph_are_never_dropped() -> None:
    """Other pages quote this article's title, lead and first paragraph (related boxes): still its own text."""
    ex = extract(4)
    title, lead, body = article(4)
    quoted = dataclasses.replace(ex, text="\n\n".join([body[0], title, lead, *body[1:]]))
    model = tpl.TemplateModel(pages=10)
    for key in (tpl.block_key(body[0]), tpl.block_key(title), tpl.block_key(lead)):
        model.counts[tpl.block_hash(key)] = 10
    model.counts[tpl.block_hash(tpl.text_key(title), "t")] = 1
    model.counts[tpl.block_hash(tpl.text_key(lead)[:tpl.LEAD_PREFIX], "l")] = 1
    out = tpl.apply(quoted, model)
    assert body[0] in out.text and out.lead == ex.lead
    assert out.text.count(title) == 1 and lead in out.text


def test_never_so_much_that_the_page_loses_its_body() -> None:
    """A page whose paragraphs all recur (the same notice under many URLs) is kept as it is."""
    ex = extract(5, promo=False)
    model = tpl.TemplateModel(pages=20)
    for para in tpl._paragraphs(ex.text):
        model.counts[tpl.block_hash(tpl.block_key(para))] = 20
    assert tpl.apply(ex, model).text == ex.text


def test_needed_hashes_cover_what_apply_looks_up() -> None:
    full = learnt(12)
    ex = extract(6, see_also=2)
    frequent = {h: c for h, c in full.counts.items() if c >= full.threshold()}
    partial = tpl.TemplateModel(counts=dict(frequent), pages=full.pages)
    for _ in range(3):  # as load_model does: teasers found open new places where a title may end
        for h in tpl.needed_hashes(ex, partial):
            if h in full.counts:
                partial.counts[h] = full.counts[h]
    assert len(partial.counts) < len(full.counts) / 4
    assert tpl.apply(ex, partial).text == tpl.apply(ex, full).text != ex.text


def rows_of(pages: list[Extracted]) -> list[tuple[str, int, str]]:
    """The rows ``learn_page`` leaves for these pages: (hash, pages, sample)."""
    rows: dict[str, tuple[str, int, str]] = {}
    for ex in pages:
        for h, (_, sample) in tpl.page_hashes(ex).items():
            _, n, first = rows.get(h, (h, 0, sample))
            rows[h] = (h, n + 1, first)
    return list(rows.values())


LONG = " và những chặng đường chuyển đổi số của các xã vùng cao biên giới phía Bắc trong năm 2024"


def test_leads_and_titles_read_back_from_their_samples_decide_as_their_hashes_do() -> None:
    """A whole template read back (refinement) looks leads and titles up by key, not by hash; titles longer
    than a row's sample (cut at SAMPLE_CHARS) are found too.  Every verdict is the one the hashes give."""
    pages = [extract(i, see_also=(i + 1) % 12) for i in range(12)]
    pages += [dataclasses.replace(extract(i), title=extract(i).title + LONG * 2, lead=extract(i).lead + LONG * 2)
              for i in range(12, 15)]
    # a long title that opens like no other
    pages.append(dataclasses.replace(extract(15), title=f"Bản tin tối thứ bảy{LONG * 2} đợt 15", lead=extract(15).lead + LONG * 2))
    # titles shorter than KnownKeys' HEAD_CHARS, which a candidate matches only whole
    pages += [dataclasses.replace(extract(i), title=f"Giá vàng hôm nay {i}/12") for i in range(16, 19)]
    rows = rows_of(pages)
    counts = {h: n for h, n, _ in rows}
    known = tpl.known_keys(rows)
    assert known is not None and known.leads and known.titles and known.long_titles
    by_key = tpl.TemplateModel(counts=counts, pages=len(pages), known=known)
    by_hash = tpl.TemplateModel(counts=counts, pages=len(pages))
    verdicts = []
    for other in pages:
        first = other.text.split("\n\n")[0]
        for p in (other.title, f"Tin liên quan: {other.title}", f"{other.title} (03/10/2024)",
                  f"{other.title} {other.lead[:150]}", other.lead, f"Xem thêm: {other.title} {first[:200]}",
                  other.title[:-4], other.lead[6:], first):
            verdict = tpl._why_boilerplate(p, by_key, ("", "", ""))
            assert verdict == tpl._why_boilerplate(p, by_hash, ("", "", "")), p
            verdicts.append(verdict)
    assert {"other_title", "teaser", None} <= set(verdicts)
    long_title = pages[15].title
    assert tpl.SAMPLE_CHARS < len(long_title) <= tpl.MAX_TITLE_CHARS and tpl.text_key(long_title) not in known.titles
    assert tpl._why_boilerplate(f"Xem thêm: {long_title}", by_key, ("", "", "")) == "other_title"
    short_title = pages[-1].title
    assert tpl.MIN_TITLE_CHARS <= len(tpl.text_key(short_title)) < tpl.HEAD_CHARS
    assert tpl._why_boilerplate(f"Tin liên quan: {short_title} (03/10/2024)", by_key, ("", "", "")) == "other_title"
    ex = extract(3, see_also=7)
    assert tpl.apply(ex, by_key).text == tpl.apply(ex, by_hash).text != ex.text


def test_a_cut_sample_that_may_hide_a_key_leaves_the_lookups_to_the_hashes() -> None:
    lead_row = rows_of([extract(1)])
    assert tpl.known_keys(lead_row) is not None
    # 200 characters, hardly 60 of them word characters: a lead or a title cut there is not known by its key
    cut = ("- " * 70) + "x" * 60
    assert len(cut) == tpl.SAMPLE_CHARS
    assert tpl.known_keys([*lead_row, ("0" * 32, 1, cut)]) is None
    assert tpl.known_keys([*lead_row, ("0" * 32, 1, cut[:-1])]) is not None  # uncut: the whole text, no lead


# ---------------------------------------------------------------- storage

SOURCE = Source(id="so", name="Sở Khoa học", allowed_domains=("so.example.vn",),
                start_urls=("http://so.example.vn/",), article_patterns=(r"/tin/\d+\.html",))


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """A fresh migrated archive (SQLite, or PostgreSQL with VNARCHIVE_TEST_BACKEND)."""
    return session_factory


def store(session: Session, run_id: int, i: int, ex: Extracted | Skipped, body: bytes,
          identity: str = "") -> int:
    """Archive one page the simple way (capture, article, version) and return the version id."""
    from storage import repo

    assert isinstance(ex, Extracted)
    url = f"http://so.example.vn/tin/{i}.html"
    art = repo.find_article_by_keys(session, [url]) or repo.create_article(session, SOURCE.id, url, NOW, ex.published)
    repo.add_urls(session, art.id, [(url, url)], NOW)
    cap = repo.store_capture(session, source_id=SOURCE.id, run_id=run_id, url=url, final_url=url, status=200,
                             headers={"Content-Type": "text/html; charset=utf-8"}, fetched_at=NOW, body=body,
                             outcome="archived", article_id=art.id)
    content = repo.Content(title=ex.title, lead=ex.lead, text=ex.text, author=ex.author, published=ex.published,
                           modified=ex.modified, language=ex.language, page_canonical=ex.page_canonical,
                           extractor=ex.extractor, extractor_version=ex.extractor_version, identity=identity)
    return repo.add_version(session, art, content, cap, NOW).id


def crawl(factory: sessionmaker[Session], pages: list[tuple[int, bytes]]) -> int:
    """One run as the archive pipeline does it: apply the stored template, write, learn from new articles."""
    from storage import repo

    with factory.begin() as s:
        repo.ensure_sources(s, [(SOURCE.id, SOURCE.name)])
        run_id = repo.start_run(s, SOURCE.id, "manual").id
    for i, body in pages:
        with factory.begin() as s:
            raw = extract_article(body, f"http://so.example.vn/tin/{i}.html", "text/html; charset=utf-8")
            ex = tpl_store.apply_stored(s, SOURCE.id, raw)
            new = repo.find_article_by_keys(s, [f"http://so.example.vn/tin/{i}.html"]) is None
            assert isinstance(raw, Extracted)
            store(s, run_id, i, ex, body, identity=content_of(raw).sha256())
            if new:
                assert isinstance(raw, Extracted)
                tpl_store.learn_page(s, SOURCE.id, raw, NOW)
    return run_id


def test_learning_counts_pages_and_loads_only_what_a_page_needs(factory: sessionmaker[Session]) -> None:
    from storage.models import TemplateBlock, TemplatePages

    crawl(factory, [(i, page(i, see_also=(i + 1) % 10)) for i in range(10)])
    with factory() as s:
        assert s.execute(select(TemplatePages.pages).where(TemplatePages.source_id == "so")).scalar() == 10
        promo = s.get(TemplateBlock, ("so", tpl.block_hash(tpl.block_key(PROMO))))
        assert promo is not None and promo.pages == 10 and promo.sample.startswith("Mời bạn đọc")
        everything = tpl_store.load_model(s, "so")
        some = tpl_store.load_model(s, "so", extract(3, see_also=4))
        assert some.pages == everything.pages == 10
        assert len(some.counts) < len(everything.counts) / 4
        assert tpl.apply(extract(3, see_also=4), some).text == tpl.apply(extract(3, see_also=4), everything).text


def test_what_load_model_reads_for_a_page_cleans_it_as_the_whole_template_does(factory: sessionmaker[Session]) -> None:
    """load_model's rounds (a teaser found opens new places where another article's title may end; the later
    rounds look only at the paragraphs such a teaser follows) read every row apply needs, on every page."""
    crawl(factory, [(i, page(i, see_also=(i + 3) % 12)) for i in range(12)])
    with factory() as s:
        everything = tpl_store.load_model(s, "so")
        assert everything.known is not None  # the whole template: leads and titles by key
        changed = 0
        for i in range(12):
            for see_also in (None, (i + 1) % 12, (i + 5) % 12):
                ex = extract(i, see_also=see_also) if see_also is not None else extract(i)
                full = tpl.apply(ex, everything).text
                assert tpl.apply(ex, tpl_store.load_model(s, "so", ex)).text == full
                changed += full != ex.text
        assert changed >= 12  # the links to other articles were found and dropped, not just left alone


def test_a_workers_index_of_leads_and_titles_follows_the_archive(factory: sessionmaker[Session],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An extraction worker (``indexed``, SQLite) keeps the source's lead and title rows by key: read whole once,
    then only the rows added since it last looked, whole again past a pruning boundary (rows forgotten).  Every
    page is cleaned as the probe by hash cleans it (the rows the archive holds then; the frequent blocks from the
    same cache)."""
    from pipelines import template_keys
    from storage.models import TemplateBlock

    monkeypatch.setattr(tpl_store, "_KNOWN", {})
    monkeypatch.setattr(tpl_store, "PRUNE_EVERY", 6)
    reads: list[int] = []
    kinds: set[str | None] = set()
    add = template_keys.KnownKeys.add

    def counted(self: template_keys.KnownKeys, rows: list[tuple[str, int, str, str | None]],
                cached: bool = False) -> bool:
        reads.append(len(rows))
        kinds.update(r[3] for r in rows)
        return add(self, rows, cached)

    monkeypatch.setattr(template_keys.KnownKeys, "add", counted)
    sqlite = factory.kw["bind"].dialect.name == "sqlite"
    changed = 0
    for i in range(9):
        if i == 5:  # the sixth page is a pruning boundary: what the schedule forgets, the index forgets too
            with factory.begin() as s:
                title = s.get(TemplateBlock, ("so", tpl.block_hash(tpl.text_key(article(2)[0]), "t")))
                assert title is not None
                s.delete(title)
        crawl(factory, [(i, page(i, see_also=(i + 1) % 9))])
        with factory() as s:
            for j in range(9):
                ex = extract(j, see_also=(j + 2) % 9)
                got, probed = (tpl_store.apply_stored(s, "so", ex, indexed=flag) for flag in (True, False))
                assert isinstance(got, Extracted) and isinstance(probed, Extracted)
                assert got.text == probed.text, (i, j)
                changed += got.text != ex.text
    assert changed >= 9
    if sqlite:  # read whole after the first page and past the boundary, else a page's new rows
        assert len(reads) == 9 and reads[0] < reads[5] and max(reads[1:5] + reads[6:]) < reads[5]
        assert kinds == {"t", "l"}  # the blocks, most rows, stay in the database (their kind is stored)
        assert tpl_store._KNOWN[(str(factory.kw["bind"].url), "so")].keys is not None
    else:
        assert not reads  # PostgreSQL: probed by hash


def test_a_workers_index_stays_within_its_budget(factory: sessionmaker[Session],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The index holds at most KNOWN_BUDGET keys in a worker: a source that would take it past is looked up by
    hash instead (its rows not read when the index is full already), and cleaned the same."""
    if factory.kw["bind"].dialect.name != "sqlite":
        pytest.skip("the index is SQLite's (PostgreSQL probes by hash)")
    key = (str(factory.kw["bind"].url), "so")

    def same_as_probe(pages: int) -> None:
        with factory() as s:
            for j in range(pages):
                ex = extract(j, see_also=(j + 1) % pages)
                got, probed = (tpl_store.apply_stored(s, "so", ex, indexed=flag) for flag in (True, False))
                assert isinstance(got, Extracted) and isinstance(probed, Extracted) and got.text == probed.text

    monkeypatch.setattr(tpl_store, "_KNOWN", {})
    crawl(factory, [(0, page(0, see_also=1))])
    monkeypatch.setattr(tpl_store, "KNOWN_BUDGET", 0)  # full: the rows are not even read
    monkeypatch.setattr(tpl_store.KnownKeys, "add", lambda *a, **k: pytest.fail("rows read into a full index"))
    same_as_probe(2)
    assert tpl_store._KNOWN[key].keys is None
    monkeypatch.undo()
    monkeypatch.setattr(tpl_store, "_KNOWN", {})
    same_as_probe(1)
    first = tpl_store._KNOWN[key].keys
    assert first is not None
    monkeypatch.setattr(tpl_store, "KNOWN_BUDGET", first.size())  # room for the first page's keys, no more
    crawl(factory, [(i, page(i, see_also=(i + 1) % 4)) for i in range(1, 4)])
    same_as_probe(4)
    assert tpl_store._KNOWN[key].keys is None  # dropped when the later pages' rows took it past


@pytest.mark.parametrize("batch", [refine.REFINE_BATCH, 5])  # the run's versions are read a batch at a time (5: three batches)
def test_refine_fixes_the_cold_start_in_place_and_only_for_this_run(factory: sessionmaker[Session], batch: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from storage.models import Capture, Version

    monkeypatch.setattr(refine, "REFINE_BATCH", batch)

    def versions(run: int | None = None) -> dict[int, tuple[str, str]]:
        with factory() as s:
            q = select(Version).join(Capture, Capture.id == Version.capture_id)
            if run is not None:
                q = q.where(Capture.run_id == run)
            return {v.id: (v.content_sha256, v.text) for v in s.execute(q).scalars()}

    cold = crawl(factory, [(i, page(i, see_also=(i + 1) % 12)) for i in range(12)])  # a brand-new source
    before = versions(cold)
    assert sum(PROMO in text for _, text in before.values()) >= 3  # archived before the template was known
    later = crawl(factory, [(i, page(i, see_also=i - 1)) for i in range(12, 15)])
    assert not any(PROMO in text for _, text in versions(later).values())  # the template works online
    assert refine_run(factory, SOURCE, later, extract_article) == 0
    assert versions(cold) == before  # refining a run never touches the versions of another
    changed = refine_run(factory, SOURCE, cold, extract_article)
    after = versions(cold)
    assert changed == sum(after[v] != before[v] for v in before) >= 3
    for vid, (sha, text) in after.items():
        assert PROMO not in text and "Bài viết liên quan" not in text
        # the version's identity is the page's extraction, not the cleaning: refining never changes it
        assert sha == before[vid][0]
    assert refine_run(factory, SOURCE, cold, extract_article) == 0  # idempotent


def test_the_crawls_refinement_commits_a_batch_at_a_time_with_the_same_result(
        factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    """pipelines.refine.refine_run (the end of a crawl): a transaction per REFINE_BATCH versions it changes, so
    the archive's write lock is free between batches; what it leaves is what one transaction leaves."""
    from sqlalchemy import event

    from storage.models import Version

    monkeypatch.setattr(refine, "REFINE_BATCH", 5)
    cold = crawl(factory, [(i, page(i, see_also=(i + 1) % 12)) for i in range(12)])
    with factory() as s:
        before = {v.id: v.text for v in s.execute(select(Version)).scalars()}
    commits: list[object] = []

    def committed(conn: object) -> None:
        commits.append(conn)

    engine = factory.kw["bind"]
    event.listen(engine, "commit", committed)
    try:
        changed = refine_run(factory, SOURCE, cold, extract_article)
    finally:
        event.remove(engine, "commit", committed)
    with factory() as s:
        after = {v.id: v.text for v in s.execute(select(Version)).scalars()}
    assert changed == sum(after[v] != before[v] for v in before) >= 6
    assert len(commits) == -(-changed // 5)  # batches of 5 of the versions that change, nothing else written
    assert not any(PROMO in text for text in after.values())
    assert refine_run(factory, SOURCE, cold, extract_article) == 0  # idempotent


def _cold_run(factory: sessionmaker[Session]) -> tuple[int, list[int], tpl.TemplateModel]:
    """A brand-new source's first crawl: its run, the versions it made, and the template learnt by its end."""
    cold = crawl(factory, [(i, page(i, see_also=(i + 1) % 12)) for i in range(12)])
    with factory() as s:
        model = refine.refine_model(s, SOURCE.id)
        assert model is not None
        return cold, refine.run_version_ids(s, SOURCE.id, cold), model


def test_the_check_reads_versions_a_chunk_at_a_time_with_the_same_answer(
        factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    """versions_to_refine reads CHECK_CHUNK versions at a time (a worker's share of a big first crawl is tens
    of thousands): the same versions, in id order, whatever the chunk and the order the ids come in."""
    _, ids, model = _cold_run(factory)
    with factory() as s:
        whole = refine.versions_to_refine(s, model, ids)
        assert len(whole) >= 6 and whole == sorted(whole)
        for chunk in (1, 5, 7):
            monkeypatch.setattr(refine, "CHECK_CHUNK", chunk)
            assert refine.versions_to_refine(s, model, ids) == whole
            assert refine.versions_to_refine(s, model, ids[::-1]) == whole


def test_the_check_in_the_extraction_workers_finds_what_the_writer_would(
        factory: sessionmaker[Session], db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crawl finds the versions to refine in its extraction workers (real processes, reading the archive
    themselves), a batch per worker at a time; the archive then holds what refining in one thread leaves."""
    from pipelines.workers import ExtractorPool
    from storage.models import Version

    monkeypatch.setattr(refine, "REFINE_BATCH", 3)  # 12 versions: batches for both workers
    cold, ids, model = _cold_run(factory)
    with factory() as s:
        expected = refine.versions_to_refine(s, model, ids)
    assert len(expected) >= 6
    pool = ExtractorPool(workers=2)
    try:
        assert pool.call_blocking(refine.check_in_worker, db_url, SOURCE.id, ids) == expected
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):  # told, and the worker goes on
            pool.call_blocking(divmod, 1, 0)
        writes: list[str] = []

        def write(fn: object, *args: object) -> object:
            writes.append(getattr(fn, "__name__", ""))
            return fn(*args)  # type: ignore[operator]

        changed = refine_run(factory, SOURCE, cold, extract_article, write=write, pool=pool, db_url=db_url)
    finally:
        pool.close()
    assert changed == len(expected)
    assert "_check_here" not in writes  # the workers could read the archive: nothing was checked in the writer
    with factory() as s:
        texts = [v.text for v in s.execute(select(Version).where(Version.id.in_(ids))).scalars()]
    assert not any(PROMO in t for t in texts)
    assert refine_run(factory, SOURCE, cold, extract_article) == 0  # what the one-thread path leaves: nothing


def test_refine_removes_an_edit_that_was_only_the_template_being_learnt(factory: sessionmaker[Session]) -> None:
    """The site swaps its promo line on every page: a refetched article looks edited until the new line is learnt;
    at the end of that run its new version equals the previous one and is removed, not kept as an edit."""
    from storage.models import Article, Version

    first = crawl(factory, [(i, page(i, see_also=(i + 1) % 10)) for i in range(10)])
    refine_run(factory, SOURCE, first, extract_article)
    promo2 = "Bạn đọc gửi tin, bài, ảnh về hoạt động của địa phương qua hộp thư điện tử của Ban biên tập Cổng."

    def swapped(i: int, see_also: int) -> bytes:
        return page(i, see_also=see_also).replace(PROMO.encode(), promo2.encode())

    second = crawl(factory, [(0, swapped(0, 1)), *((i, swapped(i, i - 1)) for i in range(10, 20))])
    with factory() as s:
        art = s.execute(select(Article).where(Article.canonical_url.endswith("/tin/0.html"))).scalar_one()
        assert art.current_version == 2  # looked like an edit when fetched
    assert refine_run(factory, SOURCE, second, extract_article) >= 1
    with factory() as s:
        art = s.execute(select(Article).where(Article.canonical_url.endswith("/tin/0.html"))).scalar_one()
        assert art.current_version == 1
        assert [v.number for v in s.execute(select(Version).where(Version.article_id == art.id)).scalars()] == [1]


def test_skipped_pages_pass_through() -> None:
    skipped = Skipped("soft_404")
    assert tpl_store.apply_stored(None, "so", skipped) is skipped  # type: ignore[arg-type]


def test_an_attribution_on_every_page_is_kept_while_a_promo_goes() -> None:
    """'Nguồn: Báo Chính phủ' closes most of a source's articles: it is the article's attribution, not template."""
    def ex(i: int) -> Extracted:
        return Extracted(title=f"Tin số {i} về hội nghị", lead="", author=None, published=None, modified=None,
                         language="vi", page_canonical=None,
                         text=f"Đoạn văn riêng số {i} của bài viết này, nói về một sự kiện khác hẳn. " * 5 + "\n\n"
                              f"{PROMO}\n\nNguồn: Báo Chính phủ")
    model = tpl.TemplateModel()
    for i in range(20):
        model.learn(dataclasses.replace(ex(i), blocks=tuple(ex(i).text.split("\n\n"))))
    cleaned = tpl.apply(ex(99), model)
    assert "Nguồn: Báo Chính phủ" in cleaned.text
    assert PROMO not in cleaned.text


def test_a_label_the_template_knows_makes_what_follows_it_template() -> None:
    """A label on many of the source's pages (digits aside: "2024" is the "2025" learnt) before another
    article's title: the paragraph is template, though the label is too long for a title to start behind it."""
    other = "Hà Nội khởi công tuyến đường sắt đô thị số 5 nối Văn Cao với Hòa Lạc"
    label = "Bài viết cùng chuyên mục 2025"
    counts = {tpl.block_hash(tpl.block_key(label)): 50, tpl.block_hash(tpl.text_key(other), "t"): 1}
    model = tpl.TemplateModel(counts=counts, pages=100)
    para = f"Bài viết cùng chuyên mục 2024: {other}"
    assert len(tpl.text_key("Bài viết cùng chuyên mục 2024")) > 20  # no title starts behind it
    assert tpl._why_boilerplate(para, model, ("", "", "")) == "template"
    assert tpl._why_boilerplate(f"Bài viết cùng chuyên mục 2024: {other[:-12]}", model, ("", "", "")) is None
    assert tpl._why_boilerplate(other, model, ("", "", "")) == "other_title"


# _labelled and _may_open_title split a key only as far as its first words, relying on text_key's shape
_AWKWARD = ["  Tin  liên quan:\t\tBộ trưởng  ", "Xem thêm >>> Thủ tướng_chỉ đạo", "\u00a0Đọc thêm\u2003—  bài 2024",
            "a", "", "___", "Tin\u200bnóng: e\u0301 a\u0300", "HOT!!! 10 tin: ", "(Chinhphu.vn) - Sáng 3/10,  ...",
            "一 二 三 四 五 六 七 八", "Read more: « The headline » — 12/03/2024 - Ảnh"]


@pytest.mark.parametrize("text", _AWKWARD)
def test_text_keys_are_words_between_single_spaces(text: str) -> None:
    key = tpl.text_key(text)
    assert key == " ".join(key.split())


def test_labelled_rests_and_title_starts_match_a_whole_split() -> None:
    from pipelines.template import MAX_BLOCK_CHARS, TemplateModel, _labelled, _title_starts
    from pipelines.template_keys import DIGITS, block_hash

    keys = [tpl.text_key(t) for t in _AWKWARD + [" ".join(f"w{i}" for i in range(n)) for n in range(1, 10)]]
    # every label of every key counted as frequent, so _labelled yields all its rests
    counts = {block_hash(DIGITS.sub("0", " ".join(k.split()[:n]))): 99 for k in keys for n in range(1, 7)}
    model = TemplateModel(counts=counts, pages=10)
    for key in keys:
        words = key.split()
        expected = [" ".join(words[k:]) for k in range(1, min(7, len(words)))
                    if len(" ".join(words[:k])) <= MAX_BLOCK_CHARS]
        assert list(_labelled(model, key)) == expected, key
        assert _title_starts(key.split(" ", 6)) == _title_starts(words), key
