"""`config_view`: the loaded project written back as compose YAML/JSON loads to the same `Project`."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from archgen.runtime.compose import load_project
from archgen.runtime.config_view import compose_dict, render_json, render_yaml

COMPOSE = """
name: agvb-cfg
x-common: &common
  restart: unless-stopped
services:
  db:
    <<: *common
    image: redis:7.4.2-alpine
    command: redis-server --appendonly yes
    environment:
      PASSWORD: ${DB_PASSWORD:-s3cret$$x}
      PLAIN: "80"
    env_file: [db.env]
    volumes: [data:/data, ./conf:/etc/conf:ro]
    healthcheck:
      test: redis-cli ping
      interval: 1s
      timeout: 500ms
      retries: 30
      start_period: 1m30s
    networks:
      back:
        aliases: [cache, store]
    stop_grace_period: 3s
    mem_limit: 256m
    ulimits:
      nofile: {soft: 1024, hard: 2048}
    labels: [team=core]
    secrets: [token]
    configs:
      - source: motd
        target: /etc/motd
  app:
    build:
      context: ./app
      args: {VERSION: "1.2"}
    ports: ["127.0.0.1:8080:80", "9000/udp"]
    expose: ["3000"]
    depends_on:
      db: {condition: service_healthy}
    networks: [back, default]
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "0.5", pids: 100}
    tmpfs: [/tmp:size=64m, /run]
    read_only: true
    cap_drop: [ALL]
    init: true
    profiles: [web]
    logging: {driver: json-file, options: {max-size: 10m}}
  job:
    image: python:3.12.8-slim
    entrypoint: ["python", "-c"]
    command: ["print(1)"]
    network_mode: service:db
    healthcheck: {disable: true}
networks:
  back:
    internal: true
    ipam:
      config: [{subnet: 172.31.250.0/24}]
volumes:
  data: {}
  spare: {labels: {kept: "yes"}}
secrets:
  token: {file: ./token.txt}
configs:
  motd: {content: "hello $$USER"}
"""


def _project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    (root / "app").mkdir(parents=True)
    (root / "conf").mkdir()
    (root / "compose.yaml").write_text(COMPOSE)
    (root / "db.env").write_text("FROM_FILE=1\n")
    (root / "token.txt").write_text("t0ken\n")
    return root


def _reload(tmp_path: Path, text: str, environ: dict[str, str]):  # type: ignore[no-untyped-def]
    out = tmp_path / "printed"
    out.mkdir()
    (out / "compose.yaml").write_text(text)
    return load_project(out, profiles=["*"], environ=environ)


def test_yaml_round_trip_gives_the_same_project(tmp_path: Path) -> None:
    env = {"DB_PASSWORD": "pa$$word"}
    original = load_project(_project_dir(tmp_path), profiles=["*"], environ=env)
    text = render_yaml(compose_dict(original))
    again = _reload(tmp_path, text, {})
    assert again.name == original.name
    assert again.services == original.services
    assert again.active == original.active
    assert again.networks == original.networks
    assert again.volumes == original.volumes
    assert again.contents == original.contents


def test_printed_values_are_resolved_and_ordered(tmp_path: Path) -> None:
    project = load_project(_project_dir(tmp_path), profiles=["*"], environ={})
    doc = compose_dict(project)
    assert list(doc) == ["name", "services", "networks", "volumes", "secrets", "configs"]
    db = doc["services"]["db"]
    assert list(db) == sorted(db)
    assert db["environment"] == {"FROM_FILE": "1", "PASSWORD": "s3cret$x", "PLAIN": "80"}
    assert db["volumes"][0] == {"type": "volume", "source": "data", "target": "/data"}
    assert db["healthcheck"]["start_period"] == 90
    assert db["networks"] == {"back": {"aliases": ["cache", "store"]}}
    assert doc["services"]["job"]["depends_on"] == {"db": {"condition": "service_started", "required": True}}
    assert doc["networks"]["back"]["name"] == "agvb-cfg_back"
    assert "$$x" in render_yaml(doc)  # escaped for re-loading
    assert yaml.safe_load(render_yaml(doc))["name"] == "agvb-cfg"
    assert json.loads(render_json(doc))["services"]["db"]["environment"]["PASSWORD"] == "s3cret$x"


def test_only_the_named_services(tmp_path: Path) -> None:
    project = load_project(_project_dir(tmp_path), profiles=["*"], environ={})
    doc = compose_dict(project, services=["job"])
    assert list(doc["services"]) == ["job"]
    assert "networks" not in doc
