"""/metrics: request counts by route template and status, errors, latency; nothing else."""

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.metrics import REGISTRY, MetricsMiddleware


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    def read(thing_id: str) -> dict[str, str]:
        if thing_id == "boom":
            raise RuntimeError("boom")
        if thing_id == "missing":
            raise HTTPException(404, "no such thing")
        return {"id": thing_id}

    @app.middleware("http")
    async def refuse_early(request: Request, call_next: Any) -> Any:
        # Like the rate limiter: answers before the router runs.
        if request.headers.get("x-limited"):
            return JSONResponse({"detail": "slow down"}, status_code=429)
        return await call_next(request)

    app.add_middleware(MetricsMiddleware, routes=app.router.routes)
    return app


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_are_counted_by_route_template_and_status() -> None:
    client = TestClient(_app(), raise_server_exceptions=False)
    route = "/things/{thing_id}"
    ok = _value("http_requests_total", method="GET", route=route, status="200")
    missing = _value("http_requests_total", method="GET", route=route, status="404")
    errors = _value("http_request_errors_total", method="GET", route=route)
    timed = _value("http_request_duration_seconds_count", method="GET", route=route)
    for thing in ("a", "b", "c"):
        assert client.get(f"/things/{thing}").status_code == 200
    assert client.get("/things/missing").status_code == 404
    assert client.get("/things/boom").status_code == 500
    assert client.get("/no/such/path").status_code == 404
    assert _value("http_requests_total", method="GET", route=route, status="200") == ok + 3
    assert _value("http_requests_total", method="GET", route=route, status="404") == missing + 1
    assert _value("http_request_errors_total", method="GET", route=route) == errors + 1
    assert _value("http_request_duration_seconds_count", method="GET", route=route) == timed + 5
    assert _value("http_requests_total", method="GET", route="unmatched", status="404") >= 1


def test_a_request_refused_before_routing_counts_under_its_route() -> None:
    client = TestClient(_app())
    route = "/things/{thing_id}"
    before = _value("http_requests_total", method="GET", route=route, status="429")
    assert client.get("/things/x", headers={"X-Limited": "1"}).status_code == 429
    assert _value("http_requests_total", method="GET", route=route, status="429") == before + 1


def test_metrics_are_served_in_the_text_format_without_raw_paths() -> None:
    client = TestClient(_app())
    client.get("/things/raw-id-123")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name for f in text_string_to_metric_families(response.text)}
    assert {"http_requests", "http_request_errors", "http_request_duration_seconds"} <= families
    assert "raw-id-123" not in response.text  # bounded cardinality: templates only
    assert 'route="/metrics"' not in response.text  # scrapes are not counted
    assert client.post("/metrics").status_code == 404


def test_metrics_forwarded_by_the_edge_are_refused() -> None:
    client = TestClient(_app())
    response = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 404
    assert "http_requests_total" not in response.text
