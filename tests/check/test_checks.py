"""Checks derived from the model, run against a fake edge+app on 127.0.0.1 (no Docker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archgen.check import FAILED, PASSED, SKIPPED, CheckResult, UrllibClient, derive_checks, run_check
from tests.check.fakestack import Behaviour, fake_stack


def run_all(project: Path, behaviour: Behaviour, **context_changes: Any) -> dict[str, CheckResult]:
    with fake_stack(project, behaviour) as context:
        for key, value in context_changes.items():
            context[key] = {**context[key], **value}
        client = UrllibClient(timeout=5, patience=600, sleep=behaviour.sleep)
        return {_key(c.name): run_check(c, client) for c in derive_checks(context, project)}


def _key(name: str) -> str:
    """Short names: tls, redirect, /readyz, CRUD, cache, rate."""
    if name.startswith("edge"):
        return "tls" if "TLS" in name else "redirect"
    return name.split(" ")[0]


def test_the_checks_derived_from_the_model(tmp_path: Path) -> None:
    with fake_stack(tmp_path, Behaviour()) as context:
        names = [(c.name, c.service) for c in derive_checks(context, tmp_path)]
    https, http = context["edge"]["https_port"], context["edge"]["http_port"]
    assert names == [
        (f"edge TLS on :{https}", "proxy"),
        (f"edge :{http} redirects to HTTPS", "proxy"),
        ("/readyz through the edge", "app"),
        ("CRUD /api/products", "app"),
        ("cache serves a second GET /api/products/<id> from Redis", "redis"),
        ("rate limit: 429 after 5 requests per 60 s", "app"),
    ]


def test_a_healthy_stack_passes_every_check(tmp_path: Path) -> None:
    behaviour = Behaviour()
    results = run_all(tmp_path, behaviour)
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(results, PASSED), results
    assert "429 with Retry-After: 42" in results["rate"].message
    assert "5 request(s) allowed" in results["rate"].message
    assert behaviour.waited > 0  # CRUD and the cache used the window up: waited out, not failed
    assert not behaviour.items  # the checks clean up after themselves


def test_a_certificate_that_is_not_the_projects_own_fails(tmp_path: Path) -> None:
    from archgen.render._secrets import write_tls_pair

    with fake_stack(tmp_path, Behaviour()) as context:
        write_tls_pair(tmp_path / "proxy" / "tls", ["localhost"])  # the project's pair changes
        check = derive_checks(context, tmp_path)[0]
        result = run_check(check, UrllibClient(timeout=5))
    assert result.status == FAILED and "not the project's own" in result.message


def test_a_redirect_to_plain_http_fails_with_the_response(tmp_path: Path) -> None:
    results = run_all(tmp_path, Behaviour(redirect_to="http://127.0.0.1:1"))
    redirect = results["redirect"]
    assert redirect.status == FAILED
    assert "not to HTTPS" in redirect.message and "→ 301" in redirect.response
    assert "location: http://127.0.0.1:1/api/" in redirect.response


def test_readiness_cache_and_updates_are_checked(tmp_path: Path) -> None:
    results = run_all(tmp_path, Behaviour(ready=False, cache_hits=False, lose_updates=True))
    assert results["/readyz"].status == FAILED and "got 503" in results["/readyz"].message
    assert results["cache"].status == FAILED and "'MISS' then 'MISS'" in results["cache"].message
    assert results["CRUD"].status == FAILED and "PATCH did not change title" in results["CRUD"].message
    assert '"title": "example"' in results["CRUD"].response


def test_a_429_without_retry_after_fails(tmp_path: Path) -> None:
    results = run_all(tmp_path, Behaviour(retry_after=None))
    assert results["rate"].status == FAILED and "Retry-After" in results["rate"].message


def test_a_limit_other_than_the_spec_fails(tmp_path: Path) -> None:
    results = run_all(tmp_path, Behaviour(rate_limit=8),
                      cache={"rate_limit": {"requests": 5, "window_seconds": 60}})
    assert results["rate"].status == FAILED and "the spec says 5" in results["rate"].message


def test_a_limit_out_of_reach_is_skipped_with_the_reason(tmp_path: Path) -> None:
    results = run_all(tmp_path, Behaviour(rate_limit=1000))
    assert results["rate"].status == SKIPPED
    assert "cannot be reached within 300 requests" in results["rate"].message


def test_a_refused_connection_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    with fake_stack(tmp_path, Behaviour()) as context:
        pass  # the servers are gone now
    results = [run_check(c, UrllibClient(timeout=2)) for c in derive_checks(context, tmp_path)]
    assert {r.status for r in results} == {FAILED}
    assert "Connection" in results[0].message or "refused" in results[0].message


@pytest.mark.parametrize("window", [1, 60])
def test_no_entities_means_no_crud_or_cache_checks(tmp_path: Path, window: int) -> None:
    with fake_stack(tmp_path, Behaviour(window=window)) as context:
        context["app"]["entities"] = []
        names = [c.name for c in derive_checks(context, tmp_path)]
    assert not any(n.startswith(("CRUD", "cache")) for n in names)
    assert names[-1].startswith("rate limit")


def test_microservices_checks_go_through_the_gateway_to_each_service(tmp_path: Path) -> None:
    from archgen.model import resolve_data
    from archgen.spec import spec_from_data

    spec = spec_from_data({"name": "m", "architecture": "microservices",
                           "services": [{"name": "orders"}, {"name": "stock"}]})
    names = [(c.name, c.service) for c in derive_checks(resolve_data(spec.data).context, tmp_path)]
    assert names[2:] == [
        ("/api/orders/readyz through the gateway", "orders"),
        ("CRUD /api/orders/orders", "orders"),
        ("/api/stock/readyz through the gateway", "stock"),
        ("CRUD /api/stock/stocks", "stock"),
    ]
    assert names[0][1] == "gateway"
