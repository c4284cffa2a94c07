"""One Rich wrapper: data to stdout, status and errors to stderr, live views only on a TTY."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class Terminal:
    """Output channels shared by every command; Rich is imported on first use."""

    def __init__(self, *, quiet: bool = False, debug: bool = False) -> None:
        self.quiet = quiet
        self.debug = debug
        self._out: Console | None = None
        self._err: Console | None = None

    @staticmethod
    def _console(stderr: bool) -> Console:
        from rich.console import Console

        no_color = bool(os.environ.get("NO_COLOR"))
        # No fixed file: Rich then writes to whatever sys.stdout / sys.stderr is at
        # print time, so redirected streams (tests, pipes) are honoured.
        return Console(
            stderr=stderr,
            no_color=no_color,
            highlight=False,
            soft_wrap=True,
            emoji=False,
        )

    @property
    def out(self) -> Console:
        if self._out is None:
            self._out = self._console(False)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            self._err = self._console(True)
        return self._err

    @property
    def interactive(self) -> bool:
        """True when stderr is a terminal, so spinners and live views make sense."""
        return not self._plain() and self.err.is_terminal

    def _plain(self) -> bool:
        """Off a terminal Rich prints status text unstyled anyway: write it without importing Rich.

        Importing Rich costs tens of milliseconds, a good part of a no-op `up` in a script.
        """
        if self._err is not None or any(os.environ.get(v) for v in ("FORCE_COLOR", "TTY_COMPATIBLE")):
            return False
        try:
            return not sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    def _status(self, text: str, style: str | None) -> None:
        if self._plain():
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
        else:
            self.err.print(text, style=style, markup=False)

    def data(self, text: str) -> None:
        """Print command output (what a pipe should receive) to stdout, unstyled."""
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def json(self, payload: Any) -> None:
        self.data(json.dumps(payload, indent=2, sort_keys=True))

    def info(self, text: str, style: str | None = None) -> None:
        if not self.quiet:
            self._status(text, style)

    def success(self, text: str) -> None:
        self.info(text, style="green")

    def warn(self, text: str) -> None:
        self._status(f"warning: {text}", "yellow")

    def error(self, text: str) -> None:
        self._status(f"error: {text}", "bold red")
