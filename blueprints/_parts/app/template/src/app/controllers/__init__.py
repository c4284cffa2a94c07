"""Controller layer: the HTTP routes, one router per resource plus the probes."""

from fastapi import APIRouter

from app.blueprint import ENTITIES
from app.controllers.crud import resource_router
from app.controllers.health import router as health_router
from app.views import SCHEMAS


def routers() -> list[APIRouter]:
    return [health_router, *(resource_router(entity, SCHEMAS[entity.name]) for entity in ENTITIES)]
