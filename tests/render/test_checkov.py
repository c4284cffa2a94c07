"""Third-party audit: checkov finds no failed check in any rendered project (edge × database)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from archgen.render import render_project
from archgen.spec import spec_from_data
from tests.helpers import unavailable

# scripts/test installs checkov into its own virtual environment (its dependencies would
# fight archgen's); CHECKOV names another binary.
DEFAULT_CHECKOV = Path.home() / ".cache" / "archgen" / "checkov" / "bin" / "checkov"
# Checks suppressed on purpose, each with its reason (none today).
SUPPRESSED: dict[str, str] = {}

MATRIX = [("mvc", edge, database) for edge in ("nginx", "httpd", "envoy", "haproxy")
          for database in ("postgres", "mysql", "mongodb")]
MATRIX += [("scaled", edge, database) for edge in ("nginx", "envoy", "haproxy")
           for database in ("postgres", "mongodb")]
# Microservices: each gateway, with its bus; every service's Dockerfile is the app part's.
MATRIX += [("microservices", "envoy", "kafka"), ("microservices", "nginx", "rabbitmq")]


def _checkov() -> str:
    found = os.environ.get("CHECKOV") or (str(DEFAULT_CHECKOV) if DEFAULT_CHECKOV.exists()
                                           else shutil.which("checkov"))
    if not found:
        unavailable("checkov is not installed (scripts/test installs it)")
    return found


def _spec(architecture: str, edge: str, database: str) -> dict[str, Any]:
    if architecture == "microservices":  # `database` names the bus here
        return {"name": f"ms-{edge}-{database}", "architecture": architecture,
                "gateway": {"kind": edge}, "bus": {"kind": database},
                "services": [{"name": "orders"}, {"name": "stock", "database": "mysql"}],
                "sagas": [{"name": "place", "steps": [{"service": "orders",
                                                       "action": "create"}]}]}
    key = "proxy" if architecture == "mvc" else "load_balancer"
    return {"name": f"{architecture}-{edge}-{database}", "architecture": architecture,
            key: {"kind": edge}, "database": {"engine": database}}


def test_checkov_fails_no_check_on_any_architecture_edge_or_database(tmp_path: Path) -> None:
    checkov = _checkov()
    for architecture, edge, database in MATRIX:
        render_project(spec_from_data(_spec(architecture, edge, database)),
                       tmp_path / f"{architecture}-{edge}-{database}")
    # One run over every project; --skip-download: no policy download, nothing leaves the machine.
    result = subprocess.run(
        [checkov, "-d", str(tmp_path), "--quiet", "--compact", "--skip-download", "-o", "json",
         *[f"--skip-check={check}" for check in SUPPRESSED]],
        capture_output=True, text=True, timeout=900, check=False)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(report["check_type"], check["check_id"], check["file_path"])
              for report in reports for check in report.get("results", {}).get("failed_checks", [])]
    summary = {r["check_type"]: r["summary"]["passed"] for r in reports}
    print(f"\ncheckov over {len(MATRIX)} projects: passed checks per framework {summary}; "
          f"failed {len(failed)}")
    assert failed == [], failed[:20]
    assert {"dockerfile", "github_actions"} <= set(summary)
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)
