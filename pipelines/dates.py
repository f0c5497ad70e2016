"""Vietnamese dates: ISO strings from metadata and visible date lines, always aware, never day/month-swapped.

Visible dates on Vietnamese pages are day-first ("Thứ năm, 03/10/2024 - 14:25", "10:50 | 25/08/2024",
"26/8/2024, 18:04 (GMT+7)", "Thứ hai, ngày 23 tháng 12 năm 2024"); other pages' with a month's name too
("01. April 2025, 15:25", "April 25, 2024").  A date whose month would be over 12 read
day-first is refused, never swapped into month-first.  A time without an offset is Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
)
_DMY = re.compile(r"(?<![\d/.-])(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?![\d/])")
_YMD = re.compile(r"(?<![\d/.-])(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?![\d/.-])")
_WORDS = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s*(?:,\s*|\s+)năm\s+(\d{4})", re.I)
# month names of the press we archive besides Vietnamese (whose months are numbers): "01. April 2025",
# "1 avril 2025", "1 de abril de 2025", "April 1, 2025", "Sept. 3, 2024"
_MONTHS = {name: i + 1 for i, names in enumerate((
    "january jan januar janvier enero gennaio janeiro januari januar stycznia ocak",
    "february feb februar février fevrier febrero febbraio fevereiro februari lutego şubat",
    "march mar märz maerz mars marzo março maart marts mars marca mart",
    "april apr avril abril aprile kwietnia nisan",
    "may mai mayo maggio maio mei maj maja mayıs",
    "june jun juni juin junio giugno junho czerwca haziran",
    "july jul juli juillet julio luglio julho lipca temmuz",
    "august aug août aout agosto augustus sierpnia ağustos",
    "september sep sept septembre septiembre settembre setembro września eylül",
    "october oct oktober octobre octubre ottobre outubro okt października ekim",
    "november nov novembre noviembre novembro listopada kasım",
    "december dec dezember décembre decembre diciembre dicembre dezembro desember grudnia aralık",
)) for name in names.split()}
_MONTH = "|".join(sorted((re.escape(n) for n in _MONTHS), key=len, reverse=True))
_DAY_MONTH_NAME = re.compile(rf"(?<![\w.])(\d{{1,2}})\.?\s+(?:de\s+)?({_MONTH})\.?,?\s+(?:de\s+)?(\d{{4}})(?!\d)", re.I)
_MONTH_NAME_DAY = re.compile(rf"(?<!\w)({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})(?!\d)", re.I)
_HM = re.compile(r"(?<![\d/.:,+])(\d{1,2})\s*(?::|h|g|giờ)\s*(\d{2})(?:\s*(?::|phút)\s*(\d{2}))?(?![\d/])"
                 r"(?:\s*(AM|PM|SA|CH|sáng|chiều|tối)\b)?", re.I)
_GMT = re.compile(r"(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", re.I)
_PM = {"pm", "ch", "chiều", "tối"}


def _offset_tz(sign: int, hours: int, minutes: int = 0) -> dt.tzinfo:
    delta = sign * dt.timedelta(hours=hours, minutes=minutes)
    # +07:00 is Vietnam time: keep the zone, so every Vietnamese date is in Asia/Ho_Chi_Minh
    return VN_TZ if delta == dt.timedelta(hours=7) else dt.timezone(delta)


def _tz(offset: str | None) -> dt.tzinfo:
    if not offset:
        return VN_TZ
    if offset == "Z":
        return dt.UTC
    digits = offset[1:].replace(":", "")
    return _offset_tz(1 if offset[0] == "+" else -1, int(digits[:2]), int(digits[2:4] or 0))


def parse_iso(value: str | None) -> dt.datetime | None:
    """An ISO 8601 date or datetime from metadata; a naive one is Vietnam time."""
    if not value:
        return None
    m = _ISO.search(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, off = m.groups()
    try:
        return dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=_tz(off))
    except ValueError:
        return None


def iso_has_time(value: str | None) -> bool:
    return bool(value and re.search(r"\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}", value))


def _date_in(text: str, names: bool = True) -> tuple[int, int, int, int, int] | None:
    """(day, month, year, start, end) of the first date in ``text``: day-first, ISO order, in Vietnamese words,
    or with a month's name."""
    found = []
    for rx, order in ((_WORDS, "dmy"), (_DMY, "dmy"), (_YMD, "ymd")):
        m = rx.search(text)
        if m:
            a, b, c = (int(x) for x in m.groups())
            d, mo, y = (a, b, c) if order == "dmy" else (c, b, a)
            found.append((m.start(), d, mo, y, m.end()))
    for rx, order in ((_DAY_MONTH_NAME, "dmy"), (_MONTH_NAME_DAY, "mdy")) if names else ():
        named = rx.search(text)
        if named:
            first, second, year = named.groups()
            day, name = (first, second) if order == "dmy" else (second, first)
            found.append((named.start(), int(day), _MONTHS[name.casefold()], int(year), named.end()))
    if not found:
        return None
    start, d, mo, y, end = min(found)
    return d, mo, y, start, end


def parse_visible(text: str | None, zone: dt.tzinfo = VN_TZ, names: bool = True) -> tuple[dt.datetime, bool] | None:
    """A day-first date line -> (datetime, whether a time of day was given); None when there is no valid date
    (a month over 12 is not a date here, and is never read month-first instead).  A time that states no offset
    is in ``zone`` (Vietnam time unless the page says otherwise); ``names=False``: dates with a month's name
    other than Vietnamese are not read (running text and captions spell dates that way)."""
    if not text:
        return None
    found = _date_in(text, names)
    if not found:
        return None
    d, mo, y, start, end = found
    if not (1 <= mo <= 12 and 1 <= d <= 31 and 1990 <= y <= 2100):
        return None
    rest = text[:start] + " | " + text[end:]
    h = mi = s = 0
    has_time = False
    for hm in _HM.finditer(rest):
        hh, mm = int(hm.group(1)), int(hm.group(2))
        if hh < 24 and mm < 60:
            ampm = (hm.group(4) or "").lower()
            if ampm in _PM and hh < 12:
                hh += 12
            elif ampm in ("am", "sa", "sáng") and hh == 12:
                hh = 0
            h, mi, s, has_time = hh, mm, int(hm.group(3) or 0), True
            break
    tz: dt.tzinfo = zone
    g = _GMT.search(text)
    if g:
        tz = _offset_tz(1 if g.group(1) == "+" else -1, int(g.group(2)), int(g.group(3) or 0))
    try:
        return dt.datetime(y, mo, d, h, mi, min(s, 59), tzinfo=tz), has_time
    except ValueError:
        return None


def to_vn(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(VN_TZ) if value else None


def http_date(value: bytes | str | None) -> dt.datetime | None:
    """An HTTP date (``Last-Modified``, ``Retry-After``: "Sat, 05 Oct 2024 09:33:04 GMT"), aware, UTC when it
    names no zone; None when absent or unreadable."""
    if not value:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
