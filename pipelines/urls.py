"""URL identity: which URLs are the same article.

``clean_url`` removes what never changes the page (tracking parameters, fragments, print/AMP switches) and is
what we request; ``url_key`` additionally folds mirror hosts, case-insensitive paths and trailing slashes and is
what identifies an article across URL variants.  Both are pure functions of the URL and the source config.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import tldextract
from w3lib.url import canonicalize_url

# query parameters that never change an article page
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "zarsrc", "zarsrc_id", "_ga",
    "print", "amp",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "ga_", "hsa_")
_AMP_PATH = re.compile(r"(^/amp(?=/))|(/amp/?$)|(\.amp(?=\.html?$|$))", re.I)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str, extra: frozenset[str]) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n in extra or n.startswith(TRACKING_PREFIXES)


def clean_url(url: str, ignore_params: tuple[str, ...] | frozenset[str] = ()) -> str:
    """The URL to request: same host and path, minus tracking/print/AMP parameters and the fragment."""
    extra = frozenset(p.lower() for p in ignore_params)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if host and not host.isascii() else host
    except UnicodeError:
        pass
    netloc = host
    if parts.port and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    path = _AMP_PATH.sub("", parts.path) or "/"
    # normalise percent-encoding: decode then re-encode the same way for every variant; an encoded slash
    # is not a path separator (RFC 3986), so it stays encoded
    path = "%2F".join(quote(unquote(seg), safe="/:@!$&'()*+,;=-._~") for seg in re.split("%2[Ff]", path))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k, extra)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


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
        path = path.lower()
    # http and https serve the same article: the key carries no scheme
    return canonicalize_url(urlunsplit(("http", netloc, path, u.query, ""))).removeprefix("http://")


# the Public Suffix List snapshot shipped with tldextract: never fetched at run time
_PSL = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def registrable_domain(host: str) -> str:
    """example.gov.vn for www.example.gov.vn; an IP address is its own site."""
    host = host.lower().rstrip(".")
    ext = _PSL(host)
    return ext.top_domain_under_public_suffix or host


def same_site(a: str, b: str) -> bool:
    """Whether two URLs are on the same registrable site (a rel=canonical we may trust)."""
    ha, hb = (urlsplit(x).hostname or "" for x in (a, b))
    if not ha or not hb:
        return False
    return registrable_domain(ha) == registrable_domain(hb)
