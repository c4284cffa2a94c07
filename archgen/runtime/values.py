"""Parsers for compose value syntaxes: durations, sizes, ports, volume strings, key=value lists."""

from __future__ import annotations

import re
import shlex

from archgen.errors import ComposeError
from archgen.runtime.model import PortMapping

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def duration(value: object, where: str) -> float:
    """Seconds from a Go-style duration (`1m30s`, `500ms`) or a plain number of seconds."""
    if isinstance(value, bool):
        raise ComposeError(f"{where}: expected a duration like '10s', got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        raise ComposeError(f"{where}: expected a duration like '10s', got an empty string")
    pos = 0
    total = 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise ComposeError(f"{where}: expected a duration like '10s' or '1m30s', got {text!r}")
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return total


def size(value: object, where: str) -> int:
    """Bytes from `512m`, `1g`, `1.5GB` or a plain number of bytes."""
    if isinstance(value, bool):
        raise ComposeError(f"{where}: expected a size like '512m', got {value!r}")
    if isinstance(value, int):
        return value
    match = _SIZE.fullmatch(str(value).strip())
    if match is None:
        raise ComposeError(f"{where}: expected a size like '512m' or '1g', got {value!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def string(value: object, where: str) -> str:
    """A scalar as the string compose would pass on (`true`, `8080`, ...)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ComposeError(f"{where}: expected a string, got {type(value).__name__}")


def string_list(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ComposeError(f"{where}: expected a list of strings")
    return tuple(string(v, f"{where}[{i}]") for i, v in enumerate(value))


def command(value: object, where: str) -> tuple[str, ...] | None:
    """A command or entrypoint: a list as is, a string split like a shell would."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as error:
            raise ComposeError(f"{where}: cannot split {value!r}: {error}") from None
    return string_list(value, where)


def mapping(value: object, where: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """A `KEY=VALUE` list or a mapping; a key without a value comes from `env` (or is dropped)."""
    out: dict[str, str] = {}
    if value is None:
        return out
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None:
                if env is not None and str(key) in env:
                    out[str(key)] = env[str(key)]
                elif env is None:
                    out[str(key)] = ""
            else:
                out[str(key)] = string(item, f"{where}.{key}")
        return out
    if isinstance(value, list):
        for i, item in enumerate(value):
            text = string(item, f"{where}[{i}]")
            key, sep, rest = text.partition("=")
            if sep:
                out[key] = rest
            elif env is not None:
                if key in env:
                    out[key] = env[key]
            else:
                out[key] = ""
        return out
    raise ComposeError(f"{where}: expected a mapping or a list of KEY=VALUE strings")


def _port_range(text: str, where: str) -> list[int]:
    start, sep, end = text.partition("-")
    try:
        first = int(start)
        last = int(end) if sep else first
    except ValueError:
        raise ComposeError(f"{where}: invalid port {text!r}") from None
    if not (0 < first <= last < 65536):
        raise ComposeError(f"{where}: invalid port range {text!r}")
    return list(range(first, last + 1))


def ports(value: object, where: str) -> list[PortMapping]:
    """Short (`[ip:][published:]target[/proto]`) or long (`{target, published, ...}`) syntax."""
    if isinstance(value, dict):
        allowed = {"target", "published", "host_ip", "protocol", "mode"}
        for key in value:
            if key not in allowed:
                raise ComposeError(
                    f"{where}.{key}: unsupported key {key!r} (supported: {', '.join(sorted(allowed))})"
                )
        if "target" not in value:
            raise ComposeError(f"{where}: a port needs 'target'")
        targets = _port_range(string(value["target"], where), where)
        published = value.get("published")
        hosts: list[int | None] = (
            [None] * len(targets)
            if published in (None, "")
            else list(_port_range(string(published, where), where))
        )
        if len(hosts) != len(targets):
            raise ComposeError(f"{where}: published and target ranges differ in length")
        proto = string(value.get("protocol", "tcp"), where)
        ip = string(value.get("host_ip", ""), where)
        return [PortMapping(t, h, ip, proto) for t, h in zip(targets, hosts, strict=True)]
    text = string(value, where)
    proto = "tcp"
    if "/" in text:
        text, proto = text.rsplit("/", 1)
    host_ip = ""
    if text.startswith("["):  # [::1]:8080:80
        close = text.find("]")
        host_ip, text = text[1:close], text[close + 2 :]
    parts = text.split(":")
    if len(parts) == 3:
        host_ip, published, target = parts
    elif len(parts) == 2:
        published, target = parts
    elif len(parts) == 1:
        published, target = "", parts[0]
    else:
        raise ComposeError(f"{where}: invalid port {value!r}")
    targets = _port_range(target, where)
    if published:
        pubs: list[int | None] = list(_port_range(published, where))
        if len(pubs) == 1 and len(targets) > 1:
            raise ComposeError(f"{where}: invalid port {value!r}")
        if len(pubs) != len(targets):
            if len(targets) != 1:
                raise ComposeError(f"{where}: published and target ranges differ in length")
            pubs = pubs[:1]  # a host range for one target: take the first
    else:
        pubs = [None] * len(targets)
    return [PortMapping(t, p, host_ip, proto) for t, p in zip(targets, pubs, strict=True)]


def expose(value: object, where: str) -> tuple[str, ...]:
    out: list[str] = []
    if not isinstance(value, list):
        raise ComposeError(f"{where}: expected a list of ports")
    for i, item in enumerate(value):
        text = string(item, f"{where}[{i}]")
        port, _, proto = text.partition("/")
        out.extend(f"{p}/{proto or 'tcp'}" for p in _port_range(port, f"{where}[{i}]"))
    return tuple(out)
