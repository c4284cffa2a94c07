"""Colours and identifiers shared by the text writers, so every format looks alike."""

from __future__ import annotations

import re
from collections.abc import Iterable

# (fill, stroke) per tier; nodes outside a tier use the neutral pair.
TIER_COLOURS = {
    "edge": ("#e3f2fd", "#1565c0"),
    "application": ("#e8f5e9", "#2e7d32"),
    "data": ("#fff3e0", "#e65100"),
    "platform": ("#f3e5f5", "#6a1b9a"),
}
NEUTRAL = ("#ffffff", "#455a64")
STORAGE = ("#eceff1", "#607d8b")

# Live states: (fill, stroke, Rich style).
STATUS_COLOURS = {
    "up": ("#a5d6a7", "#1b5e20", "green"),
    "starting": ("#fff59d", "#f57f17", "yellow"),
    "down": ("#ef9a9a", "#b71c1c", "red"),
    "absent": ("#e0e0e0", "#757575", "bright_black"),
}
STATUS_WORDS = {"up": "healthy", "starting": "starting", "down": "failing", "absent": "absent"}

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def colours(tier: str | None, node_type: str) -> tuple[str, str]:
    """The (fill, stroke) of a node by tier, or storage grey for volumes and networks."""
    if node_type in ("volume", "network"):
        return STORAGE
    return TIER_COLOURS.get(tier or "", NEUTRAL)


def safe_ids(ids: Iterable[str], reserved: frozenset[str] = frozenset()) -> dict[str, str]:
    """Map each id to a unique `[A-Za-z0-9_]` identifier that avoids `reserved` words."""
    result: dict[str, str] = {}
    taken = set(reserved)
    for original in sorted(set(ids)):
        base = _UNSAFE.sub("_", original) or "n"
        if base[0].isdigit():
            base = "n" + base
        candidate, counter = base, 2
        while candidate in taken or candidate.lower() in reserved:
            candidate = f"{base}_{counter}"
            counter += 1
        taken.add(candidate)
        result[original] = candidate
    return result
