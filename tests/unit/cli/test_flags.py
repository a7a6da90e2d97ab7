"""The docker-like flag parser and the global flags of main."""

from __future__ import annotations

import pytest

from dockyard.cli.errors import HelpRequested, UsageError
from dockyard.cli.flags import BOOL, INT, LIST, STRING, Command, Flag
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
        (
            ["--human=maybe"],
            'invalid argument "maybe" for "-H, --human" flag: strconv.ParseBool: parsing '
            '"maybe": invalid syntax',
        ),
    ],
)
def test_flag_errors_read_as_docker_28s(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        CMD.parse(argv)
    assert str(info.value) == (
        f"{message}\n\nUsage:  dockyard images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
        "Run 'dockyard images --help' for more information"
    )
    assert info.value.status == 125


def test_argument_count_errors_exit_1_as_docker_28s() -> None:
    with pytest.raises(UsageError) as info:
        CMD.parse(["a", "b"])
    assert str(info.value) == (
        "dockyard: 'dockyard images' requires at most 1 argument\n\n"
        "Usage:  dockyard images [OPTIONS] [REPOSITORY[:TAG]]\n\n"
        "Run 'dockyard images --help' for more information"
    )
    assert info.value.status == 1


def test_int_flags_are_checked_when_parsed() -> None:
    cmd = Command("ps", "[OPTIONS]", "List containers", [Flag("last", "n", INT, default=-1)])
    assert cmd.parse([])[0]["last"] == -1
    assert cmd.parse(["-n", "3"])[0]["last"] == 3
    with pytest.raises(UsageError) as info:
        cmd.parse(["-n", "x"])
    assert str(info.value).startswith(
        'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": '
        "invalid syntax\n\nUsage:  dockyard ps [OPTIONS]"
    )


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
    ("argv", "status", "message"),
    [
        (["--bogus"], 125, "unknown flag: --bogus\n\nUsage:  dockyard [OPTIONS] COMMAND [ARG...]"),
        (["-H"], 125, "flag needs an argument: 'H' in -H\n"),
        (["images", "--nope"], 125, "unknown flag: --nope\n\nUsage:  dockyard images [OPTIONS]"),
        (["image", "ls", "--nope"], 125, "Run 'dockyard image ls --help' for more information"),
        (
            ["frobnicate"],
            1,
            "dockyard: unknown command: dockyard frobnicate\n\nRun 'dockyard --help'",
        ),
        (["image", "frob"], 1, "unknown command: dockyard image frob\n\nUsage:  dockyard image\n"),
        (
            ["tag", "onlyone"],
            1,
            "dockyard: 'dockyard tag' requires 2 arguments\n\nUsage:  dockyard tag",
        ),
        (["rmi"], 1, "requires at least 1 argument\n\nUsage:  dockyard rmi [OPTIONS] IMAGE"),
        (["rmi"], 1, "See 'dockyard rmi --help' for more information"),
        (["ps", "-n", "x"], 125, 'invalid argument "x" for "-n, --last" flag'),
    ],
)
def test_main_usage_errors_as_docker_28(
    argv: list[str], status: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == status
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
