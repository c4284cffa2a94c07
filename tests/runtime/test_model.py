from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from archgen.runtime.model import Healthcheck, NetworkSpec, Service, config_hash, resource_hash
from tests.runtime.helpers import load, services


def test_config_hash_is_stable_across_loads(tmp_path: Path) -> None:
    compose = services(
        web={"image": "busybox:1", "environment": {"B": "2", "A": "1"}, "ports": ["127.0.0.1:8080:80"]},
    )
    first = load(tmp_path / "one", compose).services["web"]
    second = load(tmp_path / "one", compose).services["web"]
    assert config_hash(first, "sha256:aaa") == config_hash(second, "sha256:aaa")
    reordered = services(
        web={"image": "busybox:1", "environment": {"A": "1", "B": "2"}, "ports": ["127.0.0.1:8080:80"]}
    )
    assert config_hash(load(tmp_path / "two", reordered).services["web"], "sha256:aaa") == config_hash(
        first, "sha256:aaa"
    )


def test_config_hash_known_value() -> None:
    # Pinned: a change of the hashed form would recreate every container on upgrade.
    service = Service(
        name="web",
        image="busybox:1",
        environment={"A": "1"},
        healthcheck=Healthcheck(("CMD", "true"), interval=5.0),
        restart="always",
    )
    assert (
        config_hash(service, "sha256:abc")
        == "2954f6341b8521cf503c4b88d23e9f8fec2ece5b3f4e26f21be658d6ce08bafe"
    )


def test_config_hash_changes_with_what_matters() -> None:
    base = Service(
        name="web", image="busybox:1", environment={"A": "1"}, healthcheck=Healthcheck(("CMD", "true"))
    )
    digest = config_hash(base, "sha256:1")
    assert config_hash(base, "sha256:2") != digest  # image changed
    assert config_hash(replace(base, environment={"A": "2"}), "sha256:1") != digest
    assert config_hash(replace(base, command=("sleep", "1")), "sha256:1") != digest
    assert config_hash(replace(base, healthcheck=Healthcheck(("CMD", "false"))), "sha256:1") != digest
    assert config_hash(base, None) != digest  # pending image


def test_config_hash_ignores_scale_dependencies_profiles() -> None:
    base = Service(name="web", image="busybox:1")
    digest = config_hash(base, "sha256:1")
    assert config_hash(replace(base, replicas=5), "sha256:1") == digest
    assert config_hash(replace(base, profiles=("debug",)), "sha256:1") == digest
    assert config_hash(replace(base, pull_policy="always"), "sha256:1") == digest


def test_resource_hash() -> None:
    net = NetworkSpec("default", "p_default")
    assert resource_hash(net) == resource_hash(NetworkSpec("default", "p_default"))
    assert resource_hash(replace(net, internal=True)) != resource_hash(net)
