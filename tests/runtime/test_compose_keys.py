"""Issue 15's compose keys without an engine: parse -> normalised model -> SDK kwargs -> config hash."""

from __future__ import annotations

import io
import tarfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.errors import ComposeError
from archgen.runtime.container_spec import create_args, file_archive
from archgen.runtime.model import FileMount, LogConfig, Project, _without_defaults, config_hash
from archgen.runtime.plan import RECREATE, EngineState, ObservedContainer, compute_plan
from tests.runtime.helpers import load, services, write_project

IMG = {"image": "busybox:1"}

# key: (service body extra, model attribute, model value, create kwargs part, kwargs key, kwargs value)
KEYS: list[tuple[str, dict[str, Any], str, Any, str, str, Any]] = [
    ("container_name", {"container_name": "my-web"}, "container_name", "my-web", "name", "", "my-web"),
    (
        "ulimits",
        {"ulimits": {"nofile": {"soft": 10, "hard": 20}, "nproc": 65535}},
        "ulimits",
        {"nofile": (10, 20), "nproc": (65535, 65535)},
        "host",
        "ulimits",
        [{"name": "nofile", "soft": 10, "hard": 20}, {"name": "nproc", "soft": 65535, "hard": 65535}],
    ),
    (
        "sysctls",
        {"sysctls": ["net.core.somaxconn=1024"]},
        "sysctls",
        {"net.core.somaxconn": "1024"},
        "host",
        "sysctls",
        {"net.core.somaxconn": "1024"},
    ),
    (
        "extra_hosts",
        {"extra_hosts": ["a.test:10.0.0.1", "b.test=::1", "gw:host-gateway"]},
        "extra_hosts",
        ("a.test:10.0.0.1", "b.test:::1", "gw:host-gateway"),
        "host",
        "extra_hosts",
        ["a.test:10.0.0.1", "b.test:::1", "gw:host-gateway"],
    ),
    ("network_mode host", {"network_mode": "host"}, "network_mode", "host", "host", "network_mode", "host"),
    ("network_mode none", {"network_mode": "none"}, "network_mode", "none", "host", "network_mode", "none"),
    (
        "network_mode container",
        {"network_mode": "container:other"},
        "network_mode",
        "container:other",
        "host",
        "network_mode",
        "container:other",
    ),
    ("ipc", {"ipc": "host"}, "ipc", "host", "host", "ipc_mode", "host"),
    ("pid", {"pid": "host"}, "pid", "host", "host", "pid_mode", "host"),
    ("shm_size", {"shm_size": "64m"}, "shm_size", 64 * 1024**2, "host", "shm_size", 64 * 1024**2),
    ("tty", {"tty": True}, "tty", True, "config", "tty", True),
    ("stdin_open", {"stdin_open": True}, "stdin_open", True, "config", "stdin_open", True),
    ("privileged", {"privileged": True}, "privileged", True, "host", "privileged", True),
    (
        "devices",
        {"devices": ["/dev/fuse", {"source": "/dev/net/tun", "target": "/dev/net/tun"}]},
        "devices",
        ("/dev/fuse", "/dev/net/tun:/dev/net/tun:rwm"),
        "host",
        "devices",
        ["/dev/fuse", "/dev/net/tun:/dev/net/tun:rwm"],
    ),
    ("dns", {"dns": "1.1.1.1"}, "dns", ("1.1.1.1",), "host", "dns", ["1.1.1.1"]),
    ("dns_search", {"dns_search": ["x.test"]}, "dns_search", ("x.test",), "host", "dns_search", ["x.test"]),
    ("dns_opt", {"dns_opt": ["ndots:1"]}, "dns_opt", ("ndots:1",), "host", "dns_opt", ["ndots:1"]),
    (
        "logging",
        {"logging": {"driver": "json-file", "options": {"max-size": "1m"}}},
        "logging",
        LogConfig("json-file", {"max-size": "1m"}),
        "host",
        "log_config",
        {"type": "json-file", "config": {"max-size": "1m"}},
    ),
    ("platform", {"platform": "linux/amd64"}, "platform", "linux/amd64", "platform", "", "linux/amd64"),
    ("runtime", {"runtime": "runc"}, "runtime", "runc", "host", "runtime", "runc"),
    ("domainname", {"domainname": "x.test"}, "domainname", "x.test", "config", "domainname", "x.test"),
    ("group_add", {"group_add": ["audio"]}, "group_add", ("audio",), "host", "group_add", ["audio"]),
    ("mem_limit", {"mem_limit": "1g"}, "memory", 1024**3, "host", "mem_limit", 1024**3),
    ("cpus", {"cpus": 1.5}, "cpus", 1.5, "host", "nano_cpus", 1_500_000_000),
    (
        "deploy.resources.reservations.memory",
        {"deploy": {"resources": {"reservations": {"memory": "256m"}}}},
        "mem_reservation",
        256 * 1024**2,
        "host",
        "mem_reservation",
        256 * 1024**2,
    ),
    (
        "mem_reservation",
        {"mem_reservation": "1m"},
        "mem_reservation",
        1024**2,
        "host",
        "mem_reservation",
        1024**2,
    ),
    ("memswap_limit", {"memswap_limit": -1}, "memswap_limit", -1, "host", "memswap_limit", -1),
    ("cpu_shares", {"cpu_shares": 512}, "cpu_shares", 512, "host", "cpu_shares", 512),
    ("cpuset", {"cpuset": "0-1"}, "cpuset", "0-1", "host", "cpuset_cpus", "0-1"),
    ("oom_score_adj", {"oom_score_adj": 100}, "oom_score_adj", 100, "host", "oom_score_adj", 100),
    ("scale", {"scale": 2}, "replicas", 2, "", "", None),
    ("expose", {"expose": [7000]}, "expose", ("7000/tcp",), "config", "ports", [(7000, "tcp")]),
]


