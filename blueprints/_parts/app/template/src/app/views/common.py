"""Schemas shared by every resource."""

from typing import NamedTuple

from pydantic import BaseModel


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


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]
    failed: list[str]


class Instance(BaseModel):
    instance: str
