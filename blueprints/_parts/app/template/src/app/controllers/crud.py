"""One REST resource per entity: list, get, create, replace, update, delete."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel

from app.context import Context
from app.models import Entity, Record
from app.views import Schemas

JSON = "application/json"

Handler = TypeVar("Handler", bound=Callable[..., Any])


def body_is(schema: type[BaseModel]) -> Callable[[Handler], Handler]:
    """Make FastAPI read a handler's `body` parameter as `schema`.

    The schemas are classes built per entity at run time, so the handlers are annotated
    with their base class (what the type checker knows) and given the real one here,
    before the route decorator reads the signature.
    """

    def apply(handler: Handler) -> Handler:
        handler.__annotations__["body"] = schema
        return handler

    return apply


def resource_router(entity: Entity, schemas: Schemas) -> APIRouter:
    """Routes for /api/<plural>. GETs are served through the Redis cache."""
    router = APIRouter(prefix=f"/api/{entity.plural}", tags=[entity.plural])
    out, page = schemas.out, schemas.page

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

    @router.get("", response_model=page, summary=f"List {entity.plural}")
    def list_items(
        context: Context,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Response:
        def compute() -> bytes:
            records, total = context.store.repository(entity).list(limit, offset)
            return page(items=records, total=total, limit=limit, offset=offset).model_dump_json().encode()

        return cached(context, f"list:{limit}:{offset}", compute)

    @router.get("/{item_id}", response_model=out, responses={404: {}}, summary=f"Get a {entity.name}")
    def get_item(item_id: str, context: Context) -> Response:
        def compute() -> bytes:
            record = context.store.repository(entity).get(item_id)
            if record is None:
                raise not_found(item_id)
            return out.model_validate(record).model_dump_json().encode()

        return cached(context, f"item:{item_id}", compute)

    @router.post("", response_model=out, status_code=201, summary=f"Create a {entity.name}")
    @body_is(schemas.create)
    def create_item(body: BaseModel, response: Response, context: Context) -> Any:
        record = context.store.repository(entity).create(body.model_dump())
        context.cache.invalidate(entity.plural)
        response.headers["Location"] = f"{router.prefix}/{record['id']}"
        return record

    @router.put("/{item_id}", response_model=out, responses={404: {}}, summary=f"Replace a {entity.name}")
    @body_is(schemas.create)
    def replace_item(item_id: str, body: BaseModel, context: Context) -> Any:
        record = context.store.repository(entity).replace(item_id, body.model_dump())
        return written(context, record, item_id)

    @router.patch("/{item_id}", response_model=out, responses={404: {}}, summary=f"Update a {entity.name}")
    @body_is(schemas.update)
    def update_item(item_id: str, body: BaseModel, context: Context) -> Any:
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
