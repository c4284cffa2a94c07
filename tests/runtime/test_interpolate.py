from __future__ import annotations

from pathlib import Path

import pytest

from archgen.errors import ComposeError
from archgen.runtime.interpolate import Interpolator, parse_env_file

ENV = {"SET": "value", "EMPTY": "", "PORT": "8080"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("$SET", "value"),
        ("${SET}", "value"),
        ("a-${SET}-b", "a-value-b"),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${UNSET-fallback}", "fallback"),
        ("${SET:-fallback}", "value"),
        ("${SET:+other}", "other"),
        ("${EMPTY:+other}", ""),
        ("${EMPTY+other}", "other"),
        ("${UNSET+other}", ""),
        ("$$SET", "$SET"),
        ("$${SET}", "${SET}"),
        ("cost: 5$", "cost: 5$"),
        ("${UNSET:-${PORT}}", "8080"),
        ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
        ("127.0.0.1:${PORT}:80", "127.0.0.1:8080:80"),
        ("${SET:?must be set}", "value"),
        ("${EMPTY?may be empty}", ""),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert Interpolator(ENV).expand(text, "x") == expected


def test_unset_without_default_is_empty_and_remembered() -> None:
    interpolator = Interpolator(ENV)
    assert interpolator.expand("a${NOPE}b$ALSO_NOPE", "x") == "ab"
    assert interpolator.missing == {"NOPE", "ALSO_NOPE"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "${DB_PASSWORD:?set DB_PASSWORD in .env}",
            "required variable DB_PASSWORD is missing a value: set DB_PASSWORD in .env",
        ),
        ("${EMPTY:?cannot be empty}", "required variable EMPTY is missing a value: cannot be empty"),
        ("${UNSET?}", "required variable UNSET is missing a value: variable UNSET is not set"),
    ],
)
def test_required_variable_error_names_variable_path_and_message(text: str, message: str) -> None:
    with pytest.raises(ComposeError) as caught:
        Interpolator(ENV).expand(text, "services.db.environment.PASSWORD")
    assert caught.value.message == f"services.db.environment.PASSWORD: {message}"


@pytest.mark.parametrize("text", ["${", "${SET", "${SET:-x", "${1BAD}", "${SET%x}"])
def test_malformed(text: str) -> None:
    with pytest.raises(ComposeError, match="invalid interpolation format"):
        Interpolator(ENV).expand(text, "w")


def test_expand_tree_leaves_keys_and_non_strings() -> None:
    tree = {"a": ["${SET}", 3, True, None], "${SET}": {"b": "${PORT}"}}
    assert Interpolator(ENV).expand_tree(tree, "") == {"a": ["value", 3, True, None], "${SET}": {"b": "8080"}}


def test_env_file_syntax(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# comment\n"
        "\n"
        "PLAIN=hello world  # trailing comment\n"
        "export EXPORTED=yes\n"
        "SINGLE='literal ${PLAIN} # not a comment'\n"
        'DOUBLE="line1\\nline2 ${PLAIN}"\n'
        "REF=${PLAIN}!\n"
        "FROM_BASE=${BASE_ONLY:-none}\n"
        "EMPTY=\n"
        "URL=http://x/#frag\n"
    )
    values = parse_env_file(path, {"BASE_ONLY": "base"})
    assert values == {
        "PLAIN": "hello world",
        "EXPORTED": "yes",
        "SINGLE": "literal ${PLAIN} # not a comment",
        "DOUBLE": "line1\nline2 hello world",
        "REF": "hello world!",
        "FROM_BASE": "base",
        "EMPTY": "",
        "URL": "http://x/#frag",
    }


def test_env_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="env file not found"):
        parse_env_file(tmp_path / "missing.env")
    bad = tmp_path / "bad.env"
    bad.write_text("GOOD=1\nnot a valid line\n")
    with pytest.raises(ComposeError, match=r"bad.env:2: expected KEY=VALUE"):
        parse_env_file(bad)
