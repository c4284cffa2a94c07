"""The one `Terminal` every command writes to, in a module free of Typer (the fast path uses it)."""

from __future__ import annotations

from archgen.terminal import Terminal

# Set by the root callback (or the fast path); commands read it rather than building their own.
terminal = Terminal()
