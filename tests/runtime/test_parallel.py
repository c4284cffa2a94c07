from __future__ import annotations

import threading

import pytest

from archgen.runtime.parallel import Once, run_all


def test_once_runs_once_and_shares_the_error() -> None:
    calls = []
    once = Once()

    def boom() -> None:
        calls.append(1)
        raise ValueError("x")

    for _ in range(3):
        with pytest.raises(ValueError):
            once.run(boom)
    assert calls == [1]


def test_run_all_collects_errors() -> None:
    def ok() -> None:
        pass

    def bad() -> None:
        raise RuntimeError("bad")

    errors, interrupted = run_all({"ok": ok, "bad": bad}, threading.Event())
    assert not interrupted
    assert list(errors) == ["bad"]
    assert run_all({}, threading.Event()) == ({}, False)


def test_run_all_runs_in_parallel() -> None:
    barrier = threading.Barrier(3, timeout=5)
    errors, _ = run_all({str(i): barrier.wait for i in range(3)}, threading.Event())  # type: ignore[misc]
    assert errors == {}
