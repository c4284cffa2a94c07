"""Schemas shared by every resource."""

from typing import Any, NamedTuple

from pydantic import BaseModel, Field


class Schemas(NamedTuple):
    """The four schemas of one resource.

    `create` is the body of POST and PUT (every required field), `update` the body
    of PATCH (any subset; required fields may be left out but not set to null),
    `out` one item as answered, `page` one page of a list.
    """

    create: type[BaseModel]
    update: type[BaseModel]
    out: type[BaseModel]
    page: type[BaseModel]


def omittable() -> Any:
    """The default of a required field in a PATCH body: it may be left out, not set to null.

    Pydantic does not validate defaults, so an absent field stays None (and unset), while
    an explicit null fails the field's type. Typed Any so that `title: str = omittable()`
    type-checks: the default is never seen by code that reads a validated field.
    """
    return Field(default=None, description="required: may be omitted, not null")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
    failed: list[str]


class Instance(BaseModel):
    instance: str
