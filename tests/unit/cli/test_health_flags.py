"""``--health-*`` and ``--no-healthcheck`` in the create body (``cli/healthflags.py``):
docker's JSON, Go's durations and docker's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.cli.containerconfig import container_config
from dockyard.cli.errors import UsageError
from dockyard.cli.healthflags import parse_duration
from dockyard.cli.run import RUN


def config(*argv: str) -> dict[str, Any]:
    opts, args = RUN.parse([*argv, "busybox", "true"])
    return container_config(opts, args, detach=True)


def test_options_make_docker_json() -> None:
    got = config(
        "--health-cmd", "test -f /ok", "--health-interval", "200ms", "--health-timeout=1m30s",
        "--health-retries", "2", "--health-start-period", "1.5s", "--health-start-interval", "1s",
    )  # fmt: skip
    assert got["Healthcheck"] == {
        "Test": ["CMD-SHELL", "test -f /ok"],
        "Interval": 200_000_000,
        "Timeout": 90_000_000_000,
        "StartPeriod": 1_500_000_000,
        "StartInterval": 1_000_000_000,
        "Retries": 2,
    }
    # a timing alone keeps the image's test; zero fields are left out, as docker's JSON
    assert config("--health-timeout", "2s")["Healthcheck"] == {"Timeout": 2_000_000_000}
    assert config("--no-healthcheck")["Healthcheck"] == {"Test": ["NONE"]}
    assert config("--no-healthcheck", "--health-interval", "0s")["Healthcheck"] == {
        "Test": ["NONE"]
    }
    assert "Healthcheck" not in config()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--no-healthcheck", "--health-cmd", "x"), "--no-healthcheck conflicts with --health-*"),
        (("--no-healthcheck", "--health-timeout", "1s"), "--no-healthcheck conflicts with"),
        (("--health-interval", "-1s"), "--health-interval cannot be negative"),
        (("--health-timeout", "-1s"), "--health-timeout cannot be negative"),
        (("--health-retries", "-3"), "--health-retries cannot be negative"),
        (("--health-start-period", "-1ms"), "--health-start-period cannot be negative"),
        (("--health-start-interval", "-1h"), "--health-start-interval cannot be negative"),
    ],
)
def test_refusals(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(UsageError) as e:
        config(*argv)
    assert e.value.status == 125
    assert str(e.value).startswith(f"dockyard: {message}")
    assert str(e.value).endswith("Run 'dockyard run --help' for more information")


def test_a_bad_duration_is_a_flag_error() -> None:
    with pytest.raises(UsageError) as e:
        config("--health-interval", "soon")
    assert str(e.value).startswith(
        'invalid argument "soon" for "--health-interval" flag: time: invalid duration "soon"'
    )
    assert "Usage:  dockyard run" in str(e.value)


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0), ("1s", 10**9), ("200ms", 2 * 10**8), ("1h2m3s", 3723 * 10**9),
        ("1.5s", 15 * 10**8), (".5s", 5 * 10**8), ("-2ms", -2 * 10**6), ("+3us", 3000),
        ("10µs", 10_000), ("7ns", 7),
    ],
)  # fmt: skip
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("5", 'time: missing unit in duration "5"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("s", 'time: invalid duration "s"'),
        ("1..2s", 'time: missing unit in duration "1..2s"'),
        (".s", 'time: invalid duration ".s"'),
    ],
)
def test_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_duration(text)
    assert str(e.value) == message
