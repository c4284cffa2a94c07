"""Smoke checks derived from the model, the reference-stack run, and its JUnit/JSON reports."""

from __future__ import annotations

from archgen.check._checks import (
    FAILED,
    MAX_RATE_LIMIT_REQUESTS,
    PASSED,
    SKIPPED,
    Check,
    CheckFailure,
    CheckResult,
    CheckSkipped,
    derive_checks,
    run_check,
)
from archgen.check._http import Answer, Client, UrllibClient
from archgen.check._report import CheckReport, junit_xml, write_json, write_junit
from archgen.check._run import CheckOptions, check_reference_stack

__all__ = [
    "FAILED",
    "MAX_RATE_LIMIT_REQUESTS",
    "PASSED",
    "SKIPPED",
    "Answer",
    "Check",
    "CheckFailure",
    "CheckOptions",
    "CheckReport",
    "CheckResult",
    "CheckSkipped",
    "Client",
    "UrllibClient",
    "check_reference_stack",
    "derive_checks",
    "junit_xml",
    "run_check",
    "write_json",
    "write_junit",
]
