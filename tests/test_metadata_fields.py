"""Authors, credit lines and dates on hand-written Vietnamese pages shaped like the real CMS families."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from config.sources import Extraction
from pipelines.dates import parse_visible
from pipelines.extract import extract_article
from pipelines.items import Extracted
from pipelines.metadata import byline_name, credit_author, normalise_author, page_zone, shown_offset

PARA = ("Sáng 25/8, Sở Tư pháp tỉnh Quảng Ngãi tổ chức hội nghị triển khai quy chế phối hợp về an ninh mạng với "
        "sự tham gia của hơn 180 đại biểu đến từ các sở, ngành và địa phương trong tỉnh. ")
VN = dt.timezone(dt.timedelta(hours=7))


def page(closing: str = "", head: str = "", dateline: str = "", jsonld: str = "") -> bytes:
    body = "".join(f"<p>{PARA}Đoạn {i} nói về nhiệm vụ trọng tâm thứ {i} của năm.</p>" for i in range(5))
    return f"""<html lang="vi"><head><meta charset="utf-8"><title>Hội nghị an ninh mạng | Cổng TTĐT</title>
{head}{jsonld}</head><body><div class="news-detail"><h1>Hội nghị triển khai an ninh mạng năm 2024</h1>
{dateline}<div class="content">{body}{closing}</div></div></body></html>""".encode()


def run(html: bytes) -> Extracted:
    ex = extract_article(html, "https://so.example.vn/tin/hoi-nghi-123.html", "text/html; charset=utf-8",
                         Extraction())
    assert isinstance(ex, Extracted), ex
    return ex


@pytest.mark.parametrize(("line", "name"), [
    ("Theo Công Hùng (Báo Chính phủ)", "Công Hùng"), ("Nguồn: TTXVN", "TTXVN"), ("Theo VOV", "VOV"),
    ("Nguyễn Văn A - TTXVN", "Nguyễn Văn A"), ("Minh Anh (tổng hợp)", "Minh Anh"), ("PV", "PV"),
    ("Bài, ảnh: Thu Hà", "Thu Hà"), ("Tin, ảnh: Anh Loan", "Anh Loan"), ("Nguồn: Báo Nhân Dân", "Báo Nhân Dân"),
    ("Theo kế hoạch, sở sẽ hoàn thành trong tháng 9.", None), ("Tin liên quan", None),
    ("Nguồn vốn được bố trí từ ngân sách tỉnh và các nguồn hợp pháp khác.", None),
])
def test_credit_lines(line: str, name: str | None) -> None:
    assert credit_author(line) == name


@pytest.mark.parametrize(("raw", "clean"), [
    ("By Gopal Sharma", "Gopal Sharma"), ("ByEmma Mackenzie", "Emma Mackenzie"), ("Von Nina Magoley", "Nina Magoley"),
    ("Xiaoying You0,", "Xiaoying You"), ("NGUYỄN VĂN AN", "Nguyễn Văn An"), ("Bởi", None), ("admin", None),
    ("Twitter Facebook", None), ("Đỗ Lan Thắng - TTXVN", "Đỗ Lan Thắng"),
])
def test_author_names_as_a_reader_writes_them(raw: str, clean: str | None) -> None:
    assert normalise_author(raw) == clean


@pytest.mark.parametrize(("closing", "author"), [
    ("<p>Theo Công Hùng (Báo Chính phủ)</p>", "Công Hùng"),
    ("<p>Nguồn: TTXVN</p>", "TTXVN"),
    ('<div style="text-align:right"><b>PV</b></div>', "PV"),
    ("<p><strong>Minh Anh (tổng hợp)</strong></p>", "Minh Anh"),
])
def test_a_closing_credit_line_is_the_author_and_leaves_the_text(closing: str, author: str) -> None:
    ex = run(page(closing))
    assert ex.author == author
    assert author not in ex.text and "Đoạn 4" in ex.text


def test_the_credit_line_beats_a_cms_account_in_json_ld() -> None:
    jsonld = ('<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"NewsArticle",'
              '"headline":"Hội nghị triển khai an ninh mạng năm 2024","author":{"@id":"#p"},'
              '"datePublished":"2024-08-25T00:46:19+00:00"},{"@type":"Person","@id":"#p","name":"admin"}]}</script>')
    ex = run(page("<p>Nguồn: Báo Nhân Dân</p>", jsonld=jsonld))
    assert ex.author == "Báo Nhân Dân"
    # the plugin's UTC time, shown to Vietnamese readers in Vietnam time: the same instant, +07:00 kept
    assert ex.published == dt.datetime(2024, 8, 25, 7, 46, 19, tzinfo=VN)
    assert ex.published is not None and ex.published.utcoffset() == dt.timedelta(hours=7)


def test_an_update_time_is_modified_never_published() -> None:
    dateline = ('<div class="date-time"><span class="modified-date">Cập nhật: 14:02 | 04/10/2024</span></div>'
                '<div class="date-time"><span class="publish-date">Ngày đăng: 08:15 | 03/10/2024</span></div>')
    ex = run(page(dateline=dateline))
    assert ex.published == dt.datetime(2024, 10, 3, 8, 15, tzinfo=VN)
    assert ex.modified == dt.datetime(2024, 10, 4, 14, 2, tzinfo=VN)


def test_a_placeholder_date_is_no_date() -> None:
    head = ('<meta property="article:published_time" content="0001-01-01T00:00:00+00:00">'
            '<meta property="article:modified_time" content="2999-01-01T00:00:00+00:00">')
    ex = run(page(head=head, dateline='<div class="date">Thứ năm, 03/10/2024 - 14:25</div>'))
    assert ex.published == dt.datetime(2024, 10, 3, 14, 25, tzinfo=VN)
    assert ex.modified is None


def test_elementor_widgets_are_the_article_not_furniture() -> None:
    widget = ('<div class="elementor-widget elementor-widget-image"><div class="elementor-widget-container">'
              '<figure class="wp-caption"><img src="/a.jpg"><figcaption>Đại biểu dự hội nghị tại Quảng Ngãi. '
              '(Ảnh: Xuân Khu)</figcaption></figure></div></div>')
    ex = run(page(closing=widget))
    assert "Đại biểu dự hội nghị tại Quảng Ngãi" in ex.text


def test_jsonld_article_as_a_webpages_main_entity_gives_every_author_and_the_date() -> None:
    """schema.org's WebPage -> mainEntity -> NewsArticle (a scholarly publisher's shape): the article node is
    found inside, with all its authors and its date."""
    ld = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "WebPage", '
          '"mainEntity": {"@type": "NewsArticle", "headline": "Hội nghị triển khai an ninh mạng năm 2024", '
          '"datePublished": "2024-08-25T09:30:00+07:00", "author": [{"@type": "Person", "name": "Nguyễn Văn An"}, '
          '{"@type": "Person", "name": "Trần Thị Bình"}, {"@type": "Organization", "name": "TTXVN"}]}}</script>')
    ex = run(page(jsonld=ld))
    assert ex.author == "Nguyễn Văn An, Trần Thị Bình"
    assert ex.published == dt.datetime(2024, 8, 25, 9, 30, tzinfo=VN)


def test_a_live_blog_is_an_article_and_its_updates_authors_are_not_its_own() -> None:
    """LiveBlogPosting is a schema.org Article subtype; the posts nested in liveBlogUpdate are not the page."""
    ld = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "LiveBlogPosting", '
          '"headline": "Hội nghị triển khai an ninh mạng năm 2024", "datePublished": "2024-08-25T08:00:00+07:00", '
          '"author": [{"@type": "Person", "name": "Lê Minh Châu"}], "liveBlogUpdate": [{"@type": "BlogPosting", '
          '"headline": "Cập nhật", "datePublished": "2024-08-25T10:00:00+07:00", '
          '"author": {"@type": "Person", "name": "Phạm Quốc Dũng"}}]}</script>')
    ex = run(page(jsonld=ld))
    assert ex.author == "Lê Minh Châu"
    assert ex.published == dt.datetime(2024, 8, 25, 8, 0, tzinfo=VN)


def titled(og: str, h1: str, title: str, jsonld_headline: str = "") -> Extracted:
    ld = (f'<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{jsonld_headline}"}}'
          "</script>" if jsonld_headline else "")
    body = "".join(f"<p>{PARA}Đoạn {i}.</p>" for i in range(5))
    html = f"""<html lang="vi"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{og}"><meta property="og:site_name" content="Báo Ví Dụ">{ld}</head>
