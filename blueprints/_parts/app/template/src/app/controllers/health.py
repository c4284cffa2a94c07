"""Liveness, readiness and instance identity."""

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from app.context import Context
from app.models import DatabaseUnavailable
from app.views.common import Health, Instance, Readiness

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

PROBES = frozenset({"/healthz", "/readyz"})
"""Paths exempt from rate limiting."""


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers. Touches no dependency."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
def readyz(context: Context) -> JSONResponse:
    """Readiness: the database (schema included) and Redis answer; 503 names what failed."""
    checks: dict[str, str] = {}
    try:
        context.store.check()
        checks["database"] = "ok"
    except DatabaseUnavailable as exc:
        log.warning("readiness: database unavailable", extra={"error": str(exc)})
        checks["database"] = "unavailable"
    try:
        context.redis.ping()
        checks["redis"] = "ok"
    except RedisError as exc:
        log.warning("readiness: redis unavailable", extra={"error": str(exc)})
        checks["redis"] = "unavailable"
    failed = sorted(name for name, state in checks.items() if state != "ok")
    body = Readiness(status="unavailable" if failed else "ready", checks=checks, failed=failed)
    return JSONResponse(body.model_dump(), status_code=503 if failed else 200)


@router.get("/whoami", response_model=Instance)
def whoami(context: Context) -> Instance:
    """Which replica answered (also in the X-Served-By header of every response)."""
    return Instance(instance=context.settings.instance_id)
