"""`archgen diagram`: formats, files, --check for CI, rendered projects, --live, exit codes."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import EXAMPLES, CliResult

Cli = Callable[..., CliResult]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The MVC example rendered once: archgen.yaml, compose.yaml and docs/architecture.*."""
    from archgen.render import render_project
    from archgen.spec import load_spec

    target = tmp_path_factory.mktemp("rendered") / "shop"
    render_project(load_spec(EXAMPLES / "mvc.yaml"), target)
    return target


def test_default_is_mermaid_on_stdout(cli: Cli) -> None:
    result = cli("diagram", EXAMPLES / "mvc.yaml")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("flowchart LR\n")
    assert '-->|"HTTPS :8443"| proxy' in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(("fmt", "start"), [
    ("d2", "# market (microservices)"), ("dot", 'digraph "market"'), ("json", "{"),
    ("tree", "market (microservices): container level"),
])
def test_every_text_format_prints(cli: Cli, fmt: str, start: str) -> None:
    result = cli("diagram", EXAMPLES / "microservices.yaml", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(start)


def test_levels_and_groupings(cli: Cli) -> None:
    context = cli("diagram", EXAMPLES / "scaled.yaml", "--level", "context", "-f", "json").json
    assert [n["type"] for n in context["nodes"]] == ["actor", "system"]
    ungrouped = cli("diagram", EXAMPLES / "scaled.yaml", "--group-by", "none", "-f", "json").json
    assert ungrouped["groups"] == []


@needs_dot
def test_output_file_format_follows_its_extension(cli: Cli, tmp_path: Path) -> None:
    svg = tmp_path / "docs" / "architecture.svg"
    result = cli("diagram", EXAMPLES / "mvc.yaml", "-o", svg)
    assert result.exit_code == 0, result.stderr
    assert f"wrote {svg} (svg, container level)" in result.stderr
    ET.fromstring(svg.read_text())
    png = tmp_path / "architecture.png"
    assert cli("diagram", EXAMPLES / "mvc.yaml", "-o", png).exit_code == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@needs_dot
def test_png_goes_to_a_pipe_as_bytes(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    from archgen.cli import main

    assert main(["diagram", str(EXAMPLES / "mvc.yaml"), "-f", "png"]) == 0
    assert capsysbinary.readouterr().out.startswith(b"\x89PNG\r\n\x1a\n")


def test_check_passes_when_fresh_and_fails_with_a_one_line_summary(cli: Cli, tmp_path: Path) -> None:
    spec = EXAMPLES / "mvc.yaml"
    target = tmp_path / "architecture.mmd"
    assert cli("diagram", spec, "-o", target).exit_code == 0
    fresh = cli("diagram", spec, "--check", target)
    assert fresh.exit_code == 0 and "up to date" in fresh.stderr
    target.write_text(target.read_text().replace("HTTPS :8443", "HTTPS :443"))
    stale = cli("diagram", spec, "--check", target)
    assert stale.exit_code == 1
    assert f"error: {target} is stale: +1 -1 lines, first difference at line " in stale.stderr
    assert stale.stdout == ""
    missing = cli("diagram", spec, "--check", tmp_path / "nope.json")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_check_needs_a_known_extension_or_a_format(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "diagram.out"
    assert cli("diagram", EXAMPLES / "mvc.yaml", "-f", "d2", "-o", target).exit_code == 0
    assert cli("diagram", EXAMPLES / "mvc.yaml", "--check", target).exit_code == 2
    assert cli("diagram", EXAMPLES / "mvc.yaml", "-f", "d2", "--check", target).exit_code == 0


@pytest.mark.parametrize(("args", "message"), [
    (["-f", "visio"], "unknown format 'visio'"),
    (["--level", "c"], "unknown level 'c'"),
    (["--group-by", "team"], "unknown grouping 'team'"),
    (["--check", "a.mmd", "-o", "b.mmd"], "--check and --output cannot be combined"),
    (["--check", "a.mmd", "--live"], "--check cannot be combined with --live"),
])
def test_bad_arguments_exit_2(cli: Cli, args: list[str], message: str) -> None:
    result = cli("diagram", EXAMPLES / "mvc.yaml", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_a_bad_spec_exits_2_with_its_location(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: shop\narchitecture: mvc\nproxy: {kind: iis}\n")
    result = cli("diagram", spec)
    assert result.exit_code == 2
    assert f"{spec}:3" in result.stderr
    assert cli("diagram", tmp_path / "missing.yaml").exit_code == 2


def test_a_directory_that_is_not_a_project_exits_2(cli: Cli, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("diagram", tmp_path)
    assert result.exit_code == 2 and "has no archgen.yaml" in result.stderr
    monkeypatch.chdir(tmp_path)
    assert "no archgen.yaml in" in cli("diagram").stderr


def test_missing_graphviz_exits_1_naming_the_package(cli: Cli, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere on it
    result = cli("diagram", EXAMPLES / "mvc.yaml", "-f", "svg")
    assert result.exit_code == 1
    assert "Graphviz's `dot`, which is not on PATH" in result.stderr
    assert "apt-get install graphviz / brew install graphviz" in result.stderr
    assert cli("diagram", EXAMPLES / "mvc.yaml", "-f", "dot").exit_code == 0


def test_works_for_every_architecture_even_without_a_blueprint(cli: Cli) -> None:
    for name in ("mvc", "scaled", "microservices"):
        assert cli("diagram", EXAMPLES / f"{name}.yaml", "-f", "tree").exit_code == 0


def test_a_rendered_project_has_its_diagram_and_it_is_fresh(cli: Cli, project: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (project / "README.md").read_text()
    mermaid = (project / "docs" / "architecture.mmd").read_text()
    assert f"```mermaid\n{mermaid}" in readme
    monkeypatch.chdir(project)
    assert cli("diagram").stdout == mermaid
    assert cli("diagram", "--check", "docs/architecture.mmd").exit_code == 0
    if shutil.which("dot"):
        assert cli("diagram", "--check", project / "docs" / "architecture.svg").exit_code == 0


def test_a_rendered_project_adds_compose_networks_and_volumes(cli: Cli, project: Path) -> None:
    data = cli("diagram", project, "--level", "deployment", "-f", "json").json
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["app"]["networks"] == ["backend", "frontend"]
    assert {"net:backend", "net:frontend", "vol:db-data"} <= set(nodes)
    grouped = cli("diagram", project / "archgen.yaml", "--group-by", "network", "-f", "json").json
    assert {g["label"] for g in grouped["groups"]} == {
        "network: frontend", "networks: backend + frontend", "network: backend"}


def test_a_hand_edited_compose_port_shows_and_makes_the_docs_stale(
        cli: Cli, project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "shop"
    shutil.copytree(project, copy)
    compose = yaml.safe_load((copy / "compose.yaml").read_text())
    compose["services"]["proxy"]["ports"][1] = "127.0.0.1:9443:8443"
    (copy / "compose.yaml").write_text(yaml.safe_dump(compose))
    assert '-->|"HTTPS :9443"| proxy' in cli("diagram", copy).stdout
    stale = cli("diagram", copy, "--check", copy / "docs" / "architecture.mmd")
    assert stale.exit_code == 1 and "is stale" in stale.stderr


def test_live_prints_a_coloured_tree_from_the_engine(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import archgen.diagram._live as live
    from archgen.diagram import ServiceState

    asked: list[str] = []

    def fake(project: str, *args: Any) -> dict[str, Any]:
        asked.append(project)
        return {"proxy": [ServiceState("running", "healthy")],
                "app": [ServiceState("running", "starting")]}

    monkeypatch.setattr(live, "live_states", fake)
    result = cli("diagram", EXAMPLES / "mvc.yaml", "--live")
    assert result.exit_code == 0, result.stderr
    assert asked == ["shop"]
    assert "● proxy [healthy]" in result.stdout and "● app [starting]" in result.stdout
    assert "● db [absent]" in result.stdout
    mermaid = cli("diagram", EXAMPLES / "mvc.yaml", "--live", "-f", "mermaid").stdout
    assert "class proxy up" in mermaid


@pytest.mark.docker
def test_live_without_an_engine_exits_1_with_archgens_message(cli: Cli,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    result = cli("diagram", EXAMPLES / "mvc.yaml", "--live")
    assert result.exit_code == 1
    assert "error: cannot reach the Docker engine at unix:///nonexistent.sock" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_has_an_example(cli: Cli) -> None:
    result = cli("diagram", "--help")
    assert result.exit_code == 0
    assert "Example: archgen diagram" in result.stdout
    for option in ("--format", "--level", "--group-by", "--output", "--check", "--live"):
        assert option in result.stdout


def test_json_output_is_valid_and_sorted(cli: Cli) -> None:
    text = cli("diagram", EXAMPLES / "microservices.yaml", "-f", "json").stdout
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
