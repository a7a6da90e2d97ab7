"""The docker-like flag parser and the global flags of main."""

from __future__ import annotations

import pytest

from dockyard.cli.errors import HelpRequested, UsageError
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag
from dockyard.cli.main import main

CMD = Command(
    "images",
    "[OPTIONS] [REPOSITORY[:TAG]]",
    "List images",
    [
        Flag("all", "a"),
        Flag("quiet", "q"),
        Flag("filter", "f", LIST),
        Flag("format", kind=STRING),
        Flag("human", "H", BOOL, default=True),
    ],
    max_args=1,
)


def test_short_long_combined_and_interspersed() -> None:
    opts, args = CMD.parse(["-qa", "busybox", "--filter", "dangling=true", "-flabel=x"])
    assert opts["quiet"] and opts["all"]
    assert opts["filter"] == ["dangling=true", "label=x"]
    assert args == ["busybox"]


def test_equals_forms_and_bool_false() -> None:
    opts, _ = CMD.parse(["--format={{.ID}}", "--human=false"])
    assert opts["format"] == "{{.ID}}"
    assert opts["human"] is False


def test_double_dash_ends_flags() -> None:
    _, args = CMD.parse(["--", "-weird"])
    assert args == ["-weird"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--nope"], "unknown flag: --nope"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["--format"], "flag needs an argument: --format"),
        (["-f"], "flag needs an argument: 'f' in -f"),
        (["a", "b"], '"dockyard images" accepts at most 1 argument.'),
        (["--human=maybe"], 'invalid argument "maybe" for "--human" flag'),
    ],
)
def test_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        CMD.parse(argv)
    assert message in str(info.value)
    assert "See 'dockyard images --help'." in str(info.value)


def test_help() -> None:
    with pytest.raises(HelpRequested) as info:
        CMD.parse(["--help"])
    assert info.value.text.startswith("Usage:  dockyard images [OPTIONS] [REPOSITORY[:TAG]]")
    assert "-a, --all" in info.value.text


def test_main_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == "Dockyard version 0.1.0\n"
    assert main([]) == 0
    assert "Usage:  dockyard [OPTIONS] COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus"], "unknown flag: --bogus"),
        (["frobnicate"], "unknown command: dockyard frobnicate"),
        (["image", "frob"], "unknown command: dockyard image frob"),
        (["tag", "onlyone"], '"dockyard tag" requires exactly 2 arguments.'),
        (["rmi"], '"dockyard rmi" requires at least 1 argument.'),
        (["images", "--nope"], "unknown flag: --nope\nSee 'dockyard images --help'."),
        (["image", "ls", "--nope"], "See 'dockyard image ls --help'."),
        (["-H"], "flag needs an argument: -H"),
    ],
)
def test_main_usage_errors_exit_125(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 125
    assert message in capsys.readouterr().err


def test_version_flag_needs_no_daemon_and_imports_no_client() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from dockyard.cli.main import main; main(['--version']); "
        "bad = [m for m in ('json', 'argparse', 'http.client', 'dockyard.client') "
        "if m in sys.modules]; print(bad)"
    )
    res = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert res.stdout.splitlines()[-1] == "[]"
