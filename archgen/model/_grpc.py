"""The gRPC API style: its package name, port and the edge's view of the gRPC backends."""

from __future__ import annotations

from typing import Any

GRPC_PORT = 50051
PROTO = "proto/app.proto"
# Edge kinds that carry HTTP/2 to a backend (gRPC through the edge); others publish the port.
HTTP2_EDGES = frozenset({"nginx", "envoy", "haproxy"})


def grpc_context(project: str, api: list[str], service: str | None = None) -> dict[str, Any] | None:
    """`arch.app.grpc`: None unless `grpc` is among the app's API styles.

    The package is the project's name, and in microservices the service's after it, so the
    gateway routes each `/<package>.` path prefix to one service unambiguously.
    """
    if "grpc" not in api:
        return None
    parts = [project, *([service] if service else [])]
    return {"package": ".".join(part.replace("-", "_") for part in parts), "port": GRPC_PORT,
            "proto": PROTO}


def grpc_backends(apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the edge routes: each gRPC package to its app (host = its compose service)."""
    return [{"package": app["grpc"]["package"], "host": app["service"], "port": app["grpc"]["port"],
             "name": app["service"]} for app in apps if app.get("grpc")]
