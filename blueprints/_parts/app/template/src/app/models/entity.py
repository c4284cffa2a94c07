"""Entity definitions: what the data model stores, independent of the engine."""

from dataclasses import dataclass

FIELD_TYPES = frozenset(
    {"str", "int", "float", "bool", "datetime", "list[str]", "list[int]", "list[float]"}
)


@dataclass(frozen=True)
class Field:
    """One stored attribute of an entity; `type` is one of FIELD_TYPES."""

    name: str
    type: str
    required: bool = True

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")

    @property
    def is_list(self) -> bool:
        return self.type.startswith("list[")


@dataclass(frozen=True)
class Entity:
    """A resource: `name` is singular snake_case, `plural` the URL segment and table name."""

    name: str
    plural: str
    fields: tuple[Field, ...] = ()

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)
