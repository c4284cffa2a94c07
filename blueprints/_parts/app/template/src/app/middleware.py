"""ASGI middleware: request ids, access logs, X-Served-By, body limits and rate limiting.

The client address they use is scope["client"], set by forwarding.ForwardedMiddleware.
"""

import logging
import re
import time
import uuid
from dataclasses import dataclass

from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logs import ThrottledLog, request_id
from app.ratelimit import RateLimiter

access_log = logging.getLogger("app.access")
log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


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
                    "client": client_address(scope),
                },
            )
            request_id.reset(token)


@dataclass
class RateLimitStats:
    """Counters of the rate limiter, kept at app.state.rate_limit_stats."""

    unavailable_total: int = 0
    """Requests that met the limiter without Redis (allowed or denied per the policy)."""
    denied_total: int = 0
    """Of those, the requests refused with 503 (APP_RATE_LIMIT_ON_UNAVAILABLE=deny)."""


class RateLimitMiddleware:
    """429 beyond the limit; X-RateLimit-* on every response of a limited path.

    Without Redis (down, slower than its budget, or skipped by the breaker, see
    redis_client.py) the policy decides (APP_RATE_LIMIT_ON_UNAVAILABLE): `allow` passes
    the request unlimited, `deny` answers 503 with Retry-After. Either way the response
    carries `X-RateLimit-Status: unavailable`, RateLimitStats counts it, and a warning
    (with the number of such requests since the previous one) is logged at most once
    per `retry_after_seconds`.
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        exempt: frozenset[str],
        on_unavailable: str = "allow",
        retry_after_seconds: int = 5,
        stats: RateLimitStats | None = None,
    ):
        if on_unavailable not in ("allow", "deny"):
            raise ValueError(f"on_unavailable must be allow or deny, got {on_unavailable!r}")
        self.app = app
        self.limiter = limiter
        self.exempt = exempt
        self.deny_when_unavailable = on_unavailable == "deny"
        self.retry_after_seconds = retry_after_seconds
        self.stats = stats if stats is not None else RateLimitStats()
        self._warn = ThrottledLog(log, logging.WARNING, retry_after_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        try:
            decision = await run_in_threadpool(self.limiter.hit, client_address(scope))
        except RedisError as exc:
            await self._unavailable(exc, scope, receive, send)
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

    async def _unavailable(self, error: RedisError, scope: Scope, receive: Receive, send: Send) -> None:
        self.stats.unavailable_total += 1
        status = {"X-RateLimit-Status": "unavailable"}
        if self.deny_when_unavailable:
            self.stats.denied_total += 1
            self._warn("rate limiter unavailable; requests denied", error=str(error), policy="deny")
            response = JSONResponse(
                {"detail": "rate limiter unavailable; try again later"},
                status_code=503,
                headers={**status, "Retry-After": str(self.retry_after_seconds)},
            )
            await response(scope, receive, send)
            return
        self._warn("rate limiter unavailable; requests not limited", error=str(error), policy="allow")

        async def send_with_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(status)
            await send(message)

        await self.app(scope, receive, send_with_status)


class BodyLimitMiddleware:
    """413 for a request body over `limit_bytes`, declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, limit_bytes: int):
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"request body too large: the limit is {self.limit_bytes} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit_bytes:
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit_bytes:
                    # Raised inside the route's body parsing: FastAPI answers it as is.
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, limited_receive, send)
