"""Pure helpers of status and logs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archgen.errors import ArgumentError
from archgen.runtime.logs import _sort_key, labels_for, parse_since
from archgen.runtime.plan import ObservedContainer
from archgen.runtime.status import (
    ContainerStatus,
    container_ui,
    human_duration,
    parse_time,
    published_ports,
    render_table,
)


def test_parse_time() -> None:
    assert parse_time("2024-05-01T12:00:01.123456789Z") == datetime(2024, 5, 1, 12, 0, 1, 123456, tzinfo=UTC)
    assert parse_time("2024-05-01T12:00:01Z") == datetime(2024, 5, 1, 12, 0, 1, tzinfo=UTC)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (5.9, "5s"), (125, "2m 5s"), (3 * 3600 + 60, "3h 1m"), (90000, "1d 1h")],
)
def test_human_duration(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


def test_published_ports() -> None:
    info = {
        "NetworkSettings": {
            "Ports": {
                "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                "443/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8443"}, {"HostIp": "::", "HostPort": "8443"}],
                "9000/tcp": None,
            }
        }
    }
    assert published_ports(info) == ["0.0.0.0:8443->443/tcp", "127.0.0.1:8080->80/tcp"]


def test_render_table() -> None:
    rows = [
        ContainerStatus("db", "p-db-1", 1, "running", "healthy", ["127.0.0.1:5432->5432/tcp"], 61.0),
        ContainerStatus("job", "p-job-1", 1, "exited", None, [], None, 0),
    ]
    lines = render_table(rows).splitlines()
    assert lines[0].split() == ["SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS", "UPTIME"]
    assert lines[1].split() == ["db", "p-db-1", "running", "healthy", "127.0.0.1:5432->5432/tcp", "1m", "1s"]
    assert lines[2].split() == ["job", "p-job-1", "exited", "(0)", "-", "-", "-"]


def test_a_ui_column_appears_when_a_container_serves_a_local_ui() -> None:
    rows = [
        ContainerStatus("db", "p-db-1", 1, "running", "healthy", [], 61.0),
        ContainerStatus("prometheus", "p-prometheus-1", 1, "running", "healthy",
                        ["127.0.0.1:9090->9090/tcp"], 5.0,
                        ui={"name": "Prometheus", "url": "http://127.0.0.1:9090"}),
    ]
    lines = render_table(rows).splitlines()
    assert lines[0].split()[-1] == "UI"
    assert lines[1].endswith("-")
    assert lines[2].endswith("Prometheus http://127.0.0.1:9090")
    assert rows[1].as_dict()["ui"] == {"name": "Prometheus", "url": "http://127.0.0.1:9090"}


def test_the_ui_is_read_from_the_labels_the_model_gives() -> None:
    labels = {"io.archgen.ui.name": "Jaeger", "io.archgen.ui.url": "http://127.0.0.1:16686"}
    assert container_ui({"Config": {"Labels": labels}}) == {
        "name": "Jaeger", "url": "http://127.0.0.1:16686"}
    assert container_ui({"Config": {"Labels": {"other": "x"}}}) is None
    assert container_ui({}) is None


def test_parse_since() -> None:
    now = 1_700_000_000.0
    assert parse_since(None) is None
    assert parse_since("10m", now=now) == now - 600
    assert parse_since("1h30m", now=now) == now - 5400
    assert parse_since("1699999999", now=now) == 1699999999.0
    assert parse_since("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp()
    with pytest.raises(ArgumentError, match="--since"):
        parse_since("yesterday")


def test_labels_for_replicas() -> None:
    containers = [
        ObservedContainer("a", "p-web-1", "running", service="web", number=1),
        ObservedContainer("b", "p-web-2", "running", service="web", number=2),
        ObservedContainer("c", "p-db-1", "running", service="db", number=1),
    ]
    assert labels_for(containers) == {"a": "web-1", "b": "web-2", "c": "db"}


def test_log_timestamps_sort_with_trimmed_fractions() -> None:
    stamps = ["2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00Z"]
    assert sorted(stamps, key=_sort_key) == [stamps[2], stamps[1], stamps[0]]
