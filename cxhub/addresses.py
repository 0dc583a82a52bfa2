"""Who is asking: the client's address, through the reverse proxies CX Hub trusts.

With NUM_PROXIES = 0 (the default: gunicorn faces the clients, as docker-compose.yml
runs it) the address is REMOTE_ADDR and X-Forwarded-For is ignored: any client can
write that header. Behind n proxies that each append the address they saw to
X-Forwarded-For (nginx's $proxy_add_x_forwarded_for, most load balancers), set
NUM_PROXIES = n: the address is the one the outermost trusted proxy saw.

Used by the API throttle for anonymous callers (cxhub.api.ApiThrottle.get_ident), the
public survey links' limit (surveys.views.public) and django-axes' lockouts
(AXES_CLIENT_IP_CALLABLE).
"""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.NUM_PROXIES
    if not proxies:
        return remote
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if not forwarded:
        return remote
    # The last `proxies` entries were written by our proxies; the first of them holds
    # the address the outermost one saw (anything before it the client may have sent).
    return _without_port(forwarded[-min(proxies, len(forwarded))])


def _without_port(entry: str) -> str:
    """Some load balancers write the client's port too: 203.0.113.7:4000 or
    [2001:db8::1]:443 are that address (a new port must not be a new client)."""
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    host, colon, port = entry.rpartition(":")
    if colon and "." in host and ":" not in host and port.isdigit():
        return host
    return entry


def client_network(request) -> str:
    """The client's address for counting: an IPv4 address as it is, an IPv6 one as its
    /64 network (one household or phone is given a whole /64 and can pick any address
    in it), anything unparseable as it is."""
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is 192.0.2.1
        return str(ip.ipv4_mapped)
    return f"{ipaddress.ip_network(f'{ip}/64', strict=False).network_address}/64"
