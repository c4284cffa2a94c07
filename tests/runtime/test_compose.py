from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archgen.errors import ComposeError
from archgen.runtime.compose import check_keys, normalise_ref, resolve_name
from archgen.runtime.graph import dependency_order, find_cycle
from archgen.runtime.model import Dependency, Healthcheck, Mount, PortMapping
from tests.runtime.helpers import load, services

IMG = {"image": "busybox:1"}


def test_minimal_project(tmp_path: Path) -> None:
    project = load(tmp_path, services(web=IMG))
    assert project.name == "demo"
    assert project.active == ["web"]
    web = project.services["web"]
    assert web.image == "busybox:1"
    assert web.networks == {"demo_default": ("web",)}
    assert set(project.networks) == {"default"}
    assert project.container_name("web", 2) == "demo-web-2"


def test_every_supported_key_normalises(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text("FROM scratch\n")
    compose = {
        "name": "full",
        "x-common": {"anything": True},
        "services": {
            "db": {"image": "postgres", "healthcheck": {"test": "pg_isready", "interval": "5s"}},
            "app": {
                "build": {
                    "context": "./app",
                    "dockerfile": "Dockerfile",
                    "args": {"V": "${VERSION:-1}"},
                    "target": "run",
                },
                "command": "python -m app --port 8000",
                "entrypoint": ["/entry.sh"],
                "environment": {"A": 1, "B": True, "FROM_ENV": None, "MISSING": None},
                "env_file": ["./app.env", {"path": "./optional.env", "required": False}],
                "ports": [
                    "127.0.0.1:8000:8000",
                    "9000/udp",
                    {"target": 81, "published": "8081", "host_ip": "127.0.0.1"},
                ],
                "expose": ["7000-7001", 7100],
                "volumes": [
                    "data:/data",
                    "./conf/app.conf:/etc/app.conf:ro",
                    "/scratch",
                    {"type": "bind", "source": "./conf", "target": "/conf", "read_only": True},
                ],
                "tmpfs": ["/run:size=1m", "/tmp"],
                "networks": {"back": {"aliases": ["api"]}, "default": None},
                "depends_on": {"db": {"condition": "service_healthy"}},
                "healthcheck": {
                    "test": ["CMD", "true"],
                    "interval": "1m30s",
                    "timeout": "500ms",
                    "retries": 5,
                    "start_period": "2s",
                    "start_interval": "1s",
                },
                "restart": "on-failure:3",
                "deploy": {
                    "replicas": 2,
                    "resources": {"limits": {"cpus": "0.5", "memory": "512M", "pids": 100}},
                },
                "user": 1000,
                "read_only": True,
                "cap_drop": ["ALL"],
                "security_opt": ["no-new-privileges:true"],
                "init": True,
                "labels": ["tier=app"],
                "stop_grace_period": "3s",
                "profiles": ["web"],
                "pull_policy": "if_not_present",
                "working_dir": "/srv",
            },
        },
        "networks": {"back": {"internal": True}},
        "volumes": {"data": None},
    }
    project = load(
        tmp_path,
        compose,
        profiles=["web"],
        environ={"FROM_ENV": "shell"},
        **{"app.env": "A=from-file\nC=from-file\n", "conf__app.conf": "x=1\n"},
    )
    app = project.services["app"]
    assert app.image == "full-app:latest"
    assert app.build is not None
    assert app.build.context == str((tmp_path / "app").resolve())
    assert (app.build.dockerfile, app.build.args, app.build.target) == ("Dockerfile", {"V": "1"}, "run")
    assert app.command == ("python", "-m", "app", "--port", "8000")
    assert app.entrypoint == ("/entry.sh",)
    assert app.environment == {"A": "1", "B": "true", "C": "from-file", "FROM_ENV": "shell"}
    assert app.ports == (
        PortMapping(8000, 8000, "127.0.0.1"),
        PortMapping(9000, None, "", "udp"),
        PortMapping(81, 8081, "127.0.0.1"),
    )
    assert app.expose == ("7000/tcp", "7001/tcp", "7100/tcp")
    assert app.mounts == (
        Mount("volume", "full_data", "/data"),
        Mount("bind", str(tmp_path / "conf" / "app.conf"), "/etc/app.conf", True),
        Mount("volume", None, "/scratch"),
        Mount("bind", str(tmp_path / "conf"), "/conf", True),
    )
    assert app.tmpfs == {"/run": "size=1m", "/tmp": ""}
    assert app.networks == {"full_back": ("app", "api"), "full_default": ("app",)}
    assert app.depends_on == (Dependency("db", "service_healthy"),)
    assert app.healthcheck == Healthcheck(("CMD", "true"), 90.0, 0.5, 5, 2.0, 1.0)
    assert (app.restart, app.replicas, app.cpus, app.memory, app.pids) == (
        "on-failure:3",
        2,
        0.5,
        512 * 1024**2,
        100,
    )
    assert (app.user, app.read_only, app.cap_drop, app.security_opt, app.init) == (
        "1000",
        True,
        ("ALL",),
        ("no-new-privileges:true",),
        True,
    )
    assert (app.labels, app.stop_grace_period, app.profiles, app.pull_policy, app.working_dir) == (
        {"tier": "app"},
        3.0,
        ("web",),
        "missing",
        "/srv",
    )
    assert project.active == ["db", "app"]
    assert set(project.networks) == {"back", "default"}
    assert project.networks["back"].internal
    assert project.services["db"].healthcheck == Healthcheck(("CMD-SHELL", "pg_isready"), 5.0)
    assert project.services["db"].image == "postgres:latest"


UNSUPPORTED: list[tuple[dict[str, Any], str]] = [
    ({"services": {"web": {**IMG, "volumes_from": ["db"]}}}, "services.web.volumes_from"),
    ({"services": {"web": {**IMG, "external_links": ["x"]}}}, "services.web.external_links"),
    ({"services": {"web": {**IMG, "gpus": "all"}}}, "services.web.gpus"),
    ({"services": {"web": {**IMG, "userns_mode": "host"}}}, "services.web.userns_mode"),
    ({"secrets": {"s": {"file": "x", "bogus": 1}}}, "secrets.s.bogus"),
    (
        {"services": {"web": {**IMG, "secrets": [{"source": "s", "bogus": 1}]}}},
        "services.web.secrets[0].bogus",
    ),
    ({"services": {"web": {"build": {"context": ".", "cache_from": []}}}}, "services.web.build.cache_from"),
    (
        {"services": {"web": {**IMG, "healthcheck": {"test": "true", "bogus": 1}}}},
        "services.web.healthcheck.bogus",
    ),
    ({"services": {"web": {**IMG, "deploy": {"mode": "global"}}}}, "services.web.deploy.mode"),
    (
        {"services": {"web": {**IMG, "deploy": {"resources": {"reservations": {"devices": []}}}}}},
        "services.web.deploy.resources.reservations.devices",
    ),
    (
        {"services": {"web": {**IMG, "deploy": {"resources": {"limits": {"devices": []}}}}}},
        "services.web.deploy.resources.limits.devices",
    ),
    (
        {"services": {"web": {**IMG, "depends_on": {"db": {"restart": True}}}, "db": IMG}},
        "services.web.depends_on.db.restart",
    ),
    (
        {"services": {"web": {**IMG, "networks": {"default": {"mac_address": "x"}}}}},
        "services.web.networks.default.mac_address",
    ),
    (
        {
            "services": {
                "web": {**IMG, "volumes": [{"type": "volume", "target": "/x", "volume": {"nocopy": True}}]}
            }
        },
        "services.web.volumes[0].volume",
    ),
    (
        {"services": {"web": {**IMG, "env_file": [{"path": "a", "format": "raw"}]}}},
        "services.web.env_file[0].format",
    ),
    ({"services": {"web": IMG}, "networks": {"n": {"ipam": {"bogus": {}}}}}, "networks.n.ipam.bogus"),
    ({"services": {"web": IMG}, "volumes": {"v": {"bogus": 1}}}, "volumes.v.bogus"),
]


@pytest.mark.parametrize(("extra", "path"), UNSUPPORTED, ids=[p for _, p in UNSUPPORTED])
def test_unsupported_key_is_rejected_by_name(extra: dict[str, Any], path: str) -> None:
    raw: dict[str, Any] = {"name": "demo", "services": {"web": IMG}, **extra}
    with pytest.raises(ComposeError) as caught:
        check_keys(raw)
    key = path.rsplit(".", 1)[-1]
    assert f"{path}: unsupported key '{key}'" in caught.value.message


def test_all_unsupported_keys_are_reported_together() -> None:
    raw = {"services": {"a": {**IMG, "volumes_from": [], "gpus": "all"}, "b": {**IMG, "uts": "host"}}}
    with pytest.raises(ComposeError) as caught:
        check_keys(raw)
    text = caught.value.message
    assert "3 unsupported compose keys" in text
    for path in ("services.a.volumes_from", "services.a.gpus", "services.b.uts"):
        assert path in text
    assert caught.value.hint


def test_refusal_gives_the_reason_and_a_did_you_mean() -> None:
    raw = {"services": {"a": {**IMG, "container_nme": "x", "volumes_from": ["b"]}, "b": IMG}}
    with pytest.raises(ComposeError) as caught:
        check_keys(raw)
    text = caught.value.message
    assert (
        "services.a.container_nme: unsupported key 'container_nme' (not a Compose key); "
        "did you mean 'container_name'?" in text
    )
    assert (
        "services.a.volumes_from: unsupported key 'volumes_from' (sharing another container's volumes" in text
    )


def test_develop_and_swarm_only_deploy_keys_are_ignored_with_a_note(tmp_path: Path) -> None:
    body = {**IMG, "develop": {"watch": []}, "deploy": {"placement": {"constraints": []}}}
    project = load(tmp_path, services(web=body))
    assert any("services.web.develop" in w and "ignores" in w for w in project.warnings)
    assert any("services.web.deploy.placement" in w for w in project.warnings)


def test_extension_fields_and_version_are_accepted(tmp_path: Path) -> None:
    project = load(
        tmp_path, {"version": "3.8", "x-top": 1, "name": "demo", "services": {"web": {**IMG, "x-note": "ok"}}}
    )
    assert project.active == ["web"]


def test_cycle_is_reported_with_its_path(tmp_path: Path) -> None:
    compose = services(
        a={**IMG, "depends_on": ["b"]},
        b={**IMG, "depends_on": {"c": {"condition": "service_healthy"}}},
        c={**IMG, "depends_on": ["a"], "healthcheck": {"test": "true"}},
        d={**IMG, "depends_on": ["a"]},
    )
    with pytest.raises(ComposeError) as caught:
        load(tmp_path, compose)
    assert caught.value.message == "dependency cycle: a -> b -> c -> a"


def test_find_cycle_and_order() -> None:
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"a": ["b"], "b": []}) is None
    assert find_cycle({"x": ["y"], "y": ["z"], "z": ["y"]}) == ["y", "z", "y"]


