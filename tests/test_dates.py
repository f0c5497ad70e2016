"""Vietnamese dates: day-first always, never day/month-swapped, always aware in Asia/Ho_Chi_Minh."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import html as lhtml

from pipelines.dates import VN_TZ, iso_has_time, parse_iso, parse_visible
from pipelines.metadata import best_datetime, find_visible_date

VN = dt.timedelta(hours=7)


def vn(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=VN_TZ)


@pytest.mark.parametrize(("text", "when", "has_time"), [
    ("Thứ năm, 03/10/2024 - 14:25", vn(2024, 10, 3, 14, 25), True),
    ("Chủ nhật, 6/10/2024, 09:05 (GMT+7)", vn(2024, 10, 6, 9, 5), True),
    ("10:50 | 25/08/2024", vn(2024, 8, 25, 10, 50), True),
    ("26/8/2024, 18:04 (GMT+7)", vn(2024, 8, 26, 18, 4), True),
    ("Thứ hai, ngày 23 tháng 12 năm 2024", vn(2024, 12, 23), False),
    ("Cập nhật lúc 08:30 ngày 03/10/2024", vn(2024, 10, 3, 8, 30), True),
    ("14:25 | Thứ Năm, 03/10/2024   Lượt xem: 1234", vn(2024, 10, 3, 14, 25), True),
    ("Thứ Năm, 03-10-2024, 07:12", vn(2024, 10, 3, 7, 12), True),
    ("3.10.2024 lúc 7h05", vn(2024, 10, 3, 7, 5), True),
    ("Cập nhật: 02:25 CH 03/10/2024", vn(2024, 10, 3, 14, 25), True),
    ("11:10 18/07/2022 |", vn(2022, 7, 18, 11, 10), True),
    ("2024-10-03 14:25", vn(2024, 10, 3, 14, 25), True),
    ("03/10/2024 (GMT+07:00)", vn(2024, 10, 3), False),
    ("03/10/2024", vn(2024, 10, 3), False),
])
def test_visible_date_lines(text: str, when: dt.datetime, has_time: bool) -> None:
    got = parse_visible(text)
    assert got is not None
    assert got == (when, has_time)
    assert got[0].utcoffset() == VN


@pytest.mark.parametrize(("text", "day", "month"), [
    ("05/06/2024", 5, 6),    # 5 June, never 6 May
    ("13/01/2024", 13, 1),
    ("01/12/2024", 1, 12),
])
def test_day_first_always(text: str, day: int, month: int) -> None:
    got = parse_visible(text)
    assert got is not None and (got[0].day, got[0].month) == (day, month)


@pytest.mark.parametrize("text", ["10/25/2024", "31/02/2024", "Ngày 15/09, Hội đồng nhân dân", "99/99/9999", "",
                                  "Lượt xem: 1234", "Số 12/2024/NĐ-CP"])
def test_no_date_is_made_up(text: str) -> None:
    """A month over 12 read day-first is not a date: refused, not swapped into month-first."""
    assert parse_visible(text) is None


def test_other_offsets_are_kept() -> None:
    got = parse_visible("03/10/2024 07:25 (GMT+0)")
    assert got is not None and got[0].utcoffset() == dt.timedelta(0)
    assert got[0].astimezone(VN_TZ) == vn(2024, 10, 3, 14, 25)


@pytest.mark.parametrize(("value", "when"), [
    ("2024-10-03T14:25:00+07:00", vn(2024, 10, 3, 14, 25)),
    ("2024-10-03T07:25:00Z", vn(2024, 10, 3, 14, 25)),
    ("2024-10-03T14:25:00.123+0700", vn(2024, 10, 3, 14, 25)),
    ("2024-10-03 14:25", vn(2024, 10, 3, 14, 25)),  # naive: Vietnam time
    ("2024-10-03", vn(2024, 10, 3)),
])
def test_iso_from_metadata(value: str, when: dt.datetime) -> None:
    got = parse_iso(value)
    assert got == when and got is not None and got.tzinfo is not None


def test_iso_plus_seven_is_the_vietnam_zone() -> None:
    got = parse_iso("2024-10-03T14:25:00+07:00")
    assert got is not None and got.tzinfo is VN_TZ


@pytest.mark.parametrize("value", [None, "", "hôm qua", "2024-02-30T10:00:00+07:00", "03/10/2024"])
def test_iso_garbage(value: str | None) -> None:
    assert parse_iso(value) is None


def test_iso_has_time() -> None:
    assert iso_has_time("2024-10-03T14:25:00+07:00")
    assert not iso_has_time("2024-10-03")
    assert not iso_has_time(None)


def test_a_time_refines_a_date_and_is_never_overridden_by_one() -> None:
    assert best_datetime([(vn(2024, 10, 3), False), (vn(2024, 10, 3, 14, 25), True)]) == vn(2024, 10, 3, 14, 25)
    assert best_datetime([(vn(2024, 10, 3, 14, 25), True), (vn(2024, 10, 3), False)]) == vn(2024, 10, 3, 14, 25)
    assert best_datetime([(None, False), (vn(2024, 10, 3), False)]) == vn(2024, 10, 3)
    assert best_datetime([]) is None


def test_the_date_line_next_to_the_headline_wins_over_todays_date() -> None:
    """Today's date in the top bar and dates of related links are not the article's; unnamed date lines count."""
    root = lhtml.document_fromstring("""<html><body>
    <div class="top-header"><span>Thứ năm, 03/10/2024</span></div>
    <div><div>Thứ Năm, 03/10/2024</div></div>
    <div class="main"><div><b>Tiêu đề bài viết về hội nghị tập huấn</b></div>
    <div><span>14:25 | Thứ Hai, 30/09/2024</span> <span>Lượt xem: 120</span></div>
    <p>Nội dung bài viết dài ...</p>
    <ul><li><a href="/x">Bài khác (01/10/2024)</a></li></ul></div></body></html>""")
    title = root.xpath("//b")[0]
    found = find_visible_date(root, title)
    assert found is not None
    assert found[:2] == (vn(2024, 9, 30, 14, 25), True)


def test_time_element_datetime_attribute() -> None:
    root = lhtml.document_fromstring('<html><body><h1>Tiêu đề</h1><time datetime="2024-08-25T10:50:00+07:00">'
                                     '10:50 | 25/08/2024</time></body></html>')
    found = find_visible_date(root, root.find(".//h1"))
    assert found is not None and found[:2] == (vn(2024, 8, 25, 10, 50), True)
