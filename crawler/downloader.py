"""Scrapy's downloader, holding a host to its concurrency again (FAULTS G2).

Scrapy 2.19 starts each download as a task (``_schedule_coro``) and the task marks the request as transferring
only when it first runs; the loop that fills a slot counts free transfer slots before any of those tasks has
run, so with no download delay it sends the whole queue to the host at once, whatever
``CONCURRENT_REQUESTS_PER_DOMAIN`` says (with a delay it sends one and stops).  Here a request counts as
transferring the moment it leaves the queue.  ``_download`` adds it to the same set again and removes it when
done, so nothing else changes.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy.core.downloader import Downloader
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro


class PoliteDownloader(Downloader):
    def _process_queue(self, slot: Any) -> None:
        if slot.latercall:
            return  # processing resumes when the delay is over
        now = monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # counted now, not when its task first runs
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:  # one request per delay
                self._process_queue(slot)
                break
