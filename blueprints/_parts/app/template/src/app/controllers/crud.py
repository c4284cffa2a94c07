"""One REST resource per entity: list, get, create, replace, update, delete."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status

from app.context import Context
from app.models import Entity, Record
from app.views import Schemas

JSON = "application/json"


def resource_router(entity: Entity, schemas: Schemas) -> APIRouter:
    """Routes for /api/<plural>. GETs are served through the Redis cache."""
    router = APIRouter(prefix=f"/api/{entity.plural}", tags=[entity.plural])
    Create, Update, Out, Page = schemas  # noqa: N806 (classes)

    def not_found(item_id: str) -> HTTPException:
        return HTTPException(status.HTTP_404_NOT_FOUND, f"{entity.name} {item_id!r} not found")

    def cached(context: Context, variant: str, compute: Callable[[], bytes]) -> Response:
        body, hit = context.cache.fetch(entity.plural, variant, compute)
        return Response(body, media_type=JSON, headers={"X-Cache": "HIT" if hit else "MISS"})

    def written(context: Context, record: Record | None, item_id: str) -> Any:
        if record is None:
            raise not_found(item_id)
        context.cache.invalidate(entity.plural)
        return record

    @router.get("", response_model=Page, summary=f"List {entity.plural}")
    def list_items(
        context: Context,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        def compute() -> bytes:
            records, total = context.store.repository(entity).list(limit, offset)
            return Page(items=records, total=total, limit=limit, offset=offset).model_dump_json().encode()

        return cached(context, f"list:{limit}:{offset}", compute)

    @router.get("/{item_id}", response_model=Out, responses={404: {}}, summary=f"Get a {entity.name}")
    def get_item(item_id: str, context: Context) -> Response:
        def compute() -> bytes:
            record = context.store.repository(entity).get(item_id)
            if record is None:
                raise not_found(item_id)
            return Out.model_validate(record).model_dump_json().encode()

        return cached(context, f"item:{item_id}", compute)

    @router.post("", response_model=Out, status_code=201, summary=f"Create a {entity.name}")
    def create_item(body: Create, response: Response, context: Context) -> Any:
        record = context.store.repository(entity).create(body.model_dump())
        context.cache.invalidate(entity.plural)
        response.headers["Location"] = f"{router.prefix}/{record['id']}"
        return record

    @router.put("/{item_id}", response_model=Out, responses={404: {}}, summary=f"Replace a {entity.name}")
    def replace_item(item_id: str, body: Create, context: Context) -> Any:
        record = context.store.repository(entity).replace(item_id, body.model_dump())
        return written(context, record, item_id)

    @router.patch("/{item_id}", response_model=Out, responses={404: {}}, summary=f"Update a {entity.name}")
    def update_item(item_id: str, body: Update, context: Context) -> Any:
        changes = body.model_dump(exclude_unset=True)
        record = context.store.repository(entity).update(item_id, changes)
        return written(context, record, item_id)

    @router.delete("/{item_id}", status_code=204, response_class=Response, responses={404: {}},
                   summary=f"Delete a {entity.name}")
    def delete_item(item_id: str, context: Context) -> Response:
        if not context.store.repository(entity).delete(item_id):
            raise not_found(item_id)
        context.cache.invalidate(entity.plural)
        return Response(status_code=204)

    return router
