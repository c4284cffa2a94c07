"""Per-service progress: a Rich live table on a terminal, plain lines otherwise (CI logs, pipes)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archgen.terminal import Terminal

STYLES = {
    "building": "cyan",
    "pulling": "cyan",
    "waiting": "dim",
    "creating": "blue",
    "recreating": "blue",
    "starting": "blue",
    "waiting for health": "yellow",
    "waiting to complete": "yellow",
    "healthy": "green",
    "running": "green",
    "completed": "green",
    "up to date": "green",
    "built": "green",
    "pulled": "green",
    "stopping": "yellow",
    "removing": "yellow",
    "removed": "green",
    "restarting": "yellow",
    "restarted": "green",
    "present": "green",
    "failed": "bold red",
    "skipped": "red",
    "interrupted": "red",
}
DONE = {
    "healthy",
    "running",
    "completed",
    "up to date",
    "removed",
    "failed",
    "skipped",
    "interrupted",
    "built",
    "pulled",
    "restarted",
    "present",
}


class Progress:
    """The silent base: commands use it with `--quiet`; subclasses display."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop displaying (the live view leaves its last frame on screen)."""

    def set(self, service: str, state: str, detail: str = "") -> None:
        """Record that `service` entered `state` (one of STYLES' keys)."""

    def line(self, service: str, text: str) -> None:
        """One line of build or pull output for `service`."""

    def note(self, text: str) -> None:
        """A message for the user, shown above the live view."""


class PlainProgress(Progress):
    """One line per state change on stderr, and build output as `service | line`."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self._last: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def set(self, service: str, state: str, detail: str = "") -> None:
        with self._lock:
            if self._last.get(service) == (state, detail):
                return
            self._last[service] = (state, detail)
            self.terminal.info(f"{service}: {state}" + (f" ({detail})" if detail else ""))

    def line(self, service: str, text: str) -> None:
        with self._lock:
            self.terminal.info(f"{service} | {text}")

    def note(self, text: str) -> None:
        with self._lock:
            self.terminal.info(text)


class LiveProgress(Progress):
    """A Rich live table: one row per service with its state, detail and time in that state."""

    def __init__(self, terminal: Terminal, services: list[str]) -> None:
        from rich.live import Live

        self.terminal = terminal
        self._lock = threading.Lock()
        # service -> [state, detail, since (entered the state), began (first work), took (when done)]
        self._rows: dict[str, list[Any]] = {
            s: ["waiting", "", time.monotonic(), None, None] for s in services
        }
        self._live = Live(
            get_renderable=self._render, console=terminal.err, refresh_per_second=8, transient=False
        )
        self._live.start()

    def _render(self) -> Any:
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 2))
        table.add_column(width=1)
        table.add_column()
        table.add_column()
        table.add_column(overflow="ellipsis", no_wrap=True, max_width=70)
        table.add_column(justify="right")
        now = time.monotonic()
        with self._lock:
            rows = [(s, *r) for s, r in self._rows.items()]
        for service, state, detail, since, _began, took in rows:
            mark: Any
            clock = took if took is not None else now - since
            if state in DONE:
                mark = Text(
                    "x" if state in ("failed", "skipped", "interrupted") else "✓", style=STYLES[state]
                )
            else:
                mark = Spinner("dots", style="cyan")
            table.add_row(
                mark,
                Text(service, style="bold"),
                Text(state, style=STYLES.get(state, "")),
                Text(detail, style="dim"),
                Text(f"{clock:.1f}s", style="dim"),
            )
        return table

    def set(self, service: str, state: str, detail: str = "") -> None:
        now = time.monotonic()
        with self._lock:
            row = self._rows.setdefault(service, ["waiting", "", now, None, None])
            if row[0] != state:
                row[0], row[2] = state, now
            row[1] = detail
            if row[3] is None and state != "waiting":
                row[3] = now
            row[4] = now - (row[3] or now) if state in DONE else None

    def line(self, service: str, text: str) -> None:
        with self._lock:
            if service in self._rows:
                self._rows[service][1] = text.strip()

    def note(self, text: str) -> None:
        if not self.terminal.quiet:
            self._live.console.print(text, markup=False, highlight=False)

    def close(self) -> None:
        self._live.refresh()
        self._live.stop()


def make_progress(terminal: Terminal, services: list[str]) -> Progress:
    """A live view on a terminal, plain lines otherwise, nothing with `--quiet`."""
    if terminal.quiet:
        return Progress()
    if terminal.interactive:
        return LiveProgress(terminal, services)
    return PlainProgress(terminal)
