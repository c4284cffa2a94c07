"""The FastAPI application. Run with: uvicorn app.main:create_app --factory"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.blueprint import ENTITIES
from app.cache import ResponseCache
from app.context import AppContext
from app.controllers import routers
from app.controllers.health import PROBES
from app.forwarding import ForwardedMiddleware, TrustedProxies
from app.logs import configure_logging
from app.middleware import (
    BodyLimitMiddleware,
    RateLimitMiddleware,
    RateLimitStats,
    RequestContextMiddleware,
)
from app.models import DatabaseUnavailable, open_store
from app.ratelimit import RateLimiter, redis_counter
from app.redis_client import open_guarded
from app.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application. Nothing connects until start-up or the first request."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    redis = open_guarded(settings)
    context = AppContext(
        settings=settings,
        store=open_store(
            settings.db_engine, settings.database_url, ENTITIES, read_url=settings.database_read_url
        ),
        redis=redis,
        cache=ResponseCache(
            redis,
            settings.cache_ttl_seconds,
            prefix=settings.name,
            log_interval_seconds=settings.redis_retry_after_seconds,
        ),
    )

    proxies = TrustedProxies(settings.trusted_proxies, settings.trusted_proxy_hosts)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        proxies.refresh_soon()  # resolve proxies named by host (in the background)
        # Create tables and indexes now if the database is up; otherwise the first
        # request (or /readyz) retries, so a slow database does not crash the app.
        try:
            await run_in_threadpool(context.store.check)
        except DatabaseUnavailable as exc:
            log.warning("database not ready at start-up", extra={"error": str(exc)})
        log.info(
            "started",
            extra={"instance": settings.instance_id, "engine": settings.db_engine},
        )
        yield
        context.store.close()
        redis.close()

    app = FastAPI(title=settings.name, lifespan=lifespan)
    app.state.context = context
    for router in routers():
        app.include_router(router)

    @app.exception_handler(DatabaseUnavailable)
    async def database_unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        log.error("database unavailable", extra={"error": str(exc)})
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    limiter = RateLimiter(
        redis_counter(redis),
        limit=settings.rate_limit_requests,
        window_seconds=settings.rate_limit_window_seconds,
        prefix=settings.name,
    )
    app.state.rate_limit_stats = RateLimitStats()
    app.state.trusted_proxies = proxies
    # The last added is the outermost. Forwarded sets the client address everything else
    # uses; the context wraps the limiter (429s and 503s are logged too), the limiter
    # counts every request, also those whose body turns out to be too large.
    app.add_middleware(BodyLimitMiddleware, limit_bytes=settings.body_limit_bytes)
    app.add_middleware(
        RateLimitMiddleware,
        limiter=limiter,
        exempt=PROBES,
        on_unavailable=settings.rate_limit_on_unavailable,
        retry_after_seconds=settings.redis_retry_after_seconds,
        stats=app.state.rate_limit_stats,
    )
    app.add_middleware(RequestContextMiddleware, instance_id=settings.instance_id)
    app.add_middleware(ForwardedMiddleware, proxies=proxies)
    return app
