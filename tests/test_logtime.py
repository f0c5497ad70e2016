"""Log lines carry Vietnam time with its offset, whatever the machine's zone (issue 13: one time zone policy)."""

from __future__ import annotations

import logging
import re

from crawler.logtime import FORMAT, VietnamTimeFormatter


def test_a_log_line_is_stamped_in_vietnam_time_with_the_offset() -> None:
    record = logging.LogRecord("vnarchive.scheduler", logging.WARNING, __file__, 1, "crawl of %s failed", ("mps",),
                               None)
    record.created = 1764633600.25  # 2025-12-02T00:00:00.250Z
    line = VietnamTimeFormatter(FORMAT).format(record)
    assert line == "2025-12-02T07:00:00.250+07:00 WARNING vnarchive.scheduler: crawl of mps failed"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+07:00 ", line)
