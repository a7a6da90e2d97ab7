"""terminal: true: the pty master goes to --console-socket; the process sees a tty."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.testing.console import ConsoleSocket
from dockyard.testing.lab import Lab

pytestmark = pytest.mark.requires("busybox")


def _run_with_console(lab: Lab, script: str, **changes: Any) -> str:
    cid, b = lab.bundle(args=("sh", "-c", script), terminal=True, **changes)
    with ConsoleSocket() as console:
        res = lab.runtime.create(cid, b.path, console_socket=console.path)
        assert res.returncode == 0, res.stdout
        assert lab.runtime.start(cid).returncode == 0
        out = console.output(timeout=5)
        assert console.error is None, console.error
    assert lab.runtime.wait_status(cid, "stopped")["status"] == "stopped"
    return out


def test_terminal_is_a_pty(lab: Lab) -> None:
    out = _run_with_console(
        lab, "tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo all-tty; stat -c %a $(tty)"
    )
    # the terminal translates \n to \r\n
    assert out.replace("\r\n", "\n") == "/dev/pts/0\nall-tty\n620\n"


def test_terminal_input_reaches_the_process(lab: Lab) -> None:
    cid, b = lab.bundle(args=("sh", "-c", "read line; echo got:$line"), terminal=True)
    with ConsoleSocket() as console:
        assert lab.runtime.create(cid, b.path, console_socket=console.path).returncode == 0
        assert lab.runtime.start(cid).returncode == 0
        console.write(b"hello\n")
        out = console.output(timeout=5)
    # the pty echoes the input back, then the answer
    assert out.replace("\r\n", "\n") == "hello\ngot:hello\n"
    assert lab.runtime.wait_status(cid, "stopped")["status"] == "stopped"


def test_no_terminal_means_no_tty(lab: Lab) -> None:
    res = lab.sh("tty; [ -t 0 ] || echo not-a-tty")
    assert res.stdout == "not a tty\nnot-a-tty\n"