<body><article><h1>{h1}</h1><div class="content">{body}</div></article></body></html>"""
    return run(html.encode())


@pytest.mark.parametrize(("og", "h1", "title", "want"), [
    # the publisher's own title for the article, over a longer visible wording and its <title>
    ("Hà Nội mở rộng tuyến buýt điện", "Hà Nội mở rộng tuyến buýt điện ra các huyện ngoại thành",
     "Hà Nội mở rộng tuyến buýt điện ra các huyện ngoại thành | Báo Ví Dụ", "Hà Nội mở rộng tuyến buýt điện"),
    # an og:title with a section and site tail whose head is the visible headline
    ("Hà Nội mở rộng tuyến buýt điện - Thời sự | Báo Ví Dụ", "Hà Nội mở rộng tuyến buýt điện",
     "Hà Nội mở rộng tuyến buýt điện - Thời sự | Báo Ví Dụ", "Hà Nội mở rộng tuyến buýt điện"),
    # an og:title cut short
    ("Hà Nội mở rộng tuyến buýt điện ra các...", "Hà Nội mở rộng tuyến buýt điện ra các huyện ngoại thành",
     "Hà Nội", "Hà Nội mở rộng tuyến buýt điện ra các huyện ngoại thành"),
    # the same words: the spelling most of the page's titles agree on
    ("Bộ trưởng: 'Không để ai bị bỏ lại'", "Bộ trưởng: ‘Không để ai bị bỏ lại’",
     "Bộ trưởng: 'Không để ai bị bỏ lại' - Báo Ví Dụ", "Bộ trưởng: 'Không để ai bị bỏ lại'"),
])
def test_the_og_title_is_the_articles_title(og: str, h1: str, title: str, want: str) -> None:
    assert titled(og, h1, title).title == want


@pytest.mark.parametrize(("line", "want"), [
    ("erstellt:  01. April 2025, 15:25", dt.datetime(2025, 4, 1, 15, 25)),
    ("April 28, 2024 3:00 AM By Associated Press", dt.datetime(2024, 4, 28, 3, 0)),
    ("Publié le 5 mai 2024 à 10h30", dt.datetime(2024, 5, 5, 10, 30)),
    ("1 de abril de 2025", dt.datetime(2025, 4, 1)),
    ("Sept. 3, 2024", dt.datetime(2024, 9, 3)),
])
def test_dates_with_a_month_name(line: str, want: dt.datetime) -> None:
    got = parse_visible(line)
    assert got is not None and got[0].replace(tzinfo=None) == want


def test_a_date_in_words_in_a_caption_is_not_a_date_line() -> None:
    assert parse_visible("Lính Ukraine ở Bachmut, 24. April 2023", names=False) is None
    assert parse_visible("Thứ hai, ngày 23 tháng 12 năm 2024", names=False) is not None  # Vietnamese words stay


def test_a_time_without_offset_is_in_the_zone_the_metadata_states() -> None:
    zone = page_zone([None, "2025-04-01T15:30:00+02:00"])
    assert zone is not None and zone.utcoffset(None) == dt.timedelta(hours=2)
    assert page_zone(["2025-04-01T13:30:00Z", "2025-04-01"]) is None  # UTC says nothing of the newsroom
    when = parse_visible("01. April 2025, 15:25", zone)
    assert when is not None and when[0].utcoffset() == dt.timedelta(hours=2)


def test_utc_metadata_is_shown_in_the_zone_of_the_pages_wall_clock() -> None:
    utc = dt.datetime(2024, 4, 28, 7, 0, tzinfo=dt.UTC)
    zone = shown_offset(utc, dt.datetime(2024, 4, 28, 3, 0, tzinfo=VN))
    assert zone is not None and utc.astimezone(zone).isoformat() == "2024-04-28T03:00:00-04:00"
    assert shown_offset(utc, dt.datetime(2024, 4, 28, 3, 7, tzinfo=VN)) is None  # not a zone's offset
    assert shown_offset(utc.astimezone(VN), dt.datetime(2024, 4, 28, 3, 0, tzinfo=VN)) is None  # not UTC


def test_visible_month_name_date_with_the_pages_offset() -> None:
    ex = run(page(dateline='<span class="meta_date">erstellt: 01. April 2025, 15:25</span>',
                  head='<meta property="article:modified_time" content="2025-04-02T08:00:00+02:00">'))
    assert ex.published is not None and ex.published.isoformat() == "2025-04-01T15:25:00+02:00"


@pytest.mark.parametrize(("line", "uncased", "name"), [
    ("von Jemima Kelly", False, "Jemima Kelly"), ("By Emma Mackenzie", False, "Emma Mackenzie"),
    ("Anna Martel und Lea Wagner, Nairobi", False, "Anna Martel und Lea Wagner, Nairobi"),
    ("Thu Hà và Minh Anh", False, "Thu Hà và Minh Anh"),
    ("松岡大地", True, "松岡大地"), ("松岡大地", False, None),  # a script without capitals: only where named
    ("この記事の筆者 松岡大地 フォロー すべて見る", True, None),
    ("Theo TTXVN", False, None), ("và các đơn vị", False, None),
    # a label of its own element, its colon left out ("<strong>Autorin/Autor</strong> Roman Goncharenko")
    ("Autorin/Autor Roman Goncharenko", False, "Roman Goncharenko"), ("Author: Jane Doe", False, "Jane Doe"),
    ("Authorities said", False, None),
    ("韓国の国旗＝ＡＰ", False, None), ("韓国の国旗＝ＡＰ", True, None),  # a caption with its agency, not a name
])
def test_byline_names(line: str, uncased: bool, name: str | None) -> None:
    assert byline_name(line, uncased) == name


def test_a_plural_byline_class_and_its_preposition() -> None:
    ex = run(page(dateline='<ul class="authors"><li class="authors__list-item">von Jemima Kelly</li></ul>'))
    assert ex.author == "Jemima Kelly"


def test_a_byline_with_the_writers_role_glued_on_is_the_declared_name() -> None:
    ex = run(page(head='<meta name="author" content="Emma Mackenzie">',
                  dateline='<div class="author"><span>Emma Mackenzie</span><span>Lifestyle Writer</span></div>'))
    assert ex.author == "Emma Mackenzie"


def test_a_labelled_byline_without_its_colon() -> None:
    ex = run(page(dateline="<ul><li><strong>Ngày</strong> 28/04/2023</li>"
                           "<li><strong>Tác giả</strong> Nguyễn Thu Hà</li></ul>".replace("Tác giả", "Autor")))
    assert ex.author == "Nguyễn Thu Hà"


def test_a_one_word_list_item_closing_the_body_is_not_a_byline() -> None:
    ex = run(page(closing="<ul><li>An ninh</li><li>Quảng Ngãi</li></ul>"))
    assert ex.author is None


@pytest.mark.parametrize(("opening", "author"), [
    ("<p><strong>Mohloai Mpesi</strong></p>", "Mohloai Mpesi"),
    ("<p><strong>MTHOBISI SITHOLE</strong></p>", "Mthobisi Sithole"),
    ("<p><b>Mathatisi Sebusi/Mohalenyane Phakela</b></p>", "Mathatisi Sebusi, Mohalenyane Phakela"),
    # after a short standfirst of its own
    ("<p><em>…khi người dân lên tiếng</em></p><p><strong>Mohloai Mpesi</strong></p>", "Mohloai Mpesi"),
    ("<p><strong>Tình hình chung</strong></p>", "Admin Account"),  # a subheading in bold is not a name
    ("<p>Nguyễn Văn An</p>", "Admin Account"),  # nor a name that is not set apart in bold
])
def test_a_name_alone_in_bold_opening_the_body_is_the_writer(opening: str, author: str) -> None:
    """WordPress papers print the writer as the body's first line while JSON-LD names the posting account."""
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Hội nghị triển khai an ninh '
          'mạng năm 2024", "author": {"@type": "Person", "name": "Admin Account"}}</script>')
    body = "".join(f"<p>{PARA}Đoạn {i}.</p>" for i in range(4))
    html = f"""<html lang="vi"><head><meta charset="utf-8"><title>Hội nghị</title>{ld}</head><body><article>
<h1>Hội nghị triển khai an ninh mạng năm 2024</h1><div class="entry-content">{opening}{body}</div></article>
</body></html>""".encode()
    ex = run(html)
    assert ex.author == author
    name_line = re.findall(r">([^<>]+)<", opening)[-1]
    assert (name_line in ex.text) == (author == "Admin Account")


