"""Where CX Hub's outgoing HTTP may go: by default, only to the public internet.

CX admins type the URLs that team alerts and webhooks are POSTed to, and the server
makes those requests and logs their status. Unchecked, that is server-side request
forgery: a URL on 127.0.0.1, 10.0.0.0/8, 169.254.169.254 (cloud metadata), fc00::/7 …
reaches what only the server can reach. So, as GitLab does ("Allow requests to the
local network from webhooks", off by default), a destination is refused unless every
address its host resolves to is globally routable, with two ways out for self-hosters
whose receivers are internal: `OUTBOUND_ALLOW_PRIVATE_NETWORKS=true` (anything goes)
and `OUTBOUND_ALLOWED_HOSTS` (host names, addresses or networks always allowed).

The check runs when a URL is saved (a clear form error; a host that does not resolve
is refused too, as the likely typo) and again before every delivery, since DNS
changes after the save. At delivery the addresses that passed are the ones connected
to (`opener` and `pin`): a name that resolves to a public address for the check and
to a private one a moment later (DNS rebinding) gets nothing, and TLS still verifies
the certificate against the host name. One residual race: through a proxy taken from
the environment (HTTP_PROXY/HTTPS_PROXY), the proxy connects, resolving the name again
itself; the check has still refused private literal addresses and names that resolved
privately here, and the proxy's own rules do the rest.

The standard library is enough here. The PyPI libraries for this wrap requests or httpx
(advocate, unreleased since 2020; ssrfguard; drawbridge), while deliveries use urllib;
safe-outbound fits urllib but is a first 0.1.0 release.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundError(ValueError):
    """CX Hub does not send a request to this URL (see the subclasses)."""


class Refused(OutboundError):
    """Never sent as configured: not http(s), no host, or a non-public address."""


class Unresolvable(OutboundError):
    """The host name does not resolve: a typo when saving, a DNS failure (perhaps
    passing) when delivering."""


@dataclass(frozen=True)
class Destination:
    """A checked destination: the URL's host and port and the addresses (getaddrinfo
    tuples) that passed, the only ones a pinned request connects to."""

    host: str
    port: int
    addresses: tuple[tuple, ...]

    def connect(self, timeout, source_address=None) -> socket.socket:
        """socket.create_connection, to the checked addresses instead of a new lookup."""
        error: OSError | None = None
        for family, kind, proto, _, sockaddr in self.addresses:
            sock = socket.socket(family, kind, proto)
            try:
                if timeout is None or isinstance(timeout, int | float):
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            return sock
        raise error or OSError(f"{self.host} has no address")


def non_public_kind(ip: IPAddress) -> str | None:
    """What makes `ip` not a public internet address ("loopback", "private", …), or
    None when it is globally routable. An IPv4 address inside IPv6 (::ffff:a.b.c.d,
    6to4, NAT64) is judged by the IPv4 address it reaches."""
    ip = _embedded_ipv4(ip) or ip
    for kind, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unique-local", ip.version == 6 and ip in _UNIQUE_LOCAL),
        ("site-local", ip.version == 6 and ip.is_site_local),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("non-public", not ip.is_global),  # e.g. carrier-grade NAT, 100.64.0.0/10
    ):
        if flag:
            return kind
    return None


def destination_check(url: str) -> Destination:
    """Resolve the URL's host and return the destination, or raise.

    Refused: the scheme is not http(s), there is no host, or any address the host
    resolves to is not globally routable (loopback, private, link-local, unique-local,
    multicast, reserved, unspecified, IPv4-mapped forms of these), unless
    OUTBOUND_ALLOW_PRIVATE_NETWORKS is on or OUTBOUND_ALLOWED_HOSTS lists the host
    name or the address. Unresolvable: the host does not resolve.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise Refused("The URL must be http:// or https://.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Refused("The URL has no host.")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise Refused("The URL's port is not a number from 0 to 65535.") from None
    try:
        addresses = tuple(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise Unresolvable(f"{host} does not resolve ({reason}): check the host name.") from exc
    if not addresses:
        raise Unresolvable(f"{host} does not resolve: check the host name.")
    if getattr(settings, "OUTBOUND_ALLOW_PRIVATE_NETWORKS", False):
        return Destination(host, port, addresses)
    allowed_names, allowed_networks = _allowed()
    if host.lower() in allowed_names:
        return Destination(host, port, addresses)
    for address in addresses:
        ip = ipaddress.ip_address(address[4][0].split("%", 1)[0])
        kind = non_public_kind(ip)
        if kind is None or _in_networks(ip, allowed_networks):
            continue
        article = "an" if kind == "unspecified" else "a"
        where = f"{host} is" if _is_literal(host) else f"{host} resolves to {ip},"
        raise Refused(
            f"{where} {article} {kind} address; to allow it, add {host} to "
            "OUTBOUND_ALLOWED_HOSTS or set OUTBOUND_ALLOW_PRIVATE_NETWORKS=true."
        )
    return Destination(host, port, addresses)


def pin(request: urllib.request.Request, destination: Destination) -> None:
    """Make an `opener()` connect `request` to the destination's checked addresses."""
    request.outbound_pin = (request.host, destination)


def opener(*handlers) -> urllib.request.OpenerDirector:
    """urllib.request.build_opener(*handlers) whose connections honour `pin`."""
    return urllib.request.build_opener(PinnedHTTPHandler, PinnedHTTPSHandler, *handlers)


# --- internals --------------------------------------------------------------------------------


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _allowed() -> tuple[set[str], list]:
    """OUTBOUND_ALLOWED_HOSTS split into host names and networks (an address is a
    network of one)."""
    names: set[str] = set()
    networks = []
    for entry in getattr(settings, "OUTBOUND_ALLOWED_HOSTS", ()) or ():
        entry = entry.strip().strip("[]").rstrip(".").lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def _in_networks(ip: IPAddress, networks) -> bool:
    candidates = [ip, *filter(None, [_embedded_ipv4(ip)])]
    return any(c in net for c in candidates for net in networks if c.version == net.version)


class _PinnedConnection:
    """An http.client connection whose socket goes to a Destination's addresses; the
    Host header and TLS (SNI, certificate check) still use the URL's host name."""

    def __init__(self, *args, destination: Destination, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = lambda _address, timeout, source=None: destination.connect(
            timeout, source
        )


class _PinnedHTTPConnection(_PinnedConnection, http.client.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnection, http.client.HTTPSConnection):
    pass


class _Pinning:
    pinned_class: type

    def do_open(self, http_class, req, **http_conn_args):
        host, destination = getattr(req, "outbound_pin", (None, None))
        # Through a proxy (req.host is then the proxy's) the proxy connects: no pin.
        if destination is not None and req.host == host:
            http_class = functools.partial(self.pinned_class, destination=destination)
        return super().do_open(http_class, req, **http_conn_args)


class PinnedHTTPHandler(_Pinning, urllib.request.HTTPHandler):
    pinned_class = _PinnedHTTPConnection


class PinnedHTTPSHandler(_Pinning, urllib.request.HTTPSHandler):
    pinned_class = _PinnedHTTPSConnection
