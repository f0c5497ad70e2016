"""Atom 1.0 feeds (RFC 4287) of the changes and the removals, so a reader can subscribe to them.

Entry ids are tag URIs (RFC 4151) made of what the archive knows and never changes — the article's id and the
version's number, or the removal's time — so they stay the same whatever address the web view is served at:
``tag:vnarchive,2024:article/12/version/3``, ``tag:vnarchive,2024:article/12/removed/20240501T030000Z``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from storage.browse import Change, Removal
from storage.export import iso

NS = "http://www.w3.org/2005/Atom"
TAG = "tag:vnarchive,2024:"
FEED_SIZE = 50
# characters XML 1.0 cannot carry at all, even escaped (C0 controls but tab, CR, LF; lone surrogates; U+FFFE/F)
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """Text that XML can carry (the template escapes it): characters XML forbids are dropped."""
    return _NOT_XML.sub("", str(value))


@dataclass(slots=True, frozen=True)
class Entry:
    id: str
    title: str
    updated: str  # RFC 3339
    link: str  # the page of the change (absolute)
    summary: str
    category: str  # the source


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def change_entry(c: Change, link: str) -> Entry:
    what = ", ".join(c.fields) or "nothing visible"
    was = f" (was: {c.old_title})" if c.old_title and c.old_title != c.title else ""
    return Entry(f"{TAG}article/{c.article_id}/version/{c.version}", c.title or c.url, iso(c.at) or "", link,
                 f"{c.source}: version {c.version} of {c.url}; changed: {what}{was}", c.source)


def removal_entry(r: Removal, link: str) -> Entry:
    now = "" if r.status == "removed" else f"; now {r.status}"
    return Entry(f"{TAG}article/{r.article_id}/removed/{_stamp(r.at)}", r.title, iso(r.at) or "", link,
                 f"{r.source}: {r.url} removed" + (f" ({r.detail})" if r.detail else "") + now, r.source)


def updated(entries: list[Entry]) -> str:
    """The feed's own ``updated``: its newest entry's, or now for an empty feed."""
    if entries:
        return max(entries, key=lambda e: dt.datetime.fromisoformat(e.updated)).updated
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def render(title: str, feed_id: str, self_url: str, alternate: str, entries: list[Entry]) -> bytes:
    """The feed document, UTF-8, every text escaped by ElementTree (and stripped of what XML cannot carry)."""
    ET.register_namespace("", NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{NS}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        if text is not None:
            el.text = xml_text(text)
        return el

    feed = ET.Element(f"{{{NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "vi"})
    sub(feed, "id", feed_id)
    sub(feed, "title", f"{title} · vnarchive")
    sub(feed, "updated", updated(entries))
    sub(sub(feed, "author"), "name", "vnarchive")
    sub(feed, "generator", "vnarchive")
    sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    sub(feed, "link", rel="alternate", type="text/html", href=alternate)
    for e in entries:
        entry = sub(feed, "entry")
        sub(entry, "id", e.id)
        sub(entry, "title", e.title, type="text")
        sub(entry, "updated", e.updated)
        sub(entry, "link", rel="alternate", type="text/html", href=e.link)
        sub(entry, "category", term=e.category)
        sub(entry, "summary", e.summary, type="text")
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"