def test_dependency_order_keeps_file_order_for_ties(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        services(
            proxy={**IMG, "depends_on": ["app"]},
            app={**IMG, "depends_on": ["db", "cache"]},
            cache=IMG,
            db=IMG,
        ),
    )
    assert project.active == ["db", "cache", "app", "proxy"]
    assert dependency_order(project.services) == project.active


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"command": "x"}, "a service needs 'image' or 'build'"),
        ({**IMG, "depends_on": ["ghost"]}, "unknown service 'ghost'"),
        ({**IMG, "depends_on": {"db": {"condition": "service_ready"}}}, "expected one of service_started"),
        ({**IMG, "volumes": ["undeclared:/data"]}, "volume 'undeclared' is not declared"),
        ({**IMG, "volumes": ["data"]}, "target must be an absolute path"),
        ({**IMG, "networks": ["nowhere"]}, "network 'nowhere' is not declared"),
        ({**IMG, "restart": "sometimes"}, "expected no, always, unless-stopped or on-failure"),
        ({**IMG, "deploy": {"replicas": -1}}, "expected a non-negative integer"),
        ({**IMG, "ports": ["http:80"]}, "invalid port"),
        ({**IMG, "healthcheck": {"test": ["curl", "x"]}}, "must start with CMD, CMD-SHELL or NONE"),
        ({**IMG, "healthcheck": {"test": "true", "interval": "fast"}}, "expected a duration"),
        ({**IMG, "read_only": "yes"}, "expected true or false"),
        ({**IMG, "pull_policy": "sometimes"}, "pull_policy: expected one of"),
        ({**IMG, "env_file": "missing.env"}, "env file not found"),
        ({**IMG, "command": "unterminated 'quote"}, "cannot split"),
        (
            {**IMG, "environment": {"X": "${NEEDED:?set NEEDED}"}},
            "required variable NEEDED is missing a value: set NEEDED",
        ),
    ],
)
def test_invalid_service(tmp_path: Path, body: dict[str, Any], message: str) -> None:
    compose = services(web=body, db={**IMG, "healthcheck": {"test": "true"}})
    with pytest.raises(ComposeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(tmp_path, compose)


def test_waiting_on_a_disabled_healthcheck_is_refused(tmp_path: Path) -> None:
    compose = services(
        web={**IMG, "depends_on": {"db": {"condition": "service_healthy"}}},
        db={**IMG, "healthcheck": {"disable": True}},
    )
    with pytest.raises(ComposeError, match="its healthcheck is disabled"):
        load(tmp_path, compose)


def test_dotenv_interpolation_and_shell_precedence(tmp_path: Path) -> None:
    compose = services(
        web={"image": "busybox:${TAG}", "environment": {"PORT": "${PORT:-80}", "MODE": "$MODE"}}
    )
    project = load(tmp_path, compose, env="TAG=1.36\nPORT=8080\nMODE=file\n", environ={"MODE": "shell"})
    web = project.services["web"]
    assert web.image == "busybox:1.36"
    assert web.environment == {"PORT": "8080", "MODE": "shell"}


def test_unset_variable_warns(tmp_path: Path) -> None:
    project = load(tmp_path, services(web={**IMG, "environment": ["A=${NOT_SET}"]}))
    assert project.services["web"].environment == {"A": ""}
    assert project.warnings == ["variable NOT_SET is not set; using an empty string"]


def test_profiles(tmp_path: Path) -> None:
    compose = services(
        web=IMG, debug={**IMG, "profiles": ["debug"]}, tools={**IMG, "profiles": ["tools", "debug"]}
    )
    assert load(tmp_path, compose).active == ["web"]
    assert load(tmp_path, compose, profiles=["debug"]).active == ["web", "debug", "tools"]
    assert load(tmp_path, compose, environ={"COMPOSE_PROFILES": "tools"}).active == ["web", "tools"]
    assert load(tmp_path, compose, profiles=["*"]).active == ["web", "debug", "tools"]


def test_dependency_on_disabled_profile_is_refused(tmp_path: Path) -> None:
    compose = services(web={**IMG, "depends_on": ["db"]}, db={**IMG, "profiles": ["data"]})
    with pytest.raises(ComposeError, match="'db' is not enabled by the active profiles"):
        load(tmp_path, compose)
    optional = services(
        web={**IMG, "depends_on": {"db": {"required": False}}}, db={**IMG, "profiles": ["data"]}
    )
    assert load(tmp_path, optional).active == ["web"]


class TestProjectName:
    def test_compose_name(self, tmp_path: Path) -> None:
        assert load(tmp_path, services(web=IMG)).name == "demo"

    def test_archgen_yaml_beats_compose(self, tmp_path: Path) -> None:
        (tmp_path / "archgen.yaml").write_text("name: shop\narchitecture: mvc\n")
        assert load(tmp_path, services(web=IMG)).name == "shop"

    def test_flag_beats_everything(self, tmp_path: Path) -> None:
        (tmp_path / "archgen.yaml").write_text("name: shop\n")
        assert load(tmp_path, services(web=IMG), name="other").name == "other"

    def test_never_the_directory_name(self, tmp_path: Path) -> None:
        root = tmp_path / "looks-like-a-name"
        with pytest.raises(ComposeError, match="cannot tell the project name") as caught:
            load(root, {"services": {"web": IMG}})
        assert "-p NAME" in (caught.value.hint or "")

    def test_invalid_name(self, tmp_path: Path) -> None:
        with pytest.raises(ComposeError, match="invalid project name 'Shop!'"):
            resolve_name(tmp_path, "Shop!")

    def test_interpolated_compose_name(self, tmp_path: Path) -> None:
        project = load(tmp_path, {"name": "${PROJ:-fromenv}", "services": {"web": IMG}})
        assert project.name == "fromenv"


def test_missing_compose_file(tmp_path: Path) -> None:
    from archgen.runtime.compose import load_project

    with pytest.raises(ComposeError, match=r"no compose\.yaml in"):
        load_project(tmp_path)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("postgres", "postgres:latest"),
        ("postgres:16", "postgres:16"),
        ("registry:5000/team/app", "registry:5000/team/app:latest"),
        ("registry:5000/team/app:2", "registry:5000/team/app:2"),
        ("app@sha256:abc", "app@sha256:abc"),
    ],
)
def test_normalise_ref(ref: str, expected: str) -> None:
    assert normalise_ref(ref) == expected


def test_yaml_1_2_scalars_as_compose_reads_them(tmp_path: Path) -> None:
    # PyYAML's YAML 1.1 would read 80:80 as the base-60 integer 4880 and `no` as false.
    (tmp_path / "compose.yaml").write_text(
        "name: demo\nservices:\n  web:\n    image: x\n    ports: [80:80, 127.0.0.1:8080:8080]\n"
        "    restart: no\n    labels: {built: 2024-01-01, flag: yes}\n    deploy: {replicas: 2}\n"
    )
    from archgen.runtime.compose import load_project

    web = load_project(tmp_path, environ={}).services["web"]
    assert web.ports == (PortMapping(80, 80), PortMapping(8080, 8080, "127.0.0.1"))
    assert web.restart == "no"
    assert web.labels == {"built": "2024-01-01", "flag": "yes"}
    assert web.replicas == 2
