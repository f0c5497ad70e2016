"""One door out: which requests a crawl may make, and which addresses it may connect to.

Every request of a source's crawl — discovery, revisits (``dont_filter=True``, which Scrapy's own
OffsiteMiddleware lets through), redirects, meta refreshes, robots.txt — passes :class:`ScopeMiddleware`:
http/https only, a host inside the source's ``allowed_domains``, and no internal address in an IP literal
(``http://10.0.0.1/``, ``http://2130706433/``, ``http://0x7f000001/``, ``http://127.1/``,
``http://[::ffff:127.0.0.1]/``).  A host name is checked where it is resolved: :class:`ScopedResolver` drops
every internal address a name resolves to before Twisted connects (so a name that rebinds to 127.0.0.1 between
two lookups is caught too), and the middleware refuses further requests to a name found to point inside.

Internal means loopback, private, link-local, multicast, reserved, unspecified or otherwise not globally
routable, IPv4 embedded in IPv6 included.  Two exceptions, both written by the operator, never by a site:

- ``VNARCHIVE_ALLOW_ADDRESSES=127.0.0.0/8`` (comma-separated networks) opens those ranges, for any host a
  source may request (test servers, an intranet site);
- an IP literal written in a source's ``allowed_domains`` (``allowed_domains = ["127.0.0.2"]``, as the
  simulator's sources file does) may be requested at that address: the operator named it.  A host *name* that
  resolves to that address gets no such exemption.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingHostnameResolver
from twisted.internet.interfaces import IResolutionReceiver
from zope.interface import implementer

logger = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SCHEMES = frozenset({"http", "https"})
ENV_ALLOW = "VNARCHIVE_ALLOW_ADDRESSES"

# what inet_aton (and so getaddrinfo, and browsers) read as an IPv4 address: 2130706433, 0x7f000001, 0177.1
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class NotAnAddress(ValueError):
    """A host that looks numeric but is no address (``http://99999999999/``): refused, never resolved."""


def host_address(host: str) -> Address | None:
    """The address an IP-literal host stands for, in any spelling; None for a host name.

    Raises :class:`NotAnAddress` for a numeric host no address matches."""
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    h = h.split("%", 1)[0]  # an IPv6 zone id
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h.rstrip(".")))
        except OSError:
            raise NotAnAddress(f"{host!r} is not a valid address") from None
    if ":" in h:
        raise NotAnAddress(f"{host!r} is not a valid address")
    return None


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def internal_reason(addr: Address) -> str | None:
    """Why ``addr`` is not on the public internet ('loopback', 'private', ...), or None when it is."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d
            return internal_reason(addr.ipv4_mapped)
        inner = _embedded_ipv4(addr)
        if inner is not None:
            why = internal_reason(inner)
            if why:
                return why
    for kind in ("loopback", "link_local", "multicast", "unspecified", "private", "reserved"):
        if getattr(addr, f"is_{kind}"):
            return kind
    if not addr.is_global:
        return "not_global"
    return None


def parse_networks(value: str | Iterable[str], what: str = ENV_ALLOW) -> tuple[Network, ...]:
    """``"127.0.0.0/8, ::1"`` -> networks; ValueError naming ``what`` on a bad entry."""
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else list(value)
    nets = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{what}: {item!r} is not an IP address or network (e.g. 127.0.0.0/8)") from None
    return tuple(nets)


def _plain(addr: Address) -> Address:
    """An IPv4-mapped IPv6 address is its IPv4 address (::ffff:127.0.0.1 is 127.0.0.1)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


@dataclass(slots=True)
class AddressPolicy:
    """Which internal addresses may be connected to anyway: ``allow`` networks for any host, ``named`` addresses
    only when the request's host is that very literal."""

    allow: tuple[Network, ...] = ()
    named: set[Address] = field(default_factory=set)

    def refusal(self, addr: Address, literal: bool) -> str | None:
        """None when a connection to ``addr`` is fine, else why not."""
        why = internal_reason(addr)
        if why is None:
            return None
        plain = _plain(addr)
        if any(plain.version == n.version and plain in n for n in self.allow):
            return None
        if literal and plain in self.named:
            return None
        return why


# one resolver per process (Twisted's reactor is one per process): every crawler of `crawl --all` adds the
# addresses its source names, and host names found to resolve inside are remembered for the middlewares
_policy = AddressPolicy()
_policy_lock = threading.Lock()
_blocked_names: dict[str, str] = {}


