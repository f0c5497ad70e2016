"""Fetched, stored, not yet archived: the pages a crawl has committed before extracting them.

A page's capture is written with outcome ``pending`` and a ``pending_pages`` row as soon as it is fetched;
archiving it later *settles* that capture (outcome, article, body kept or dropped) and deletes the row in the
same transaction.  So a kill between fetch and archive loses nothing, and the next crawl of the source
archives the pending pages from their stored bytes instead of fetching them again.  Functions take a session
and never commit, like ``storage.repo``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from storage import repo
from storage.models import Capture, PendingPage

PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Stored:
    """A pending page as stored: its capture's fields and the discovery facts the capture does not hold."""

    capture_id: int
    source_id: str
    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: dt.datetime
    page: dict[str, Any]


def store(session: Session, *, source_id: str, run_id: int | None, url: str, final_url: str, status: int,
          headers: dict[str, str], fetched_at: dt.datetime, body: bytes, page: dict[str, Any],
          sha256: str | None = None) -> int:
    """Commit-to-be a fetched page: a capture with its bytes, outcome ``pending``; returns the capture id."""
    cap_id = repo.store_capture(session, source_id=source_id, run_id=run_id, url=url, final_url=final_url,
                                status=status, headers=headers, fetched_at=fetched_at, body=body, outcome=PENDING,
                                sha256=sha256)
    session.connection().execute(_statements()["pending"], {"capture_id": cap_id, "source_id": source_id, "page": page})
    return cap_id


def settle(session: Session, capture_id: int, *, outcome: str, article_id: int | None = None,
           decode_errors: int = 0, keep_body: bool = True) -> int:
    """The pending capture gets what became of it; the page is no longer pending.  Returns the capture id.
    Core statements (see ``repo.store_capture``)."""
    # an unchanged refetch keeps its headers and hash, not another copy of the bytes
    st = _statements()["settle" if keep_body else "settle_bodiless"]
    session.flush()  # the article it names first
    conn = session.connection()
    if conn.execute(st, {"cid": capture_id, "outcome": outcome, "article_id": article_id,
                         "decode_errors": decode_errors}).rowcount == 0:  # deleted meanwhile (its source removed)
        raise LookupError(f"capture {capture_id} is gone")
    conn.execute(_statements()["unpend"], {"cid": capture_id})
    return capture_id


@functools.cache
def _statements() -> dict[str, Any]:
    """Built once: the archive writer runs these for every page (see ``repo._statements``)."""
    settle = update(Capture).where(Capture.id == bindparam("cid")).values(
        outcome=bindparam("outcome"), article_id=bindparam("article_id"), decode_errors=bindparam("decode_errors"))
    return {"pending": insert(PendingPage), "settle": settle, "settle_bodiless": settle.values(body=None),
            "unpend": delete(PendingPage).where(PendingPage.capture_id == bindparam("cid"))}


def pending_ids(session: Session, source_id: str) -> list[int]:
    """The source's pending captures, oldest first."""
    return list(session.scalars(select(PendingPage.capture_id).where(PendingPage.source_id == source_id)
                                .order_by(PendingPage.capture_id)))


def load(session: Session, capture_id: int) -> Stored | None:
    row = session.execute(select(Capture, PendingPage).join(PendingPage, PendingPage.capture_id == Capture.id)
                          .where(Capture.id == capture_id)).first()
    if row is None:
        return None
    cap, pend = row
    return Stored(capture_id=cap.id, source_id=cap.source_id, url=cap.url, final_url=cap.final_url,
                  status=cap.status, headers=dict(cap.headers or {}), body=repo.capture_body(cap) or b"",
                  fetched_at=cap.fetched_at, page=dict(pend.page or {}))
