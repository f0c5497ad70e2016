"""Scrapy's downloader, holding a host to its concurrency again (FAULTS G2).

Scrapy 2.19 starts each download as a task (``_schedule_coro``) and the task marks the request as transferring
only when it first runs; the loop that fills a slot counts free transfer slots before any of those tasks has
run, so with no download delay it sends the whole queue to the host at once, whatever
``CONCURRENT_REQUESTS_PER_DOMAIN`` says (with a delay it sends one and stops).  Here a request counts as
transferring the moment it leaves the queue.  ``_download`` adds it to the same set again and removes it when
done, so nothing else changes.

A compression bomb is dropped by HttpCompressionMiddleware with an IgnoreRequest raised from its
``process_response``, which no other middleware's ``process_exception`` sees: ``fetch`` notes it here, where
every download ends, as a URL given up on (``too_large``, FAULTS D1) instead of a silent refusal.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy.core.downloader import Downloader
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro
from twisted.python.failure import Failure

from crawler.middlewares import give_up_at_once, is_too_large


class PoliteDownloader(Downloader):
    def fetch(self, request: Any, spider: Any = None) -> Any:  # type: ignore[override]
        d = super().fetch(request) if spider is None else super().fetch(request, spider)
        d.addErrback(self._too_large, request)
        return d

    def _too_large(self, failure: Failure, request: Any) -> Failure:
        if failure.check(IgnoreRequest) and is_too_large(failure.value):
            give_up_at_once(self.crawler, request, "too_large", failure.value)
        return failure

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
