"""Log lines stamped in Vietnam time with the offset, like every other time vnarchive prints.

The daemon runs for months on machines set to UTC or to anything else: a bare local time ("2026-12-02
01:30:02") says nothing about when.  ``2026-12-02T08:30:02.145+07:00`` does.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from config.sources import TIMEZONE

_ZONE = ZoneInfo(TIMEZONE)
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class VietnamTimeFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return dt.datetime.fromtimestamp(record.created, _ZONE).isoformat(timespec="milliseconds")
