from __future__ import annotations

import pytest

from archgen.errors import ComposeError
from archgen.runtime import values
from archgen.runtime.model import PortMapping


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        (5, 5.0),
        ("100us", 1e-4),
    ],
)
def test_duration(text: object, seconds: float) -> None:
    assert values.duration(text, "x") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "ten seconds", "5d", True])
def test_bad_duration(text: object) -> None:
    with pytest.raises(ComposeError, match="expected a duration"):
        values.duration(text, "x")


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512m", 512 * 1024**2),
        ("1g", 1024**3),
        ("1.5GB", int(1.5 * 1024**3)),
        ("64k", 65536),
        (1000, 1000),
        ("10b", 10),
    ],
)
def test_size(text: object, size: int) -> None:
    assert values.size(text, "x") == size


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [PortMapping(80)]),
        ("8080:80", [PortMapping(80, 8080)]),
        ("127.0.0.1:8080:80", [PortMapping(80, 8080, "127.0.0.1")]),
        ("127.0.0.1::80", [PortMapping(80, None, "127.0.0.1")]),
        ("[::1]:8080:80", [PortMapping(80, 8080, "::1")]),
        ("53:53/udp", [PortMapping(53, 53, "", "udp")]),
        ("9000-9001:8000-8001", [PortMapping(8000, 9000), PortMapping(8001, 9001)]),
        (8000, [PortMapping(8000)]),
        (
            {"target": 80, "published": 8080, "host_ip": "127.0.0.1", "protocol": "tcp", "mode": "host"},
            [PortMapping(80, 8080, "127.0.0.1")],
        ),
    ],
)
def test_ports(spec: object, expected: list[PortMapping]) -> None:
    assert values.ports(spec, "ports[0]") == expected


@pytest.mark.parametrize(
    "spec", ["a:b", "1:2:3:4", "70000", "9000-9002:8000-8001", {"published": 1}, {"target": 1, "name": "x"}]
)
def test_bad_ports(spec: object) -> None:
    with pytest.raises(ComposeError):
        values.ports(spec, "ports[0]")


def test_mapping_forms() -> None:
    env = {"FROM": "env"}
    assert values.mapping(["A=1", "B=", "FROM", "GONE"], "e", env) == {"A": "1", "B": "", "FROM": "env"}
    assert values.mapping({"A": 1, "FROM": None, "GONE": None}, "e", env) == {"A": "1", "FROM": "env"}
    assert values.mapping(["k=v=w"], "labels") == {"k": "v=w"}


def test_command_forms() -> None:
    assert values.command("sh -c 'echo hi; sleep 1'", "c") == ("sh", "-c", "echo hi; sleep 1")
    assert values.command(["a", 1], "c") == ("a", "1")
    assert values.command(None, "c") is None
