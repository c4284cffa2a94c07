"""The generated delivery files work as written: `make lint` and `make test-unit` in a venv."""

from __future__ import annotations

import subprocess
from pathlib import Path

from archgen.render import render_project
from archgen.resources import examples_dir
from archgen.spec import load_spec


def test_make_lint_and_test_unit_pass_in_a_virtual_environment(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    render_project(load_spec(examples_dir() / "mvc.yaml"), project)
    # What the generated CI workflow and Jenkinsfile run, on a machine whose system Python
    # refuses pip installs: everything goes into app/.venv.
    result = subprocess.run(["make", "lint", "test-unit"], cwd=project, capture_output=True,
                            text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (project / "app/.venv/bin/python").exists()
    assert "All checks passed!" in result.stdout
    assert "Success: no issues found" in result.stdout
    assert " passed" in result.stdout.strip().splitlines()[-1]
