"""ASGI middleware: request ids, access logs, X-Served-By, and rate limiting."""

import logging
import re
import time
import uuid

from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import request_id
from app.ratelimit import RateLimiter, client_ip

access_log = logging.getLogger("app.access")
log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class RequestContextMiddleware:
    """Outermost layer: every response, errors included, carries X-Request-ID and
    X-Served-By and ends in one access-log line."""

    def __init__(self, app: ASGIApp, instance_id: str):
        self.app = app
        self.instance_id = instance_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        rid = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = rid
                out["X-Served-By"] = self.instance_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error")
            if response_started:
                raise
            await JSONResponse({"detail": "internal server error"}, status_code=500)(
                scope, receive, send_with_headers
            )
        finally:
            client = scope.get("client")
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": client_ip(headers, client[0] if client else None),
                },
            )
            request_id.reset(token)


class RateLimitMiddleware:
    """429 beyond the limit; X-RateLimit-* on every response of a limited path.

    If Redis fails, requests pass unlimited (logged): the database, not Redis,
    decides whether the service is up.
    """

    def __init__(self, app: ASGIApp, limiter: RateLimiter, exempt: frozenset[str]):
        self.app = app
        self.limiter = limiter
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = client_ip(Headers(scope=scope), client[0] if client else None)
        try:
            decision = await run_in_threadpool(self.limiter.hit, ip)
        except RedisError as exc:
            log.warning("rate limiter unavailable, request not limited", extra={"error": str(exc)})
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            response = JSONResponse(
                {
                    "detail": f"rate limit exceeded: {decision.limit} requests"
                    f" per {self.limiter.window_seconds} s"
                },
                status_code=429,
                headers=decision.headers(),
            )
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(decision.headers())
            await send(message)

        await self.app(scope, receive, send_with_headers)
