"""The reports of a check run: JUnit XML (one test case per check) and JSON."""

from __future__ import annotations

import datetime
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archgen.check._checks import FAILED, PASSED, SKIPPED, CheckResult

SCHEMA = "archgen.check/1"


@dataclass
class CheckReport:
    """Everything one `archgen check` run found: the steps around the checks and the checks."""

    project: str
    architecture: str
    source: str
    cases: list[CheckResult] = field(default_factory=list)  # steps and checks, in the order they ran
    started: str = field(default_factory=lambda: datetime.datetime.now(datetime.UTC)
                         .isoformat(timespec="seconds"))

    @property
    def steps(self) -> list[CheckResult]:
        return [case for case in self.cases if case.kind == "step"]

    @property
    def checks(self) -> list[CheckResult]:
        return [case for case in self.cases if case.kind == "check"]

    @property
    def passed(self) -> bool:
        """True when no step and no check failed (skipped checks say why, and do not fail)."""
        return all(case.status != FAILED for case in self.cases) and any(
            c.status == PASSED for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {status: sum(1 for c in self.cases if c.status == status)
                for status in (PASSED, FAILED, SKIPPED)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "project": self.project,
            "architecture": self.architecture,
            "source": self.source,
            "started": self.started,
            "passed": self.passed,
            "counts": self.counts(),
            "steps": [s.as_dict() for s in self.steps],
            "checks": [c.as_dict() for c in self.checks],
        }


def junit_xml(report: CheckReport) -> bytes:
    """JUnit XML: one testsuite, one testcase per step and check.

    Failures carry the response and the service's last log lines.
    """
    counts = report.counts()
    total = sum(case.seconds for case in report.cases)
    suites = ET.Element("testsuites", name="archgen check", tests=str(len(report.cases)),
                        failures=str(counts[FAILED]), skipped=str(counts[SKIPPED]), errors="0",
                        time=f"{total:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=f"archgen check {report.project}",
                          tests=str(len(report.cases)), failures=str(counts[FAILED]),
                          skipped=str(counts[SKIPPED]), errors="0", time=f"{total:.3f}",
                          timestamp=report.started)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("architecture", report.architecture), ("source", report.source)):
        ET.SubElement(properties, "property", name=name, value=value)
    for case in report.cases:
        element = ET.SubElement(suite, "testcase", classname=f"{report.project}.{case.service}",
                                name=case.name, time=f"{case.seconds:.3f}")
        if case.status == FAILED:
            failure = ET.SubElement(element, "failure", message=f"{case.service}: {case.message}",
                                    type="CheckFailed")
            parts = [case.message]
            if case.response:
                parts.append("response:\n" + case.response)
            if case.logs:
                parts.append(f"last log lines of {case.service}:\n" + "\n".join(case.logs))
            failure.text = "\n\n".join(parts)
        elif case.status == SKIPPED:
            ET.SubElement(element, "skipped", message=case.message)
        elif case.message:
            ET.SubElement(element, "system-out").text = case.message
    ET.indent(suites)
    text: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def write_junit(report: CheckReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(report))


def write_json(report: CheckReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
