"""A three-way line merge (diff3's algorithm over difflib), so `archgen update` needs no git.

Why not the `merge3` package from PyPI: it does the same in about the same
amount of code, but it is GPL-2.0-or-later, and archgen is MIT; difflib is in the
standard library and the algorithm below is short.

The merge finds the regions where base, yours and the new render all agree
(the intersection of base↔yours and base↔new matching blocks); between two such
regions a change on one side only is taken, identical changes on both sides
are taken once, and different changes are a conflict.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

YOURS_MARKER = "<<<<<<< yours\n"
MIDDLE_MARKER = "=======\n"
ARCHGEN_MARKER = ">>>>>>> archgen\n"


@dataclass(frozen=True)
class MergeResult:
    """The merged text and how many conflicts it holds (each written with markers)."""

    text: str
    conflicts: int


def _matching_blocks(base: Sequence[str], other: Sequence[str]) -> list[tuple[int, int, int]]:
    # autojunk=False: without it, lines frequent in a file over 200 lines (blank lines,
    # closing brackets) are ignored and the alignment becomes arbitrary.
    matcher = SequenceMatcher(None, base, other, autojunk=False)
    return [(m.a, m.b, m.size) for m in matcher.get_matching_blocks()]


def _sync_regions(
    base: Sequence[str], yours: Sequence[str], new: Sequence[str]
) -> list[tuple[int, int, int, int, int, int]]:
    """Stretches unchanged on both sides: (base start, end, yours start, end, new start, end)."""
    ours_blocks = _matching_blocks(base, yours)
    new_blocks = _matching_blocks(base, new)
    regions = []
    i = j = 0
    while i < len(ours_blocks) and j < len(new_blocks):
        a_base, a_at, a_len = ours_blocks[i]
        b_base, b_at, b_len = new_blocks[j]
        start = max(a_base, b_base)
        end = min(a_base + a_len, b_base + b_len)
        if start < end:
            a_start = a_at + (start - a_base)
            b_start = b_at + (start - b_base)
            regions.append((start, end, a_start, a_start + end - start, b_start, b_start + end - start))
        if a_base + a_len < b_base + b_len:
            i += 1
        else:
            j += 1
    regions.append((len(base), len(base), len(yours), len(yours), len(new), len(new)))
    return regions


def _chunks(
    base: Sequence[str], yours: Sequence[str], new: Sequence[str]
) -> Iterator[tuple[str, Sequence[str], Sequence[str]]]:
    """("keep", lines, ()) or ("conflict", your lines, new lines), in order."""
    at_base = at_yours = at_new = 0
    for base_start, base_end, yours_start, yours_end, new_start, new_end in _sync_regions(base, yours, new):
        old = base[at_base:base_start]
        mine = yours[at_yours:yours_start]
        theirs = new[at_new:new_start]
        if mine or theirs:
            if mine == theirs or theirs == old:
                yield "keep", mine, ()
            elif mine == old:
                yield "keep", theirs, ()
            else:
                yield "conflict", mine, theirs
        if base_end > base_start:
            yield "keep", base[base_start:base_end], ()
        at_base, at_yours, at_new = base_end, yours_end, new_end


def _terminated(lines: Sequence[str]) -> list[str]:
    """The lines, the last one given a newline so a marker never joins it."""
    out = list(lines)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    return out


def merge_text(base: str, yours: str, new: str) -> MergeResult:
    """Merge the user's changes (base → yours) with archgen's (base → new), line by line."""
    if yours == new or new == base:
        return MergeResult(yours, 0)
    if yours == base:
        return MergeResult(new, 0)
    out: list[str] = []
    conflicts = 0
    for kind, first, second in _chunks(
        base.splitlines(keepends=True), yours.splitlines(keepends=True), new.splitlines(keepends=True)
    ):
        if kind == "keep":
            out.extend(first)
            continue
        conflicts += 1
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(YOURS_MARKER)
        out.extend(_terminated(first))
        out.append(MIDDLE_MARKER)
        out.extend(_terminated(second))
        out.append(ARCHGEN_MARKER)
    return MergeResult("".join(out), conflicts)
