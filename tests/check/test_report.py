"""The JUnit XML and JSON reports of `archgen check`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from archgen.check import CheckReport, CheckResult, junit_xml, write_json, write_junit


def report() -> CheckReport:
    result = CheckReport("shop-check", "mvc", "examples/mvc.yaml")
    result.cases += [
        CheckResult("up --wait", "engine", "passed", "healthy in 4.2s", 4.2, kind="step"),
        CheckResult("edge TLS on :8443", "proxy", "passed", "serves the project's certificate", 0.01),
        CheckResult("CRUD /api/products", "app", "failed", "POST /api/products: expected 201, got 500", 0.2,
                    response="POST https://127.0.0.1:8443/api/products → 500\n\n{\"detail\": \"boom <&>\"}",
                    logs=["shop-check-app-1 | Traceback (most recent call last):"]),
        CheckResult("rate limit: 429 after 1000 requests per 60 s", "app", "skipped",
                    "cannot be reached within 300 requests"),
        CheckResult("down --volumes", "engine", "passed", "removed 4 containers", 1.0, kind="step"),
    ]
    return result


def test_junit_has_one_test_case_per_check_and_step_in_order() -> None:
    root = ET.fromstring(junit_xml(report()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "1", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "up --wait", "edge TLS on :8443", "CRUD /api/products",
        "rate limit: 429 after 1000 requests per 60 s", "down --volumes"]
    classnames = [c.get("classname") for c in cases][:3]
    assert classnames == ["shop-check.engine", "shop-check.proxy", "shop-check.app"]


def test_a_junit_failure_carries_the_service_the_response_and_the_logs() -> None:
    suite = ET.fromstring(junit_xml(report())).find("testsuite")
    assert suite is not None
    crud = suite.findall("testcase")[2]
    failure = crud.find("failure")
    assert failure is not None
    assert failure.get("message") == "app: POST /api/products: expected 201, got 500"
    assert failure.text is not None
    assert '{"detail": "boom <&>"}' in failure.text  # escaped by the writer, intact when read
    assert "last log lines of app:\nshop-check-app-1 | Traceback" in failure.text
    skipped = suite.findall("testcase")[3].find("skipped")
    assert skipped is not None and skipped.get("message") == "cannot be reached within 300 requests"


def test_the_json_report(tmp_path: Path) -> None:
    write_json(report(), tmp_path / "out" / "check.json")
    write_junit(report(), tmp_path / "out" / "check.xml")
    data = json.loads((tmp_path / "out" / "check.json").read_text())
    assert data["schema"] == "archgen.check/1" and data["passed"] is False
    assert data["counts"] == {"passed": 3, "failed": 1, "skipped": 1}
    assert [s["name"] for s in data["steps"]] == ["up --wait", "down --volumes"]
    assert data["checks"][1]["logs"] == ["shop-check-app-1 | Traceback (most recent call last):"]
    assert (tmp_path / "out" / "check.xml").read_bytes().startswith(b"<?xml")


def test_a_run_passes_only_when_nothing_failed() -> None:
    ok = report()
    ok.cases = [c for c in ok.cases if c.status != "failed"]
    assert ok.passed
    assert not report().passed
