"""Is it an article?  Soft 404s, login walls, media-only pages, listings and languages, each on strong evidence."""

from __future__ import annotations

import re
from typing import Any

from pipelines.metadata import PageMeta, node_text

# "404" alone is a number ("xử lý 404 trường hợp"): only as an error code
_SOFT_404 = re.compile(r"không tìm thấy|page not found|not found|^\s*404\b|\b(?:lỗi|error|mã)\s*404\b|\b404\s*(?:error|"
                       r"not found|[-|:])|trang bạn (?:yêu cầu|tìm kiếm)|không tồn tại|đã bị (?:xóa|xoá|gỡ)", re.I)

_LOGIN_WALL = re.compile(r"vui lòng đăng nhập|đăng nhập để (?:đọc|xem|tiếp tục)|dành cho (?:thành viên|hội viên|bạn đọc đăng ký)|"
                         r"please (?:log|sign) in|subscribe to (?:read|continue)", re.I)


def not_article(pm: PageMeta, title: str, text: str, root: Any) -> str | None:
    if root.find(".//input[@type='password']") is not None and len(text) < 1500:
        return "login_wall"
    if _LOGIN_WALL.search(f"{title}\n{text[:500]}") and len(text) < 1500:
        return "login_wall"
    if _SOFT_404.search(title) or (len(text) < 600 and _SOFT_404.search(text[:300])):
        return "soft_404"
    og_type = (pm.meta("og:type") or "").lower()
    if og_type.startswith(("video", "music")) and len(text) < 800:
        return "video_page"
    return None


def media_only(root: Any) -> str | None:
    """What a page without text is made of: a video player, or a gallery of photos."""
    if root.find(".//video") is not None or any("youtube" in (f.get("src") or "") or "player" in (f.get("src") or "")
                                                 for f in root.iter("iframe")):
        return "video_page"
    if sum(1 for _ in root.iter("img")) >= 6:
        return "photo_page"
    return None


_VI_LETTERS = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I)


def language_of(text: str, declared: str | None) -> str | None:
    """'vi' when Vietnamese letters are frequent, 'other' when a text has almost none (a long one, or a shorter
    one whose page says it is not Vietnamese), else unknown.  The page's lang attribute alone decides nothing:
    CMS templates often say lang="en" over Vietnamese text."""
    vi = len(_VI_LETTERS.findall(text))
    if vi >= 0.03 * len(text) and sum(map(str.isalpha, text[:1000])) >= 100:
        return "vi"  # as below, without counting every letter: there are no more letters than characters
    letters = sum(map(str.isalpha, text))
    if letters < 100:
        return None
    if vi >= 0.03 * letters:
        return "vi"
    return "other" if letters >= 300 or (declared and declared != "vi") else None


def headline_links(container: Any | None) -> int:
    if container is None:
        return 0
    return len({a.get("href") for a in container.iter("a") if a.get("href") and len(node_text(a).split()) >= 6})


def is_listing(headline_links: int, paragraphs: list[str]) -> bool:
    """A list of other articles served under an article-looking URL: many headline links, teasers, and hardly
    a paragraph of prose (an article has prose, whatever boxes of links sit inside its body)."""
    if not paragraphs:
        return headline_links >= 8
    prose = sum(len(p) for p in paragraphs if len(p) >= 200 and not p.rstrip().endswith(("...", "…")))
    return headline_links >= 8 and prose < 0.3 * sum(len(p) for p in paragraphs)