def test_the_editor_the_page_shows_is_not_the_writer() -> None:
    """A CMS puts the editor's account in the JSON-LD; the page shows the writer's byline and labels the editor."""
    ld = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
          '"headline": "Hội nghị triển khai an ninh mạng năm 2024", '
          '"author": {"@type": "Person", "name": "Heryadi"}}</script>')
    ex = run(page(jsonld=ld, dateline='<div class="author-2">Naufal Zuhdi</div>',
                  closing='<div class="info-author">Editor : <a href="/author/112/heryadi">Heryadi</a></div>'))
    assert ex.author == "Naufal Zuhdi"
    ex = run(page(jsonld=ld, dateline='<div class="author-2">Naufal Zuhdi</div>'))
    assert ex.author == "Heryadi"  # no editor shown: the JSON-LD person stands


def test_element_texts_are_remembered_only_inside_texts_remembered() -> None:
    import threading

    from lxml import html as lhtml

    from pipelines.metadata import node_text, texts_remembered

    p = lhtml.fromstring("<div><p>Hà  Nội</p></div>").find("p")
    with texts_remembered():
        assert node_text(p) == "Hà Nội"
        p.text = "Huế"
        assert node_text(p) == "Hà Nội"  # remembered: the tree must not change inside
        seen: list[str] = []
        other = threading.Thread(target=lambda: seen.append(node_text(p)))  # another thread reads afresh
        other.start()
        other.join()
        assert seen == ["Huế"]
    assert node_text(p) == "Huế"