def configure(allow: Sequence[Network] | None = None, named: Iterable[Address] = ()) -> AddressPolicy:
    with _policy_lock:
        if allow is not None:
            _policy.allow = tuple(allow)
        _policy.named.update(_plain(a) for a in named)
    return _policy


def policy() -> AddressPolicy:
    return _policy


def reset() -> None:
    """Forget everything (tests)."""
    with _policy_lock:
        _policy.allow, _policy.named = (), set()
        _blocked_names.clear()


# ---------------------------------------------------------------- domains

def domain_entry(entry: str) -> str:
    """An ``allowed_domains`` entry as hosts are compared: lower case, no port, IDNA, an address in one form."""
    host = entry.strip().lower().rstrip(".")
    if host.startswith("["):
        host = host[1:host.index("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    try:
        addr = host_address(host)
    except NotAnAddress:
        return host
    if addr is not None:
        return str(_plain(addr))
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


@dataclass(frozen=True, slots=True)
class Domains:
    """A source's ``allowed_domains``: host names (with their subdomains) and IP literals (exactly)."""

    names: tuple[str, ...]
    addresses: frozenset[Address]

    @classmethod
    def of(cls, entries: Iterable[str]) -> Domains:
        names, addrs = [], set()
        for e in entries:
            d = domain_entry(e)
            try:
                a = host_address(d)
            except NotAnAddress:
                a = None
            if a is not None:
                addrs.add(_plain(a))
            elif d:
                names.append(d)
        return cls(tuple(names), frozenset(addrs))

    def allows(self, host: str, addr: Address | None) -> bool:
        if addr is not None:
            return _plain(addr) in self.addresses
        h = host.lower().rstrip(".")
        return any(h == d or h.endswith("." + d) for d in self.names)


# ---------------------------------------------------------------- the decision

@dataclass(frozen=True, slots=True)
class Refusal:
    kind: str  # bad_scheme | offsite | blocked_address
    detail: str


def check_url(url: str, domains: Domains | None, pol: AddressPolicy | None = None) -> Refusal | None:
    """Why ``url`` must not be requested, or None.  ``domains`` None: no domain restriction (addresses still)."""
    pol = pol or _policy
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as e:
        return Refusal("bad_scheme", f"unparseable URL ({e})")
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        return Refusal("bad_scheme", f"{scheme or 'no'} scheme: only http and https are fetched")
    if not host:
        return Refusal("offsite", "no host")
    try:
        addr = host_address(host)
    except NotAnAddress as e:
        return Refusal("blocked_address", str(e))
    if domains is not None and not domains.allows(host, addr):
        return Refusal("offsite", f"{host} is not in allowed_domains")
    if addr is not None:
        why = pol.refusal(addr, literal=True)
        if why:
            return Refusal("blocked_address", f"{addr} is a {why.replace('_', '-')} address")
    else:
        why_name = _blocked_names.get(host.lower().rstrip("."))
        if why_name:
            return Refusal("blocked_address", why_name)
    return None


# ---------------------------------------------------------------- the Scrapy adapters

class ScopeMiddleware:
    """Downloader middleware (before OffsiteMiddleware and robots.txt): refuses what :func:`check_url` refuses,
    counted as ``scope/offsite``, ``scope/blocked_address`` or ``scope/bad_scheme``; a redirect that crosses
    origins (:func:`crosses_origin`) carries no cookie or credentials (FAULTS E4), counted as
    ``redirect/credentials_withheld``."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self._domains: Domains | None = None
        self._seen: set[tuple[str, str]] = set()
        allow = crawler.settings.get("VNARCHIVE_ALLOW_ADDRESSES")
        configure(parse_networks(allow) if allow else None)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ScopeMiddleware:
        return cls(crawler)

    def _domains_of(self, spider: Any) -> Domains | None:
        if self._domains is None:
            entries = list(getattr(spider, "allowed_domains", None) or [])
            source = getattr(spider, "source", None)
            entries += list(getattr(source, "allowed_domains", ()) or ())
            if not entries:
                return None
            self._domains = Domains.of(entries)
            configure(named=self._domains.addresses)
        return self._domains

    def process_request(self, request: Any) -> None:
        spider = self.crawler.spider
        refusal = check_url(request.url, self._domains_of(spider))
        if refusal is None:
            redirects = request.meta.get("redirect_urls")
            if redirects and crosses_origin(str(redirects[-1]), request.url):
                strip_credentials(request)
                self.stats.inc_value("redirect/credentials_withheld")
            return
        self.stats.inc_value(f"scope/{refusal.kind}")
        host = urlsplit(request.url).netloc if refusal.kind != "bad_scheme" else request.url[:40]
        if (refusal.kind, host) not in self._seen:  # once per host: a site linking everywhere floods nothing
            self._seen.add((refusal.kind, host))
            logger.warning("%s: refused %s: %s (%s)", getattr(spider, "name", "?"), request.url,
                           refusal.kind.replace("_", " "), refusal.detail)
        raise IgnoreRequest(f"{refusal.kind}: {refusal.detail}")

    def process_response(self, request: Any, response: Any) -> Any:
        """A redirect to another scheme (``Location: file:///etc/passwd``) is never followed (Scrapy's redirect
        middleware drops it), but silently: here it is counted and said like every other refusal."""
        if 300 <= response.status < 400 and b"Location" in response.headers:
            location = response.headers[b"Location"].decode("latin-1").strip()
            scheme = urlsplit(location).scheme.lower()
            if scheme and scheme not in SCHEMES:
                self.stats.inc_value("scope/bad_scheme")
                logger.warning("%s: refused the redirect of %s to %s: bad scheme (only http and https are "
                               "fetched)", getattr(self.crawler.spider, "name", "?"), request.url, location[:80])
        return response


_DEFAULT_PORTS = {"http": 80, "https": 443}
CREDENTIALS = (b"Cookie", b"Authorization", b"Proxy-Authorization")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def crosses_origin(before: str, after: str) -> bool:
    """Whether a redirect from ``before`` to ``after`` leaves the origin credentials were given to: another host,
    another port (cookies are not port-bound by RFC 6265, and Scrapy's cookie jar sends them to every port of a
    host) or https down to http.  http up to https on the default ports is the same site."""
    s1, h1, p1 = _origin(before)
    s2, h2, p2 = _origin(after)
    if h1 != h2 or (s1 == "https" and s2 == "http"):
        return True
    if p1 == p2:
        return False
    return not (s1 == "http" and s2 == "https" and p1 == 80 and p2 == 443)


def strip_credentials(request: Any) -> None:
    """No Cookie, Authorization or Proxy-Authorization on ``request``, and none added by the cookie jar."""
    for name in CREDENTIALS:
        request.headers.pop(name, None)
    request.meta["dont_merge_cookies"] = True


@implementer(IResolutionReceiver)
class _Filtering:
    """Passes on the addresses a connection may use; remembers a name whose addresses were all refused."""

    def __init__(self, receiver: Any, name: str) -> None:
        self.receiver, self.name = receiver, name
        self.passed = 0
        self.refused: list[str] = []
        try:
            self.literal = host_address(name) is not None
        except NotAnAddress:
            self.literal = False

    def resolutionBegan(self, resolution: Any) -> None:  # noqa: N802
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: Any) -> None:  # noqa: N802
        try:
            addr = ipaddress.ip_address(address.host.split("%", 1)[0])
        except (AttributeError, ValueError):
            self.refused.append(str(address))
            return
        why = _policy.refusal(addr, literal=self.literal)
        if why is None:
            self.passed += 1
            self.receiver.addressResolved(address)
        else:
            self.refused.append(f"{addr} ({why.replace('_', '-')})")

    def resolutionComplete(self) -> None:  # noqa: N802
        if self.refused:
            logger.warning("%s resolves to internal addresses, not connected to: %s", self.name,
                           ", ".join(self.refused))
            if not self.passed:
                _blocked_names[self.name.lower().rstrip(".")] = f"{self.name} resolves to {self.refused[0]}"
        self.receiver.resolutionComplete()


class ScopedResolver(CachingHostnameResolver):
    """Scrapy's caching resolver (IPv4 and IPv6), minus the addresses no crawl may connect to: every
    connection Twisted makes goes through here, the cache's answers included."""

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> ScopedResolver:
        allow = crawler.settings.get("VNARCHIVE_ALLOW_ADDRESSES")
        configure(parse_networks(allow) if allow else None)
        return super().from_crawler(crawler, reactor)  # type: ignore[return-value]

    def resolveHostName(self, resolutionReceiver: Any, hostName: str, portNumber: int = 0,  # noqa: N802, N803
                        addressTypes: Any = None, transportSemantics: str = "TCP") -> Any:  # noqa: N803
        receiver: Any = _Filtering(resolutionReceiver, hostName)
        return super().resolveHostName(receiver, hostName, portNumber, addressTypes, transportSemantics)
