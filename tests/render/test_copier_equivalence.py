"""archgen's accelerated Copier run writes exactly what Copier's own run_copy writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import archgen.render._copier as fast
from archgen.render import Renderer
from archgen.resources import examples_dir
from archgen.spec import load_spec


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".env"
            and not {"tls", "secrets"} & set(p.relative_to(root).parts)}


@pytest.mark.parametrize("example", ["mvc", "scaled"])
def test_the_fast_render_equals_copiers_own(example: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(examples_dir() / f"{example}.yaml")
    Renderer(spec, tmp_path / "fast").write()

    import copier

    def plain(template: Path, destination: Path, data: dict[str, Any]) -> None:
        copier.run_copy(str(template), str(destination), data=data, defaults=True,
                        overwrite=True, quiet=True, unsafe=False, skip_tasks=True)

    monkeypatch.setattr(fast, "run_copy", plain)
    Renderer(spec, tmp_path / "plain").write()
    assert _tree(tmp_path / "fast") == _tree(tmp_path / "plain")