@pytest.mark.parametrize(
    ("key", "extra", "attr", "value", "part", "kwarg", "expected"), KEYS, ids=[k[0] for k in KEYS]
)
def test_key_parses_normalises_reaches_the_sdk_and_the_hash(
    tmp_path: Path,
    key: str,
    extra: dict[str, Any],
    attr: str,
    value: Any,
    part: str,
    kwarg: str,
    expected: Any,
) -> None:
    plain = load(tmp_path / "a", services(web=IMG)).services["web"]
    project = load(tmp_path / "b", services(web={**IMG, **extra}))
    web = project.services["web"]
    assert getattr(web, attr) == value
    if part:
        args = create_args(project, web, 1, "hash")
        got = getattr(args, part) if not kwarg else getattr(args, part)[kwarg]
        assert got == expected
    if attr != "replicas":  # the replica count never needs a new container
        assert config_hash(web, "sha256:1") != config_hash(plain, "sha256:1")


def test_host_config_kwargs_are_ones_the_sdk_accepts(tmp_path: Path) -> None:
    from docker.types import ContainerConfig, HostConfig

    body: dict[str, Any] = {**IMG}
    for _, extra, *_ in KEYS:
        if not {"network_mode", "scale", "cpus", "mem_reservation"} & set(extra):
            body.update(extra)
    project = load(tmp_path, services(web=body, other=IMG))
    for name in ("web", "other"):  # `other`: no command, nothing set (ContainerConfig needs `command`)
        args = create_args(project, project.services[name], 1, "h")
        HostConfig(version="1.41", **args.host)  # raises on an unknown or misspelt keyword
        ContainerConfig("1.41", **args.config)


def test_unset_keys_leave_old_hashes_alone(tmp_path: Path) -> None:
    # The fields added for issue 15 default to "unset" and are dropped before hashing,
    # so containers made before them are not recreated by an upgrade.
    web = load(tmp_path, services(web=IMG)).services["web"]
    hashed = set(_without_defaults(asdict(web)))
    assert hashed == {"name", "image", "networks", "restart", "replicas"}  # replicas: popped later


def test_mem_limit_and_deploy_limits_must_agree(tmp_path: Path) -> None:
    body = {**IMG, "mem_limit": "1g", "deploy": {"resources": {"limits": {"memory": "2g"}}}}
    with pytest.raises(ComposeError, match=r"mem_limit and deploy\.resources\.limits disagree"):
        load(tmp_path, services(web=body))


def test_cpu_reservation_is_recorded_not_applied(tmp_path: Path) -> None:
    project = load(
        tmp_path, services(web={**IMG, "deploy": {"resources": {"reservations": {"cpus": "0.5"}}}})
    )
    web = project.services["web"]
    assert web.cpu_reservation == 0.5
    assert "nano_cpus" not in create_args(project, web, 1, "h").host


# ------------------------------------------------------------------ secrets and configs