_CLASS_LISTS = [
    "", " ", "post-date", "Post-Date entry", "TopBar", "site_header", "header", "page-header x", "xheader",
    "ArticleMeta", "DetailAuthor", "tac-gia", "TAC-GIA", "box-Related", "Share-Tools", "advertisement-box",
    "elementor-widget-container wp-block-group", "Elementor-Widget widget", "mt-4 flex text-sm md:text-base " * 8,
    "ti\u1ebfng-vi\u1ec7t date", "\u212aeywords", "\u017fhare", "author\u0131", "DAT\u0130", "na\u00efve byline",
    "\u0130MAGE time", "\u00c9DITION related", "\u1e9eMART", "top-\u00adbar",
]


@pytest.mark.parametrize("names", _CLASS_LISTS)
def test_class_word_patterns_match_as_their_case_insensitive_regex(names: str) -> None:
    """ClassWords lower-cases ASCII class lists and searches without re.I: exactly what re.I finds, non-ASCII
    lists (the Kelvin sign, the long s, the dotted capital I) included."""
    from pipelines import clean, fields, metadata

    for words in (metadata._DATE_CLASS, metadata._NOT_ARTICLE_DATE, clean._BOILER, clean._PAGE_BUILDER_WORDS,
                  fields._LEAD, fields._AUTHOR):
        regex = re.compile(words._any.pattern, re.I)
        assert words.search(names) == bool(regex.search(names)), (words._any.pattern[:40], names)
        cut = words.sub(" ", names)
        assert bool(clean._BOILER.search(cut)) == bool(re.compile(clean._BOILER._any.pattern, re.I).search(
            regex.sub(" ", names)))


def test_class_words_refuse_a_pattern_with_capitals() -> None:
    from pipelines.classnames import ClassWords

    with pytest.raises(ValueError, match="upper-case"):
        ClassWords(r"\Sdate")
