"""The client's address: the socket peer, or what a trusted proxy says it saw.

X-Forwarded-For is a list every proxy appends to: `client, proxy1, proxy2`, and
whoever sent the request to the first proxy wrote everything left of what that
proxy appended. So only entries added by proxies we trust mean anything: reading
from the right, the first address that is not one of our proxies is the client.
A peer that is not a trusted proxy is the client itself, whatever it sends.

APP_TRUSTED_PROXIES names the proxies by address, network or host name (such as
`proxy`, the edge's compose service). It must name proxies only, never addresses
clients can arrive from: a client seen by the edge as a trusted address (say the
Docker network's gateway, when published ports go through docker-proxy and the
whole subnet is trusted) would be skipped like a proxy, and what it wrote to the
left believed. Trust the edge itself, or have it overwrite X-Forwarded-For with the
peer it saw.

ForwardedMiddleware applies this once, outermost, by rewriting the ASGI scope's
`client` (and `scheme`, from X-Forwarded-Proto): the rate limiter, the access
log and the routes all see the same address. uvicorn's own proxy-header handling
is switched off (`--no-proxy-headers` in the Dockerfile), so this is the only one.
"""

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = frozenset({"http", "https"})


def parse_address(raw: str) -> Address | None:
    """An address from a peer or an X-Forwarded-For entry; None if malformed.

    Accepts `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` and `[2001:db8::1]:5678`;
    IPv4-mapped IPv6 addresses become IPv4. Zone ids and anything else are refused.
    """
    text = raw.strip()
    if text.startswith("["):
        host, bracket, _ = text[1:].partition("]")
        text = host if bracket else ""
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    if not text or "%" in text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


Resolver = Callable[[str], set[Address]]

_NO_SUCH_NAME = frozenset(
    code for code in (getattr(socket, "EAI_NONAME", None), getattr(socket, "EAI_NODATA", None)) if code
)
"""getaddrinfo's answers meaning the name does not exist (as opposed to DNS failing)."""


def resolve(host: str) -> set[Address]:
    """The addresses `host` resolves to now (socket.gaierror if none)."""
    found = set()
    for *_, sockaddr in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP):
        address = parse_address(str(sockaddr[0]))
        if address is not None:
            found.add(address)
    return found


class TrustedProxies:
    """Which peers may tell us the client's address (APP_TRUSTED_PROXIES).

    Networks are fixed. Host names (compose service names, such as the edge proxy's)
    are resolved in a background thread, never on a request's path: at start-up (see
    `refresh_soon`), then every `refresh_seconds`, and every `retry_seconds` while one of
    them does not resolve (the edge usually starts after the app). Until a name
    resolves, its proxy is not trusted: its requests count as its own. A name that no
    longer exists (the container is gone) stops being trusted at the next refresh, since
    its address may be given to another container; a failed lookup (DNS unavailable)
    keeps the addresses last seen.
    """

    def __init__(
        self,
        networks: Iterable[Network],
        hosts: Iterable[str] = (),
        refresh_seconds: float = 5.0,
        retry_seconds: float = 2.0,
        resolver: Resolver = resolve,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.networks = tuple(networks)
        self.hosts = tuple(hosts)
        self._refresh_seconds = refresh_seconds
        self._retry_seconds = retry_seconds
        self._resolver = resolver
        self._clock = clock
        self._lock = threading.Lock()
        self._resolved: dict[str, frozenset[Address]] = {}
        self._addresses: frozenset[Address] = frozenset()
        self._due = 0.0
        self._refreshing = False

    def trusts(self, address: Address) -> bool:
        if any(address in network for network in self.networks):
            return True
        if self.hosts:
            self.refresh_soon()
        return address in self._addresses

    def refresh_soon(self) -> None:
        """Start a background resolution of the host names if one is due."""
        with self._lock:
            if self._refreshing or self._clock() < self._due:
                return
            self._refreshing = True
        threading.Thread(target=self.refresh, name="trusted-proxies", daemon=True).start()

    def refresh(self) -> None:
        """Resolve every host name now; one that fails keeps its previous addresses."""
        failed = []
        try:
            for host in self.hosts:
                try:
                    self._resolved[host] = frozenset(self._resolver(host))
                except OSError as exc:
                    failed.append(host)
                    if isinstance(exc, socket.gaierror) and exc.errno in _NO_SUCH_NAME:
                        self._resolved.pop(host, None)
                    log.info("trusted proxy does not resolve", extra={"host": host, "error": str(exc)})
            self._addresses = frozenset().union(*self._resolved.values())
        finally:
            with self._lock:
                self._due = self._clock() + (self._retry_seconds if failed else self._refresh_seconds)
                self._refreshing = False

    def client(self, forwarded_for: Sequence[str], peer: str | None) -> str:
        """The client's address as a string: see the module docstring.

        `forwarded_for` holds the X-Forwarded-For header lines, in order. Malformed
        entries are skipped. When every entry is a trusted proxy, the left-most one is
        the client (a request from inside the proxies' network).
        """
        peer_address = parse_address(peer) if peer else None
        if peer_address is None:
            return peer or "unknown"
        if not self.trusts(peer_address):
            return str(peer_address)
        entries = [entry for line in forwarded_for for entry in line.split(",")]
        client = peer_address
        for entry in reversed(entries):
            address = parse_address(entry)
            if address is None:
                continue
            client = address
            if not self.trusts(address):
                break
        return str(client)


class ForwardedMiddleware:
    """Outermost layer: sets scope["client"] (and "scheme") from a trusted proxy's headers."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies):
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] in ("http", "websocket") and peer:
            host, port = peer[0], peer[1]
            headers = Headers(scope=scope)
            client = self.proxies.client(headers.getlist("x-forwarded-for"), host)
            address = parse_address(host)
            if address is not None and self.proxies.trusts(address):
                proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
                if proto in SCHEMES:
                    scope["scheme"] = proto if scope["type"] == "http" else proto.replace("http", "ws")
            if client != host:
                same = address is not None and client == str(address)
                scope["client"] = (client, port if same else 0)
        await self.app(scope, receive, send)
