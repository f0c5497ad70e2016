"""crawler/revisit.py: when a known article is worth fetching again.  Time is given, never read."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from config.sources import Revisit
from crawler.revisit import KnownArticle, changed_since_capture, due_by_age

T0 = dt.datetime(2024, 8, 1, 0, 0, tzinfo=dt.UTC)
POLICY = Revisit()  # checkpoints 6, 24, 72, 168, 720 hours


def h(hours: float) -> dt.timedelta:
    return dt.timedelta(hours=hours)


def m(minutes: float) -> dt.timedelta:
    return dt.timedelta(minutes=minutes)


def known(**kw: object) -> KnownArticle:
    fields: dict[str, object] = dict(article_id=1, url="http://x.vn/a-1.html", status="live", published=T0,
                                     first_seen=T0, last_fetched=T0, etag=None, last_modified=None)
    fields.update(kw)
    return KnownArticle(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------- due_by_age

@pytest.mark.parametrize("age, last, due", [
    (5, 0, False),        # no checkpoint reached yet
    (6, 0, True),         # the 6 h checkpoint, exactly
    (7, 5.9, True),       # fetched just before the checkpoint: due again
    (7, 6, False),        # fetched at the checkpoint: done
    (23, 7, False),
    (25, 7, True),        # 24 h checkpoint
    (25, 24.5, False),
    (73, 30, True),       # 72 h
    (100, 80, False),     # 72 h passed before the last fetch, 168 h not yet
    (169, 80, True),      # 168 h
    (719, 200, False),
    (721, 200, True),     # 720 h, the last checkpoint
    (721, 720.5, False),
])
def test_due_by_age_checkpoints(age: float, last: float, due: bool) -> None:
    assert due_by_age(known(last_fetched=T0 + h(last)), T0 + h(age), POLICY) is due


@pytest.mark.parametrize("age, last, due", [
    (1439, 721, False),   # between 720 and 1440: the period has not come round
    (1441, 721, True),    # 2 x 720
    (2161, 1441, True),   # 3 x 720
    (2161, 2160.5, False),
    (720 * 10 + 1, 720 * 9 + 5, True),
])
def test_due_by_age_repeats_every_period_when_old(age: float, last: float, due: bool) -> None:
    assert due_by_age(known(last_fetched=T0 + h(last)), T0 + h(age), POLICY) is due


def test_due_by_age_disabled() -> None:
    a = known(last_fetched=T0)
    assert due_by_age(a, T0 + h(100), POLICY) is True
    assert due_by_age(a, T0 + h(100), Revisit(enabled=False)) is False
    assert due_by_age(a, T0 + h(100), Revisit(schedule_hours=())) is False


def test_due_by_age_checkpoints_need_not_be_sorted() -> None:
    p = Revisit(schedule_hours=(24, 6))
    assert due_by_age(known(last_fetched=T0 + h(7)), T0 + h(25), p) is True
    assert due_by_age(known(last_fetched=T0 + h(7)), T0 + h(23), p) is False
    # the largest checkpoint is the period
    assert due_by_age(known(last_fetched=T0 + h(25)), T0 + h(49), p) is True


def test_due_by_age_without_publication_date_counts_from_first_seen() -> None:
    seen = T0 + h(100)
    a = known(published=None, first_seen=seen, last_fetched=None)
    assert due_by_age(a, seen + h(5), POLICY) is False
    assert due_by_age(a, seen + h(6), POLICY) is True


def test_due_by_age_old_article_found_late_is_not_due_at_once() -> None:
    # published a year before we first saw it: fetched now, so nothing is due until the next period
    seen = T0 + h(24 * 365)
    a = known(published=T0, first_seen=seen, last_fetched=seen)
    assert due_by_age(a, seen + h(1), POLICY) is False


def test_due_by_age_future_publication_date_is_not_due() -> None:
    a = known(published=T0 + h(48), first_seen=T0, last_fetched=T0)
    assert due_by_age(a, T0 + h(10), POLICY) is False


def test_due_by_age_is_timezone_independent() -> None:
    vn = ZoneInfo("Asia/Ho_Chi_Minh")
    a = known(published=T0.astimezone(vn), first_seen=T0, last_fetched=(T0 + h(5)).astimezone(vn))
    assert due_by_age(a, (T0 + h(6)).astimezone(vn), POLICY) is True


# ---------------------------------------------------------------- changed_since_capture

L = T0 + h(10)


def test_changed_since_capture_compares_with_the_listed_lastmod() -> None:
    a = known(listed_lastmod=L, modified=L + h(100))  # the listed lastmod wins over the page's own time
    assert changed_since_capture(a, L + m(1)) is True
    assert changed_since_capture(a, L + dt.timedelta(seconds=1)) is True
    assert changed_since_capture(a, L) is False
    assert changed_since_capture(a, L - m(1)) is False
    # the same instant in another zone is not newer
    assert changed_since_capture(a, L.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))) is False


def test_changed_since_capture_none_lastmod_is_never_a_change() -> None:
    assert changed_since_capture(known(listed_lastmod=L), None) is False
    assert changed_since_capture(known(), None) is False
    assert changed_since_capture(known(published=None), None) is False


def test_changed_since_capture_falls_back_to_modified() -> None:
    a = known(modified=L, published=T0)
    assert changed_since_capture(a, L + m(2)) is True
    assert changed_since_capture(a, L + m(0.5)) is False  # within a minute: clocks and rounding
    assert changed_since_capture(a, L) is False
    assert changed_since_capture(a, T0 + m(30)) is False  # newer than published, older than modified


def test_changed_since_capture_falls_back_to_published() -> None:
    a = known(published=T0)
    assert changed_since_capture(a, T0 + m(2)) is True
    assert changed_since_capture(a, T0 + m(1)) is False
    assert changed_since_capture(a, T0 - h(1)) is False


def test_changed_since_capture_without_any_reference_trusts_the_lastmod() -> None:
    assert changed_since_capture(known(published=None), T0 - h(1000)) is True
