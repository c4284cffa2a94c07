"""README.md stays true: the spec reference is generated, the commands it names exist."""

from __future__ import annotations

from archgen.spec._reference import update_readme
from tests.helpers import REPO


def test_spec_reference_in_readme_matches_the_schema() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert update_readme(text) == text, "run: python -m archgen.spec._reference"


def test_readme_starts_with_the_two_fresh_machine_commands() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```sh", 1)[1].split("```", 1)[0]
    assert "archgen new" in first_block
    assert "bash scripts/test" in first_block
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash scripts/test" in ci