def _files_project(tmp_path: Path, **extra: Any) -> Project:
    compose = {
        "name": "demo",
        "services": {
            "web": {
                **IMG,
                "secrets": [
                    "db_password",
                    {"source": "token", "target": "tok", "uid": "1000", "gid": 1000, "mode": "0440"},
                    {"source": "db_password", "target": "/etc/pw", "mode": 0o400},
                ],
                "configs": ["app_conf", {"source": "inline", "target": "/etc/inline.conf"}],
                **extra,
            }
        },
        "secrets": {"db_password": {"file": "./pw.txt"}, "token": {"environment": "TOKEN"}},
        "configs": {"app_conf": {"file": "./app.conf"}, "inline": {"content": "a=1\n"}},
    }
    return load(tmp_path, compose, environ={"TOKEN": "t0k"}, **{"pw.txt": "pw\n", "app.conf": "x\n"})


def test_secrets_and_configs_land_where_compose_puts_them(tmp_path: Path) -> None:
    project = _files_project(tmp_path)
    web = project.services["web"]
    pw = str(tmp_path / "pw.txt")
    assert web.files[0] == FileMount("secret", "db_password", "/run/secrets/db_password", pw)
    token = web.files[1]
    assert (token.target, token.source, token.uid, token.gid, token.mode) == (
        "/run/secrets/tok",
        None,
        "1000",
        "1000",
        0o440,
    )
    assert token.digest and "t0k" not in repr(web)  # the value itself never sits in the model
    assert web.files[2].target == "/etc/pw" and web.files[2].source is None  # mode: copied
    assert web.files[3] == FileMount("config", "app_conf", "/app_conf", str(tmp_path / "app.conf"))
    assert web.files[4].target == "/etc/inline.conf"
    args = create_args(project, web, 1, "h")
    assert args.host["binds"] == [
        f"{pw}:/run/secrets/db_password:ro",
        f"{tmp_path / 'app.conf'}:/app_conf:ro",
    ]
    with tarfile.open(fileobj=io.BytesIO(file_archive(project, args.copies))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert set(members) == {"run/secrets/tok", "etc/pw", "etc/inline.conf"}
        tok = members["run/secrets/tok"]
        assert (tok.uid, tok.gid, tok.mode) == (1000, 1000, 0o440)
        assert members["etc/inline.conf"].mode == 0o444
        extracted = tar.extractfile("run/secrets/tok")
        assert extracted is not None and extracted.read() == b"t0k"


def test_a_new_secret_value_changes_the_hash(tmp_path: Path) -> None:
    one = _files_project(tmp_path / "a").services["web"]
    compose = yaml.safe_load((tmp_path / "a" / "compose.yaml").read_text())
    write_project(tmp_path / "b", compose, **{"pw.txt": "pw\n", "app.conf": "x\n"})
    from archgen.runtime.compose import load_project

    two = load_project(tmp_path / "b", environ={"TOKEN": "other"}).services["web"]
    assert config_hash(one, "i") != config_hash(two, "i")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"read_only": True}, "read_only: true forbids writing there"),
        ({"secrets": ["nope"]}, "secret 'nope' is not declared"),
        ({"secrets": [{"source": "token", "uid": "www"}]}, "expected a numeric id"),
    ],
)
def test_secret_errors(tmp_path: Path, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ComposeError, match=message):
        _files_project(tmp_path, **extra)


def test_external_secret_is_refused_with_the_reason(tmp_path: Path) -> None:
    compose = {
        "name": "d",
        "services": {"web": {**IMG, "secrets": ["s"]}},
        "secrets": {"s": {"external": True}},
    }
    with pytest.raises(ComposeError, match="external secrets live in a Docker swarm"):
        load(tmp_path, compose)


# ------------------------------------------------------------------ namespaces, links, networks


def test_network_mode_service_shares_and_orders(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        services(
            side={**IMG, "network_mode": "service:app", "ipc": "service:app", "pid": "service:app"},
            app={**IMG, "container_name": "the-app"},
        ),
    )
    side = project.services["side"]
    assert side.networks == {}
    assert [d.service for d in side.depends_on] == ["app"]
    assert project.active == ["app", "side"]
    host = create_args(project, side, 1, "h").host
    assert (host["network_mode"], host["ipc_mode"], host["pid_mode"]) == ("container:the-app",) * 3


