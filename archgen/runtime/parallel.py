"""Run named tasks in threads while the main thread handles Ctrl-C.

The first Ctrl-C sets a shared `cancel` event: tasks stop waiting and finish the
engine operation they are in, so the project is left in a consistent state. A
second Ctrl-C aborts the process at once.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait


class Once:
    """Run a function at most once; every caller gets its result or its exception."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._error: BaseException | None = None

    def run(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if not self._done:
                try:
                    fn()
                except BaseException as error:
                    self._error = error
                finally:
                    self._done = True
            if self._error is not None:
                raise self._error


def run_all(
    tasks: Mapping[str, Callable[[], None]],
    cancel: threading.Event,
    on_interrupt: Callable[[], None] | None = None,
) -> tuple[dict[str, BaseException], bool]:
    """Run every task in its own thread; return (errors by task name, interrupted?)."""
    if not tasks:
        return {}, False
    executor = ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix="archgen")
    futures: dict[str, Future[None]] = {name: executor.submit(fn) for name, fn in tasks.items()}
    interrupted = False
    try:
        pending: set[Future[None]] = set(futures.values())
        while pending:
            try:
                _, pending_now = wait(pending, timeout=0.2)
                pending = set(pending_now)
            except KeyboardInterrupt:
                if interrupted:
                    abort()
                interrupted = True
                cancel.set()
                if on_interrupt is not None:
                    on_interrupt()
    finally:
        executor.shutdown(wait=False)
    errors = {name: f.exception() for name, f in futures.items() if f.exception() is not None}
    return {k: e for k, e in errors.items() if e is not None}, interrupted


def abort() -> None:
    """The second Ctrl-C: leave now, without waiting for engine operations in flight."""
    sys.stderr.write("\naborted\n")
    sys.stderr.flush()
    os._exit(130)
