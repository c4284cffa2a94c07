"""View layer: the request and response schemas (pydantic) of every resource."""

from app.views.common import Schemas
from app.views.entities import SCHEMAS

__all__ = ["SCHEMAS", "Schemas"]
