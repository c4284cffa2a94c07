"""Golden files: every text format × architecture, byte for byte.

Regenerate after an intended change with `ARCHGEN_UPDATE_GOLDEN=1 pytest tests/diagram`
and review the diff. SVG and PNG depend on the Graphviz version, so they are checked
structurally in test_diagram_graphviz.py instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from archgen.diagram import render_diagram
from tests.diagram.conftest import ARCHITECTURES, example
from tests.helpers import unavailable

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("ARCHGEN_UPDATE_GOLDEN"))
TEXT_FORMATS = {"mermaid": "mmd", "d2": "d2", "dot": "dot", "json": "json", "tree": "txt"}
# Other levels and groupings, in the two formats people read most.
VARIANTS = [
    ("context", "tier", "mermaid"),
    ("deployment", "tier", "mermaid"),
    ("deployment", "tier", "json"),
    ("container", "none", "d2"),
    ("container", "network", "tree"),
]


def _compare(path: Path, actual: str) -> None:
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"{path.name} is missing; create it with ARCHGEN_UPDATE_GOLDEN=1")
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{path.name} differs from the golden file; if the change is intended, "
        "rerun with ARCHGEN_UPDATE_GOLDEN=1 and review the diff"
    )


@pytest.mark.parametrize("fmt", sorted(TEXT_FORMATS))
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_every_text_format_matches_its_golden_file(name: str, fmt: str) -> None:
    output = render_diagram(example(name), fmt)
    assert isinstance(output, str)
    _compare(GOLDEN / f"{name}.{TEXT_FORMATS[fmt]}", output)


@pytest.mark.parametrize(("level", "group_by", "fmt"), VARIANTS)
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_levels_and_groupings_match_their_golden_files(name: str, level: str, group_by: str,
                                                       fmt: str) -> None:
    output = render_diagram(example(name), fmt, level=level, group_by=group_by)
    assert isinstance(output, str)
    _compare(GOLDEN / f"{name}.{level}-{group_by}.{TEXT_FORMATS[fmt]}", output)


@pytest.mark.parametrize("fmt", [*TEXT_FORMATS, "svg"])
def test_the_same_input_gives_byte_identical_output(fmt: str) -> None:
    if fmt == "svg" and shutil.which("dot") is None:
        unavailable("Graphviz is not installed (apt-get install graphviz)")
    first = render_diagram(example("microservices"), fmt)
    second = render_diagram(example("microservices"), fmt)
    assert first == second


def test_no_golden_file_is_left_over() -> None:
    expected = {f"{n}.{ext}" for n in ARCHITECTURES for ext in TEXT_FORMATS.values()}
    expected |= {f"{n}.{level}-{group}.{TEXT_FORMATS[fmt]}"
                 for n in ARCHITECTURES for level, group, fmt in VARIANTS}
    assert {p.name for p in GOLDEN.iterdir()} == expected