def test_network_mode_errors(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="network_mode and networks cannot be used together"):
        load(tmp_path / "a", services(web={**IMG, "network_mode": "host", "networks": ["default"]}))
    with pytest.raises(ComposeError, match="unknown service 'nope'"):
        load(tmp_path / "b", services(web={**IMG, "network_mode": "service:nope"}))
    with pytest.raises(ComposeError, match="cannot publish ports"):
        load(tmp_path / "c", services(web={**IMG, "network_mode": "service:db", "ports": ["80"]}, db=IMG))
    with pytest.raises(ComposeError, match="expected one of"):
        load(tmp_path / "d", services(web={**IMG, "network_mode": "bogus"}))


def test_a_namespace_owner_recreated_takes_its_guests_along(tmp_path: Path) -> None:
    project = load(tmp_path, services(app=IMG, side={**IMG, "network_mode": "service:app"}))
    hashes = {name: config_hash(s, "img") for name, s in project.services.items()}
    state = EngineState(
        containers=[
            ObservedContainer("a1", "demo-app-1", "running", "demo", "app", 1, "old", image_id="img"),
            ObservedContainer(
                "s1", "demo-side-1", "running", "demo", "side", 1, hashes["side"], image_id="img"
            ),
        ],
        images={"busybox:1": "img"},
    )
    plan = compute_plan(project, state)
    assert plan.containers["app"][0].action == RECREATE
    assert plan.containers["side"][0].action == RECREATE
    assert "joins the namespaces of app" in plan.containers["side"][0].reason


def test_links_become_endpoint_links_and_dependencies(tmp_path: Path) -> None:
    project = load(tmp_path, services(web={**IMG, "links": ["db:database", "cache"]}, db=IMG, cache=IMG))
    web = project.services["web"]
    assert web.links == ("db:database", "cache:cache")
    assert {d.service for d in web.depends_on} == {"db", "cache"}
    _, endpoint = create_args(project, web, 1, "h").networks[0]
    assert endpoint["links"] == [("demo-db-1", "database"), ("demo-cache-1", "cache")]


def test_static_addresses_and_ipam(tmp_path: Path) -> None:
    compose = {
        "name": "demo",
        "services": {"web": {**IMG, "networks": {"n": {"ipv4_address": "172.30.0.5"}}}},
        "networks": {"n": {"ipam": {"config": [{"subnet": "172.30.0.0/24", "gateway": "172.30.0.1"}]}}},
    }
    project = load(tmp_path, compose)
    assert project.networks["n"].ipam == {
        "Driver": "default",
        "Config": [{"Subnet": "172.30.0.0/24", "Gateway": "172.30.0.1"}],
    }
    _, endpoint = create_args(project, project.services["web"], 1, "h").networks[0]
    assert endpoint == {"aliases": ["web"], "ipv4_address": "172.30.0.5"}


def test_external_networks_and_volumes_keep_their_names(tmp_path: Path) -> None:
    compose = {
        "name": "demo",
        "services": {"web": {**IMG, "networks": ["n", "m"], "volumes": ["v:/data"]}},
        "networks": {"n": {"external": True}, "m": {"external": {"name": "legacy-net"}}},
        "volumes": {"v": {"external": True, "name": "shared-data"}},
    }
    project = load(tmp_path, compose)
    assert (project.networks["n"].name, project.networks["n"].external) == ("n", True)
    assert project.networks["m"].name == "legacy-net"
    assert project.volumes["v"].name == "shared-data" and project.volumes["v"].external


def test_healthcheck_disable_and_env_file_not_required(tmp_path: Path) -> None:
    body = {**IMG, "healthcheck": {"disable": True}, "env_file": [{"path": "./nope.env", "required": False}]}
    web = load(tmp_path, services(web=body)).services["web"]
    assert web.healthcheck is not None and web.healthcheck.disabled
    assert web.environment == {}


# ------------------------------------------------------------------ extends, include, profiles


