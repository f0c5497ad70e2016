"""Vietnamese dates: ISO strings from metadata and visible date lines, always aware, never day/month-swapped.

Visible dates on Vietnamese pages are day-first ("Thứ năm, 03/10/2024 - 14:25", "10:50 | 25/08/2024",
"26/8/2024, 18:04 (GMT+7)").  A time without an offset is Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
)
_DMY = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)")
_HM = re.compile(r"(?<![\d/])(\d{1,2})[:hg](\d{2})(?::(\d{2}))?(?![\d/])")
_GMT = re.compile(r"(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", re.I)


def _tz(offset: str | None) -> dt.tzinfo:
    if not offset:
        return VN_TZ
    if offset == "Z":
        return dt.UTC
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    return dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0)))


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


def parse_visible(text: str | None) -> tuple[dt.datetime, bool] | None:
    """A day-first date line -> (datetime, whether a time of day was given)."""
    if not text:
        return None
    m = _DMY.search(text)
    if not m:
        return None
    d, mo, y = (int(x) for x in m.groups())
    if not (1 <= mo <= 12 and 1 <= d <= 31 and 1990 <= y <= 2100):
        return None
    rest = text[: m.start()] + " " + text[m.end():]
    hm = _HM.search(rest)
    h = mi = s = 0
    if hm and int(hm.group(1)) < 24 and int(hm.group(2)) < 60:
        h, mi, s = int(hm.group(1)), int(hm.group(2)), int(hm.group(3) or 0)
    tz: dt.tzinfo = VN_TZ
    g = _GMT.search(text)
    if g:
        sign = 1 if g.group(1) == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(g.group(2)), minutes=int(g.group(3) or 0)))
    try:
        return dt.datetime(y, mo, d, h, mi, s, tzinfo=tz), bool(hm)
    except ValueError:
        return None


def to_vn(value: dt.datetime | None) -> dt.datetime | None:
    return value.astimezone(VN_TZ) if value else None
