"""Client addresses: forwarded headers count only from trusted proxies, right-most first."""

import ipaddress
import socket
import time

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from app.forwarding import Address, ForwardedMiddleware, TrustedProxies, parse_address

EDGE = "172.18.0.5"
PROXIES = TrustedProxies([ipaddress.ip_network("172.18.0.0/16"), ipaddress.ip_network("fd00::/8")])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("203.0.113.7:5678", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_addresses_are_parsed_and_normalised(raw: str, expected: str) -> None:
    assert str(parse_address(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "unknown", "203.0.113", "203.0.113.7.1", "evil.example", "fe80::1%eth0", "[2001:db8::1", "1:2"],
)
def test_malformed_addresses_are_refused(raw: str) -> None:
    assert parse_address(raw) is None


@pytest.mark.parametrize(
    "forged",
    [
        ["203.0.113.9"],
        ["203.0.113.9, 198.51.100.1"],
        ["203.0.113.9", "198.51.100.1"],
        [f"203.0.113.9, {EDGE}"],
    ],
)
def test_an_untrusted_peer_is_the_client_whatever_it_sends(forged: list[str]) -> None:
    assert PROXIES.client(forged, "198.51.100.77") == "198.51.100.77"


def test_nothing_is_trusted_by_default() -> None:
    assert TrustedProxies([]).client(["203.0.113.9"], EDGE) == EDGE


@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        # The edge appended the address it saw: that is the client.
        (["198.51.100.1"], "198.51.100.1"),
        # Whatever the client wrote to the left is ignored.
        (["203.0.113.9, 198.51.100.1"], "198.51.100.1"),
        (["1.1.1.1, 2.2.2.2, 198.51.100.1"], "198.51.100.1"),
        # Several header lines are one list, in order.
        (["203.0.113.9", "198.51.100.1"], "198.51.100.1"),
        # Trusted hops on the right are skipped (a chain of our own proxies).
        ([f"203.0.113.9, 198.51.100.1, 172.18.0.9, {EDGE}"], "198.51.100.1"),
        (["198.51.100.1, fd00::7"], "198.51.100.1"),
        # Malformed entries are skipped, never answered.
        (["198.51.100.1, unknown"], "198.51.100.1"),
        (["198.51.100.1, , not-an-ip"], "198.51.100.1"),
        (["[2001:db8::5]:1234"], "2001:db8::5"),
        # Only our own proxies: the left-most of them is the client (an internal caller).
        ([f"172.18.0.9, {EDGE}"], "172.18.0.9"),
        # No usable header: the peer itself.
        ([], EDGE),
        (["garbage"], EDGE),
    ],
)
def test_a_trusted_peer_gives_the_right_most_untrusted_entry(
    forwarded_for: list[str], expected: str
) -> None:
    assert PROXIES.client(forwarded_for, EDGE) == expected


def test_peers_without_an_address() -> None:
    assert PROXIES.client(["203.0.113.9"], None) == "unknown"
    assert PROXIES.client(["203.0.113.9"], "testclient") == "testclient"
    assert PROXIES.client([], "::ffff:198.51.100.7") == "198.51.100.7"


def echo_app(proxies: TrustedProxies) -> FastAPI:
    app = FastAPI()

    @app.get("/who")
    def who(request: Request) -> dict[str, str | None]:
        return {"client": request.client.host if request.client else None, "scheme": request.url.scheme}

    app.add_middleware(ForwardedMiddleware, proxies=proxies)
    return app


def test_the_middleware_rewrites_the_client_and_scheme_for_trusted_peers_only() -> None:
    headers = {"X-Forwarded-For": "203.0.113.9, 198.51.100.1", "X-Forwarded-Proto": "https"}
    trusted = TestClient(echo_app(PROXIES), client=(EDGE, 40000))
    assert trusted.get("/who", headers=headers).json() == {"client": "198.51.100.1", "scheme": "https"}
    outsider = TestClient(echo_app(PROXIES), client=("198.51.100.77", 40000))
    assert outsider.get("/who", headers=headers).json() == {"client": "198.51.100.77", "scheme": "http"}
    bad_proto = {"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "gopher"}
    assert trusted.get("/who", headers=bad_proto).json()["scheme"] == "http"


class FakeDns:
    def __init__(self, answers: dict[str, set[str]]):
        self.answers = answers
        self.asked: list[str] = []
        self.down = False

    def __call__(self, host: str) -> set[Address]:
        self.asked.append(host)
        if self.down:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return {ipaddress.ip_address(a) for a in self.answers[host]}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_proxies_named_by_host_are_trusted_once_resolved() -> None:
    dns, clock = FakeDns({}), Clock()
    proxies = TrustedProxies([], ["proxy"], refresh_seconds=30, retry_seconds=2, resolver=dns, clock=clock)
    forged = ["203.0.113.9, 198.51.100.1"]
    # Not resolved (the edge is not up yet): its requests are its own, nothing is believed.
    proxies.refresh()
    assert proxies.client(forged, EDGE) == EDGE
    dns.answers["proxy"] = {EDGE}
    proxies.refresh()  # a retry: names that failed are asked again after retry_seconds
    assert proxies.client(forged, EDGE) == "198.51.100.1"
    assert proxies.client(forged, "198.51.100.77") == "198.51.100.77"
    # DNS failing keeps what was known ...
    dns.down = True
    proxies.refresh()
    assert proxies.client(forged, EDGE) == "198.51.100.1"
    # ... but a name that is gone is no longer trusted: its address may be reused.
    dns.down = False
    del dns.answers["proxy"]
    proxies.refresh()
    assert proxies.client(forged, EDGE) == EDGE


def test_names_are_resolved_in_the_background_when_due() -> None:
    dns, clock = FakeDns({"proxy": {EDGE}}), Clock()
    proxies = TrustedProxies([], ["proxy"], refresh_seconds=30, retry_seconds=2, resolver=dns, clock=clock)
    proxies.refresh_soon()
    deadline = time.monotonic() + 5
    while not proxies.trusts(ipaddress.ip_address(EDGE)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proxies.trusts(ipaddress.ip_address(EDGE))
    asked = len(dns.asked)
    proxies.refresh_soon()
    time.sleep(0.05)
    assert len(dns.asked) == asked, "not again before refresh_seconds"
    clock.now += 30
    proxies.refresh_soon()
    deadline = time.monotonic() + 5
    while len(dns.asked) == asked and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(dns.asked) == asked + 1


def test_localhost_resolves_for_real() -> None:
    from app.forwarding import resolve

    assert ipaddress.ip_address("127.0.0.1") in resolve("localhost")
