"""The edge's configuration file, adapted to a cluster's DNS (the one file the exporter rewrites).

nginx's `resolver` and HAProxy's `resolvers` name Docker's embedded DNS (127.0.0.11), and
neither applies the search domains of /etc/resolv.conf, so in a pod the upstream names
must be fully qualified and the resolver must be the cluster's. Envoy (c-ares) and httpd
(getaddrinfo) read /etc/resolv.conf themselves and need nothing.
"""

from __future__ import annotations

import re
from typing import Any

# Replaced by the namespace when written: the project name, or Helm's .Release.Namespace.
NAMESPACE = "ARCHGENNAMESPACE"
CLUSTER_DNS = "kube-dns.kube-system.svc.cluster.local"  # CoreDNS keeps kube-dns's Service name


def _qualify(text: str, upstreams: list[tuple[str, int]]) -> str:
    for host, port in upstreams:
        text = re.sub(rf"(?<![\w.-]){re.escape(host)}:{port}\b",
                      f"{host}.{NAMESPACE}.svc.cluster.local:{port}", text)
    return text


def adapt(edge: dict[str, Any], text: str) -> tuple[str, list[str]]:
    """The edge config for a pod, and what was changed (for the report)."""
    kind = edge.get("kind")
    upstreams = [(u["host"], int(u["port"])) for u in edge.get("upstreams") or []]
    if edge.get("upstream"):
        upstreams.append((edge["upstream"]["host"], int(edge["upstream"]["port"])))
    # gRPC backends (`host:50051` over HTTP/2) are resolved by the same resolver.
    upstreams += [(b["host"], int(b["port"])) for b in edge.get("grpc") or []]
    notes: list[str] = []
    if kind == "nginx":
        new = text.replace("resolver 127.0.0.11 ", f"resolver {CLUSTER_DNS} ")
        if new != text:
            notes.append(f"resolver 127.0.0.11 (Docker's DNS) → {CLUSTER_DNS}")
        text = new
    elif kind == "haproxy":
        new = re.sub(r"nameserver \S+ 127\.0\.0\.11:53", "parse-resolv-conf", text)
        if new != text:
            notes.append("nameserver 127.0.0.11 (Docker's DNS) → parse-resolv-conf")
        text = new
    else:
        return text, notes
    qualified = _qualify(text, upstreams)
    if qualified != text:
        notes.append("upstream names fully qualified (<name>.<namespace>.svc.cluster.local): "
                     f"{kind}'s resolver applies no search domain")
    return qualified, notes
