"""The shim's bookkeeping of exec exits (``shim/execs.py``): a status reaped before the
exec's pid is known is kept for it, one from an older process with the same pid is not."""

from __future__ import annotations

from typing import Any

from dockyard.shim import stdio
from dockyard.shim.execs import ExecProcess, ExecProcesses


def process(pid: int) -> ExecProcess:
    ex = ExecProcess("e" * 64, stdio.ContainerStdio(tty=False), frozenset({1, 2}), False)
    ex.pid = pid
    return ex


def execs() -> ExecProcesses:
    shim: Any = None  # the bookkeeping never touches the shim
    return ExecProcesses(shim)


def test_exit_after_the_pid_is_known() -> None:
    e = execs()
    ex = process(100)
    e.claim(ex, e.reaps)
    assert ex.exit_code is None and not ex.exited.is_set()
    e.reaped(100, 3)
    assert ex.exit_code == 3 and ex.exited.is_set()


def test_exit_before_the_pid_is_known() -> None:
    e = execs()
    before = e.reaps
    e.reaped(101, 0)  # a quick `true`, reaped before its pid file was read
    ex = process(101)
    e.claim(ex, before)
    assert ex.exit_code == 0


def test_a_status_of_an_older_process_with_the_same_pid_is_not_taken() -> None:
    e = execs()
    e.reaped(102, 1)  # some earlier child that had pid 102
    ex = process(102)
    e.claim(ex, e.reaps)  # this exec's runtime started after that reap
    assert ex.exit_code is None
    e.reaped(102, 7)
    assert ex.exit_code == 7


def test_signals_are_128_plus_n() -> None:
    e = execs()
    ex = process(103)
    e.claim(ex, e.reaps)
    e.reaped(103, -9)
    assert ex.exit_code == 137


def test_unclaimed_statuses_are_bounded() -> None:
    e = execs()
    for pid in range(1000, 2000):
        e.reaped(pid, 0)
    ex = process(1000)  # the oldest was dropped: its exit is waited for instead
    e.claim(ex, 0)
    assert ex.exit_code is None
    late = process(1999)
    e.claim(late, 0)
    assert late.exit_code == 0
