"""The address a request came from, behind the school's reverse proxy.

Behind a proxy every request arrives from the proxy's own address, so a limit per address (the
reports of concern, django-axes's failed logins) would count everyone together and lock everyone
out at once. The proxy passes the client's address in X-Forwarded-For; that header is believed
only when the request comes from one of TRUSTED_PROXIES (addresses or networks), because anyone
else can write it. The client is the rightmost address in the header that is not itself a
trusted proxy (each proxy appends the address it saw).

Written here with the standard library's `ipaddress`: django-ipware's trusted list matches
address prefixes as text, not networks, and this rule is a few lines.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]):
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _parse(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return address is not None and any(address in network for network in networks)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy the address it forwarded."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not networks or not _trusted(_parse(remote), networks):
        return remote
    forwarded = request.META.get(getattr(settings, "TRUSTED_PROXY_HEADER", "HTTP_X_FORWARDED_FOR"), "")
    for hop in reversed([h for h in forwarded.split(",") if h.strip()]):
        address = _parse(hop)
        if address is None:
            return remote  # a header that cannot be read: the proxy's own address, never a guess
        if not _trusted(address, networks):
            return str(address)
    return remote
