"""URL identity: which URLs are the same article.

``clean_url`` removes what never changes the page (tracking parameters, fragments, print/AMP switches) and is
what we request; ``url_key`` additionally folds mirror hosts, case-insensitive paths and trailing slashes and is
what identifies an article across URL variants.  Both are pure functions of the URL and the source config.

Encoding is w3lib's ``canonicalize_url`` (what Scrapy's duplicate filter uses): percent-escapes are kept as
the bytes the site sent, upper-cased, never decoded as UTF-8, so ``?tieude=th%F4ng-b%E1o`` and
``?tieude=th%E2ng-b%E0o`` (windows-1258 portals) stay two URLs; the query is sorted; the host is lower-case
IDNA.  Only the policy (which parameters, hosts and paths do not matter) is written here.

A URL these functions cannot read (a port that is not a number or above 65535, a broken IPv6 literal) raises
``BadURL``, a ``ValueError``; ``try_url_key`` gives ``None`` instead, for discovery, which skips and counts it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

if TYPE_CHECKING:
    from config.sources import Source

# query parameters that never change an article page
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "zarsrc", "zarsrc_id", "_ga",
    "print", "amp",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "ga_", "hsa_")
_AMP_PATH = re.compile(r"(^/amp(?=/))|(/amp/?$)|(\.amp(?=\.html?$|$))", re.I)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
MAX_URL_CHARS = 2083  # Scrapy's URLLENGTH_LIMIT: a longer URL is never requested


class BadURL(ValueError):
    """A string that is not a usable http(s) URL (bad port, broken IPv6 literal, no host, too long)."""


def _is_tracking(name: str, extra: frozenset[str]) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n in extra or n.startswith(TRACKING_PREFIXES)


def _param_name(field: str) -> str:
    # latin-1 maps every byte to one character: a name is compared, never re-encoded
    return unquote_plus(field.partition("=")[0], encoding="latin-1")


def _split(url: str) -> tuple[str, str, str, str]:
    """(scheme, netloc, path, query) of a URL as given; BadURL when unreadable."""
    if len(url) > MAX_URL_CHARS:
        raise BadURL(f"longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises on a port that is not a number in 0-65535
    except ValueError as e:
        raise BadURL(str(e)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise BadURL(f"not an http(s) URL with a host: {url[:80]!r}")
    return scheme, parts.netloc, parts.path, parts.query


def clean_url(url: str, ignore_params: tuple[str, ...] | frozenset[str] = ()) -> str:
    """The URL to request: same host and path, minus tracking/print/AMP parameters and the fragment."""
    if not isinstance(ignore_params, (tuple, frozenset)):
        ignore_params = tuple(ignore_params)
    return _clean_url(url, ignore_params)


# Remembered: the archive writer cleans each URL of a page four times (its URLs and their keys, when the page is
# stored on fetch and again when it is archived), and w3lib's canonicalize_url is most of that
@functools.lru_cache(maxsize=4096)
def _clean_url(url: str, ignore_params: tuple[str, ...] | frozenset[str]) -> str:
    extra = frozenset(p.lower() for p in ignore_params)
    scheme, netloc, path, query = _split(url.strip())
    # the policy, on the URL as sent: parameters are dropped by name, the values of the others are untouched
    query = "&".join(f for f in query.split("&") if f and not _is_tracking(_param_name(f), extra))
    path = _AMP_PATH.sub("", path) or "/"
    try:
        out = canonicalize_url(urlunsplit((scheme, netloc, path, query, "")), keep_blank_values=True)
    except (ValueError, UnicodeError) as e:
        raise BadURL(str(e)) from None
    parts = urlsplit(out)
    netloc = parts.netloc
    if parts.port is not None and netloc.endswith(f":{parts.port}"):
        host, port = netloc[: -len(str(parts.port)) - 1], str(parts.port)
    else:
        host, port = netloc, ""
    host = host.rstrip(".") or host  # "x.vn." is x.vn
    netloc = host if not port or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def url_key(url: str, ignore_params: tuple[str, ...] | frozenset[str] = (),
            host_aliases: dict[str, str] | None = None, case_insensitive: bool = False) -> str:
    """The identity of an article URL: variants (mobile host, AMP, trailing slash, http/https...) agree."""
    u = urlsplit(clean_url(url, ignore_params))
    netloc = u.netloc
    if host_aliases:
        netloc = host_aliases.get(netloc, netloc)
    if netloc.startswith("m.") or netloc.startswith("mobile."):
        netloc = netloc.split(".", 1)[1]
    if netloc.startswith("www."):
        netloc = netloc[4:]
    path = u.path.rstrip("/") or "/"
    if case_insensitive:
        # escapes stay upper-case (%C4%90): only the letters the server ignores the case of are folded
        path = re.sub(r"%[0-9a-f]{2}", lambda m: m.group(0).upper(), path.lower())
    # http and https serve the same article: the key carries no scheme
    return urlunsplit(("http", netloc, path, u.query, "")).removeprefix("http://")


def try_url_key(url: str, ignore_params: tuple[str, ...] | frozenset[str] = (),
                host_aliases: dict[str, str] | None = None, case_insensitive: bool = False) -> str | None:
    """``url_key``, or None for a URL that cannot be read (discovery skips and counts it, never raises)."""
    try:
        return url_key(url, ignore_params, host_aliases, case_insensitive)
    except ValueError:
        return None


# the Public Suffix List snapshot shipped with tldextract: never fetched at run time
_PSL = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@functools.lru_cache(maxsize=4096)  # a crawl asks of the same few hosts on every page; tldextract is not cheap
def registrable_domain(host: str) -> str:
    """example.gov.vn for www.example.gov.vn; an IP address is its own site."""
    host = host.lower().rstrip(".")
    ext = _PSL(host)
    return ext.top_domain_under_public_suffix or host


def same_site(a: str, b: str) -> bool:
    """Whether two URLs are on the same registrable site (a rel=canonical we may trust)."""
    try:
        ha, hb = (urlsplit(x).hostname or "" for x in (a, b))
    except ValueError:
        return False
    if not ha or not hb:
        return False
    return registrable_domain(ha) == registrable_domain(hb)


def lookup_forms(ref: str, sources: Sequence[Source]) -> tuple[list[str], list[str]]:
    """A URL as given and as the crawler stores it (``clean_url`` with each source's parameters), and its
    identity keys (``key_for`` of each source, and the generic ``url_key``): the one identity ``show``,
    ``history``, ``diff`` and the web view's lookup find a URL by, so ``?utm_source=…``, ``?fbclid=…``,
    ``?print=1``, ``#fragment``, a mobile host or a trailing slash find the article.  Not a URL: nothing."""
    ref = ref.strip()
    if "://" not in ref:
        return [], []
    urls, keys = [ref, ref.rstrip("/")], []
    try:
        urls += [clean_url(ref), *(clean_url(ref, s.ignore_params) for s in sources)]
        # pipelines.archive.key_for's rule, without the archiving pipeline's imports to read a URL
        keys = [*(url_key(ref, s.ignore_params, s.host_aliases, s.case_insensitive_paths) for s in sources),
                url_key(ref)]
    except ValueError:  # not a URL after all (a bad port...): looked up as given
        pass
    return list(dict.fromkeys(urls)), list(dict.fromkeys(keys))
