"""Every command answers --help (exit 0, a Usage line), management commands list their
sub-commands with descriptions, and the CLI's fast paths import nothing heavy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import dockyard
from dockyard.cli.commandhelp import command_of, every_command, group_usage
from dockyard.cli.main import GROUPS, main

from .fakedaemon import FakeDaemon, serve

ALL = sorted(every_command())


@pytest.mark.parametrize(("name", "target"), ALL, ids=[n for n, _ in ALL])
def test_every_command_answers_help(
    name: str, target: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*name.split(), "--help"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    # the typed path, as docker shows it ("image ls", not the shared "images")
    assert first.startswith(f"Usage:  dockyard {name}"), first
    assert command_of(target).description in out


@pytest.mark.parametrize("name", ["ps", "images", "logs", "stop", "version"])
def test_short_h_is_help_too(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "-h"]) == 0
    assert capsys.readouterr().out.startswith(f"Usage:  dockyard {name}")


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_groups_list_sub_commands_with_descriptions(
    group: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([group, "--help"]) == 0
    out = capsys.readouterr().out
    assert out == group_usage(group) + "\n"
    assert out.startswith(f"Usage:  dockyard {group} COMMAND")
    block = out.split("Commands:\n")[1].split("\n\n")[0]
    listed = [line.split()[0] for line in block.splitlines()]
    assert "list" not in listed and "remove" not in listed  # aliases are not listed
    for sub in listed:
        assert sub in GROUPS[group]
    # a bare management command prints the same on stderr, as docker does
    assert main([group]) == 0
    assert capsys.readouterr().err == out


def test_system_prune_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["system", "prune", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("-a, --all", "--filter filter", "-f, --force", "--volumes"):
        assert flag in out


HEAVY = ("asyncio", "ssl", "http.client", "email", "json", "re", "typing")


def _imported(argv: list[str]) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The modules a CLI run imports, as the installed entry point runs it (-I -S)."""
    src = str(Path(dockyard.__file__).parent.parent)
    code = (
        f"import sys; sys.path.insert(0, {src!r}); from dockyard.cli.main import main; "
        f"sys.exit(main({argv!r}))"
    )
    res = subprocess.run(
        [sys.executable, "-I", "-S", "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    names = set()
    for line in res.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names, res


@pytest.mark.parametrize(
    "argv",
    [["ps", "--help"], ["version", "--help"], ["run", "--help"], ["image", "ls", "--help"]],
)
def test_help_paths_import_nothing_heavy(argv: list[str]) -> None:
    names, res = _imported(argv)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "dockyard.cli.main" in names  # the measurement saw the CLI's imports
    assert not names & set(HEAVY), sorted(names & set(HEAVY))


def test_version_against_a_daemon_imports_nothing_heavy(fake: FakeDaemon, tmp_path: Path) -> None:
    fake.route("GET", "/version", body={"Version": "9.9", "ApiVersion": "1.45"})
    with serve(fake, tmp_path) as host:
        names, res = _imported(["-H", host, "version"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert "\n  Version:          9.9\n" in res.stdout
    assert not names & set(HEAVY), sorted(names & set(HEAVY))