def test_extends_merges_like_compose(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir(parents=True)
    (tmp_path / "base" / "common.yaml").write_text(
        yaml.safe_dump(
            {
                "services": {
                    "root": {"image": "busybox:1", "environment": {"A": "1"}, "ports": ["80"]},
                    "tpl": {
                        "extends": "root",
                        "environment": ["B=2"],
                        "volumes": ["./data:/data"],
                        "labels": {"x": "1"},
                    },
                }
            }
        )
    )
    compose = services(
        local={**IMG, "command": "one", "environment": {"A": "0"}},
        web={
            "extends": {"file": "base/common.yaml", "service": "tpl"},
            "environment": {"C": "3"},
            "ports": ["81"],
            "labels": {"y": "2"},
        },
        job={"extends": "local", "command": "two", "environment": {"D": "4"}},
    )
    project = load(tmp_path, compose)
    web = project.services["web"]
    assert web.environment == {"A": "1", "B": "2", "C": "3"}
    assert [p.target for p in web.ports] == [80, 81]
    assert web.labels == {"x": "1", "y": "2"}
    assert web.mounts[0].source == str(tmp_path / "base" / "data")  # relative to the file it came from
    job = project.services["job"]
    assert (job.command, job.environment) == (("two",), {"A": "0", "D": "4"})


def test_extends_cycle_and_unknown(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="cycle"):
        load(tmp_path / "a", services(a={"extends": "b"}, b={"extends": "a"}))
    with pytest.raises(ComposeError, match="unknown service 'x'"):
        load(tmp_path / "b", services(a={"extends": "x"}))


def test_include_merges_another_project(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir(parents=True)
    (tmp_path / "db" / "compose.yaml").write_text(
        yaml.safe_dump(
            {
                "services": {
                    "db": {"image": "postgres:16", "volumes": ["./init:/init", "data:/var/lib/data"]}
                },
                "volumes": {"data": {}},
            }
        )
    )
    compose = {
        "name": "demo",
        "include": ["db/compose.yaml"],
        "services": {"web": {**IMG, "depends_on": ["db"]}},
    }
    project = load(tmp_path, compose)
    assert project.active == ["db", "web"]
    db = project.services["db"]
    assert db.mounts[0].source == str(tmp_path / "db" / "init")
    assert db.mounts[1].source == "demo_data"
    compose["services"]["db"] = IMG
    with pytest.raises(ComposeError, match="defined both here and in the including file"):
        load(tmp_path, compose)


def test_profiles_plain_and_targets(tmp_path: Path) -> None:
    compose = services(
        web={**IMG, "depends_on": ["db"]},
        db=IMG,
        debug={**IMG, "profiles": ["debug"], "depends_on": ["db"]},
        tools={**IMG, "profiles": ["debug"]},
        other={**IMG, "profiles": ["ops"]},
    )
    assert load(tmp_path / "a", compose).active == ["db", "web"]
    assert load(tmp_path / "b", compose, profiles=["debug"]).active == ["db", "web", "debug", "tools"]
    from archgen.runtime.compose import load_project

    write_project(tmp_path / "c", compose)
    # Named on the command line: its profile is activated, it runs with its dependencies only.
    assert load_project(tmp_path / "c", targets=["debug"], environ={}).active == ["db", "debug"]
    assert load_project(tmp_path / "c", targets=["web"], environ={}).active == ["db", "web"]
    with pytest.raises(ComposeError, match="no such service: nope"):
        load_project(tmp_path / "c", targets=["nope"], environ={})


def test_profiles_target_with_a_dependency_in_an_inactive_profile(tmp_path: Path) -> None:
    from archgen.runtime.compose import load_project

    write_project(
        tmp_path, services(a={**IMG, "profiles": ["x"], "depends_on": ["b"]}, b={**IMG, "profiles": ["y"]})
    )
    with pytest.raises(ComposeError, match="'b' is not enabled by the active profiles"):
        load_project(tmp_path, targets=["a"], environ={})


def test_container_name_rules(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="allows one replica"):
        load(tmp_path / "a", services(web={**IMG, "container_name": "xy", "deploy": {"replicas": 2}}))
    with pytest.raises(ComposeError, match="also the container name"):
        load(tmp_path / "b", services(a={**IMG, "container_name": "xy"}, b={**IMG, "container_name": "xy"}))
    project = load(tmp_path / "c", services(web={**IMG, "container_name": "fixed"}))
    plan = compute_plan(project, EngineState(images={"busybox:1": "i"}))
    assert plan.containers["web"][0].name == "fixed"


def test_compose_yml_is_found(tmp_path: Path) -> None:
    from archgen.runtime.compose import load_project

    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "docker-compose.yml").write_text("name: demo\nservices:\n  web:\n    image: busybox:1\n")
    assert load_project(tmp_path, environ={}).active == ["web"]
