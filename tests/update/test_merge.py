"""The three-way line merge behind `archgen update`."""

from __future__ import annotations

from archgen.render._merge import merge_text

BASE = "".join(f"line {n}\n" for n in range(1, 11))


def lines(text: str, **changes: str) -> str:
    out = text.splitlines(keepends=True)
    for key, value in changes.items():
        out[int(key[1:]) - 1] = value
    return "".join(out)


def test_changes_on_both_sides_in_different_places_merge_cleanly() -> None:
    yours = lines(BASE, l2="line 2 edited by you\n")
    new = lines(BASE, l9="line 9 changed by archgen\n") + "line 11 added by archgen\n"
    merged = merge_text(BASE, yours, new)
    assert merged.conflicts == 0
    assert "line 2 edited by you\n" in merged.text
    assert "line 9 changed by archgen\n" in merged.text
    assert merged.text.endswith("line 11 added by archgen\n")


def test_the_same_change_on_both_sides_is_taken_once() -> None:
    both = lines(BASE, l5="line 5 fixed\n")
    merged = merge_text(BASE, both + "mine\n", both)
    assert merged.conflicts == 0
    assert merged.text == both + "mine\n"


def test_overlapping_changes_are_a_conflict_with_markers() -> None:
    merged = merge_text(BASE, lines(BASE, l5="yours\n"), lines(BASE, l5="archgen\n"))
    assert merged.conflicts == 1
    assert "line 4\n<<<<<<< yours\nyours\n=======\narchgen\n>>>>>>> archgen\nline 6\n" in merged.text


def test_one_sided_changes_and_deletions() -> None:
    deleted = BASE.replace("line 3\n", "")
    assert merge_text(BASE, deleted, BASE).text == deleted
    assert merge_text(BASE, BASE, deleted).text == deleted
    assert merge_text(BASE, deleted, lines(BASE, l8="eight\n")).text == lines(deleted, l7="eight\n")


def test_a_missing_final_newline_never_joins_a_marker() -> None:
    merged = merge_text("a\nb", "a\nyours", "a\narchgen")
    assert merged.conflicts == 1
    assert merged.text == "a\n<<<<<<< yours\nyours\n=======\narchgen\n>>>>>>> archgen\n"


def test_no_base_makes_the_differing_lines_one_conflict() -> None:
    merged = merge_text("", "same\nyours\n", "same\narchgen\n")
    assert merged.conflicts == 1
    assert merged.text.startswith("<<<<<<< yours\n")
