"""Validators for exported files: Kubernetes OpenAPI schemas, Istio CRD schemas, Helm rendering."""

from __future__ import annotations

import functools
import json
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import unavailable

K8S_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships
ISTIO_API = "istio.io/api@v1.24.2"  # Go module carrying Istio's CRDs with their OpenAPI schemas


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def validate_kubernetes(doc: dict[str, Any]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _missing(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where every tool must be there."""
    unavailable(reason)


@functools.cache
def istio_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the openAPIV3Schema of Istio's CRDs, from the Go module proxy."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists()
                                else None)
    if go is None:
        _missing("no `go` to fetch Istio's CRDs (istio.io/api) from the Go module proxy")
    gopath = Path(pwd.getpwuid(os.getuid()).pw_dir) / "go"  # the tests move HOME; keep Go's cache
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPATH": str(gopath),
           "GOMODCACHE": str(gopath / "pkg" / "mod"),
           "GOCACHE": str(gopath.parent / ".cache" / "go-build")}
    done = subprocess.run([go, "mod", "download", "-json", ISTIO_API], capture_output=True,
                          text=True, timeout=600, cwd="/", env=env)
    if done.returncode != 0:
        _missing(f"could not download {ISTIO_API}: {done.stdout[-300:]} {done.stderr[-300:]}")
    folder = Path(json.loads(done.stdout)["Dir"])
    crds = documents((folder / "kubernetes" / "customresourcedefinitions.gen.yaml").read_text())
    schemas = {}
    for crd in crds:
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def validate_istio(doc: dict[str, Any]) -> None:
    import jsonschema

    schema = istio_schemas().get((doc["apiVersion"], doc["kind"]))
    assert schema is not None, f"no Istio CRD for {doc['apiVersion']} {doc['kind']}"
    jsonschema.validate(doc, schema)
    _strict(doc["spec"], schema["properties"]["spec"], f"{doc['kind']}.spec")


def _strict(value: Any, schema: dict[str, Any], where: str) -> None:
    """Istio's CRDs allow unknown fields nowhere: refuse keys the schema does not list."""
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            assert key in schema["properties"], f"{where}.{key} is not in Istio's schema"
            _strict(item, schema["properties"][key], f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _strict(item, schema["items"], where + "[]")


def validate(doc: dict[str, Any]) -> None:
    if doc["apiVersion"].endswith("istio.io/v1"):
        validate_istio(doc)
    else:
        validate_kubernetes(doc)


def helm_binary() -> str | None:
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # the tests move HOME
    for candidate in (shutil.which("helm"), str(home / "go" / "bin" / "helm")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")


def substitute(template: str, values: dict[str, Any], namespace: str) -> str:
    """Fill a chart template with values.yaml: only the few forms archgen's templates use."""
    body = template
    block = re.match(r"\{\{- if \.Values\.([\w.]+) \}\}\n(.*)\{\{- end \}\}\n\Z", body, re.S)
    if block:
        flag: Any = values
        for key in block.group(1).split("."):
            flag = flag[key]
        if not flag:
            return ""
        body = block.group(2)

    def lookup(path: list[str]) -> Any:
        node: Any = values
        for key in path:
            node = node[key]
        return node

    def action(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr == '"{{"':
            return "{{"
        if expr == ".Release.Namespace":
            return namespace
        quote = expr.endswith("| quote")
        expr = expr.removesuffix("| quote").strip()
        if expr.startswith(".Values."):
            value = lookup(expr[len(".Values."):].split("."))
        elif expr.startswith("index .Values "):
            value = lookup(re.findall(r'"([^"]+)"', expr))
        else:
            raise AssertionError(f"a template action the test helper does not know: {expr}")
        import json

        return json.dumps(str(value)) if quote else str(value)

    return _ACTION.sub(action, body)


def render_chart(chart: Path, namespace: str) -> tuple[str, list[dict[str, Any]]]:
    """(how it was rendered, the documents): `helm template` when installed, else substitution."""
    helm = helm_binary()
    if helm is not None:
        done = subprocess.run([helm, "template", namespace, str(chart), "-n", namespace],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return "helm template", documents(done.stdout)
    values = yaml.safe_load((chart / "values.yaml").read_text())
    docs = []
    for template in sorted((chart / "templates").glob("*.yaml")):
        docs += documents(substitute(template.read_text(), values, namespace))
    return "values.yaml substitution (no helm binary)", docs
