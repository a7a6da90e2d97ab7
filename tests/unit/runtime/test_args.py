"""The runc-style command line of dockyard-runtime."""

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime.args import parse


def test_global_and_command_flags() -> None:
    p = parse(["--root", "/r", "--log-format=json", "run", "-b", "/b", "--detach", "c1"])
    assert p.globals == {"root": "/r", "log-format": "json"}
    assert p.command == "run"
    assert p.flags == {"bundle": "/b", "detach": True}
    assert p.positional == ["c1"]


def test_flags_after_the_id_are_accepted() -> None:
    p = parse(["delete", "c1", "--force"])
    assert p.flags == {"force": True} and p.positional == ["c1"]


def test_exec_passes_the_command_untouched() -> None:
    p = parse(["exec", "-e", "A=1", "--env", "B=2", "--tty", "c1", "ls", "-l", "--color"])
    assert p.flags == {"env": ["A=1", "B=2"], "tty": True}
    assert p.positional == ["c1", "ls", "-l", "--color"]


def test_ps_passes_ps_arguments() -> None:
    assert parse(["ps", "c1", "-ef"]).positional == ["c1", "-ef"]


def test_kill_takes_a_signal() -> None:
    assert parse(["kill", "--all", "c1", "KILL"]).positional == ["c1", "KILL"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["run", "--bogus", "c1"], "flag provided but not defined: -bogus"),
        (["run"], "run: expects a container id"),
        (["state", "a", "b"], "state: expects a container id"),
        (["create", "--bundle"], "flag needs an argument: -bundle"),
        (["create", "--preserve-fds", "x", "c"], "-preserve-fds expects a number"),
    ],
)
def test_bad_command_lines_say_what_is_wrong(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse(argv)
