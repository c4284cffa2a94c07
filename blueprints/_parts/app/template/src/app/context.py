"""What the controllers share: settings, the store, Redis and the response cache."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.cache import ResponseCache
from app.models import Store
from app.redis_client import GuardedRedis
from app.settings import Settings


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    store: Store
    redis: GuardedRedis
    """Redis behind the circuit breaker, each call within its time budget."""
    cache: ResponseCache


def _context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(_context)]
"""Controller parameter type giving the application's shared services."""
