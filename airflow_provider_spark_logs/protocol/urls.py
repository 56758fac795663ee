"""Which URLs we fetch, and which may carry credentials: decided here, with no I/O.

Two parsers read every URL: ours, to decide, and the transport's (urllib3 for ``requests``, yarl
for ``aiohttp``), to connect. A URL they could read differently (a backslash, userinfo, a fragment,
whitespace or control characters, a host that a resolver reads as a number) is refused, so that
the host we decide about is the host the transport connects to.

Downloads come from URLs that Spark (or a redirect) names, so they are fetched only from hosts the
connection trusts: the API's own origin, the hosts of extra ``download_hosts``, loopback hosts when
the API itself is on loopback (the emulator, local tests), and otherwise ``https`` on public
addresses only; a name is checked again by the address it resolved to.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_PLAIN_URL = re.compile(
    r"(?P<scheme>https?)://(?P<host>[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<rest>[/?][!-~]*)?",
    re.ASCII | re.IGNORECASE,
)
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.ASCII | re.IGNORECASE)
_ALLOWED_HOST = re.compile(r"(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|[0-9a-f:.]+", re.ASCII)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost", "ip6-loopback"})


@dataclass(frozen=True)
class PlainUrl:
    """An http(s) URL that every parser reads the same way; ``host`` is lower case."""

    scheme: str
    host: str
    port: int

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def address(self) -> IpAddress | None:
        """The host as an IP address, when it is one."""
        return ip_literal(self.host)


def plain_url(url: str) -> PlainUrl | None:
    """``url`` read strictly, or None if it is not an http(s) URL that all parsers read alike."""
    match = _PLAIN_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None or "#" in url or "\\" in url:
        return None
    scheme, host = match["scheme"].lower(), match["host"].lower()
    port = int(match["port"]) if match["port"] else (443 if scheme == "https" else 80)
    if not 0 < port < 65536 or not _clear_host(host):
        return None
    return PlainUrl(scheme, host, port)


def _clear_host(host: str) -> bool:
    """An IP literal in its one canonical form, or a name that no resolver reads as a number."""
    if host.startswith("["):
        return ip_literal(host) is not None
    labels = host.rstrip(".").split(".")
    if not all(labels):
        return False
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return ip_literal(host) is not None and len(labels) == 4  # a dotted quad, nothing shorter
    return True


def ip_literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def is_public(address: IpAddress) -> bool:
    """An address on the internet: not loopback, private, link-local, shared, reserved or multicast."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def is_loopback_host(host: str) -> bool:
    address = ip_literal(host)
    if address is not None:
        return is_loopback_address(address)
    return host in LOOPBACK_NAMES or host.rstrip(".").endswith(".localhost")


def is_loopback_address(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def allowed_host_pattern(value: str) -> str | None:
    """One entry of extra ``download_hosts`` in lower case (a name, ``*.domain`` or an IP), or None."""
    text = value.strip().lower().removeprefix("[").removesuffix("]")
    if not _ALLOWED_HOST.fullmatch(text) or (":" in text and ip_literal(text) is None):
        return None
    return text


@dataclass(frozen=True)
class DownloadHosts:
    """Where downloads may come from, for a connection whose API is at ``api``."""

    api: PlainUrl
    allowed: tuple[str, ...] = ()

    def refusal(self, url: PlainUrl) -> str | None:
        """Why ``url`` may not be fetched, judged by its scheme and host; None if it may."""
        if self._trusted(url.host) or url.origin == self.api.origin or self._local(url.host):
            return None
        if url.scheme != "https":
            return "it is plain http, and only https is fetched from hosts other than the API's"
        address = url.address
        if address is not None and not is_public(address):
            return f"{address} is not a public address"
        if is_loopback_host(url.host):
            return "it is a loopback name"
        return None

    def address_refusal(self, host: str, address: IpAddress) -> str | None:
        """Why a connection to ``host`` that reached ``address`` may not be used; None if it may."""
        host = host.lower()
        if self._trusted(host) or host == self.api.host:
            return None
        if self._local(host):
            return None if is_loopback_address(address) else f"it resolved to {address}, not a loopback address"
        return None if is_public(address) else f"it resolved to {address}, which is not a public address"

    def _trusted(self, host: str) -> bool:
        bare = host.removeprefix("[").removesuffix("]")
        return any(bare == p or (p.startswith("*.") and bare.endswith(p[1:])) for p in self.allowed)

    def _local(self, host: str) -> bool:
        return is_loopback_host(self.api.host) and is_loopback_host(host)
