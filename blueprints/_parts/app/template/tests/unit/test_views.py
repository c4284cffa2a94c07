"""The schemas of every resource, checked against the entity definitions."""

import pytest
from pydantic import ValidationError

from app.models import Entity
from app.views import SCHEMAS
from tests.samples import INVALID, assert_matches, sample_payload, sample_value


def error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[object, ...]]:
    return [tuple(error["loc"]) for error in exc.value.errors()]


def test_schemas_match_the_entity(entity: Entity) -> None:
    schemas = SCHEMAS[entity.name]
    create_fields = schemas.create.model_fields
    assert list(create_fields) == list(entity.field_names)
    for field in entity.fields:
        assert create_fields[field.name].is_required() == field.required, field.name
    assert list(schemas.update.model_fields) == list(entity.field_names)
    assert not any(f.is_required() for f in schemas.update.model_fields.values())
    assert list(schemas.out.model_fields) == ["id", *entity.field_names]
    assert list(schemas.page.model_fields) == ["items", "total", "limit", "offset"]


def test_create_accepts_a_full_and_a_minimal_payload(entity: Entity) -> None:
    create = SCHEMAS[entity.name].create
    full = sample_payload(entity)
    assert_matches(entity, full, create.model_validate(full).model_dump(mode="json"))
    minimal = sample_payload(entity, optional=False)
    dumped = create.model_validate(minimal).model_dump()
    for field in entity.fields:
        if not field.required:
            assert dumped[field.name] is None


def test_create_reports_each_bad_field_by_path(entity: Entity) -> None:
    create = SCHEMAS[entity.name].create
    for field in entity.fields:
        payload = sample_payload(entity)
        if field.required:
            del payload[field.name]
            with pytest.raises(ValidationError) as missing:
                create.model_validate(payload)
            assert error_locs(missing) == [(field.name,)]
        payload = sample_payload(entity)
        payload[field.name] = [sample_value(field)[0], INVALID] if field.is_list else INVALID
        with pytest.raises(ValidationError) as wrong:
            create.model_validate(payload)
        expected = (field.name, 1) if field.is_list else (field.name,)
        assert expected in error_locs(wrong)


def test_unknown_fields_are_rejected(entity: Entity) -> None:
    schemas = SCHEMAS[entity.name]
    for schema, payload in ((schemas.create, sample_payload(entity)), (schemas.update, {})):
        with pytest.raises(ValidationError) as exc:
            schema.model_validate({**payload, "no_such_field": 1})
        assert error_locs(exc) == [("no_such_field",)]


def test_update_is_partial_but_required_fields_are_not_nullable(entity: Entity) -> None:
    update = SCHEMAS[entity.name].update
    assert update.model_validate({}).model_dump(exclude_unset=True) == {}
    for field in entity.fields:
        value = sample_value(field)
        given = update.model_validate({field.name: value}).model_dump(exclude_unset=True, mode="json")
        assert list(given) == [field.name]
        if field.required:
            with pytest.raises(ValidationError) as exc:
                update.model_validate({field.name: None})
            assert error_locs(exc) == [(field.name,)]
        else:
            cleared = update.model_validate({field.name: None}).model_dump(exclude_unset=True)
            assert cleared == {field.name: None}


def test_page_wraps_items(entity: Entity) -> None:
    schemas = SCHEMAS[entity.name]
    item = {"id": "abc", **sample_payload(entity)}
    page = schemas.page.model_validate({"items": [item], "total": 1, "limit": 20, "offset": 0})
    body = page.model_dump(mode="json")
    assert body["total"] == 1 and body["limit"] == 20 and body["offset"] == 0
    assert body["items"][0]["id"] == "abc"
    assert_matches(entity, item, body["items"][0])
