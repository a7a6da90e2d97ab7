"""The healthcheck options of ``create``/``run`` and the ``Config.Healthcheck`` they make,
as the docker CLI's: ``--health-cmd`` (run with the container's shell: ``CMD-SHELL``),
``--health-interval``, ``--health-timeout``, ``--health-start-period``,
``--health-start-interval`` (Go durations: ``200ms``, ``1m30s``), ``--health-retries`` and
``--no-healthcheck`` (``Test: ["NONE"]``, which turns an image's HEALTHCHECK off). A
duration that does not parse is a flag error; a negative one, and ``--no-healthcheck``
with any other of them, are refused before anything is sent, with docker's words.
"""

from __future__ import annotations

from dockyard.cli.errors import UsageError
from dockyard.cli.flags import BOOL, INT, STRING, Flag, usage_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HEALTH_FLAGS = [
    Flag("health-cmd", kind=STRING, help="Command to run to check health"),
    Flag("health-interval", kind=STRING, help="Time between running the check (ms|s|m|h)"),
    Flag("health-retries", kind=INT, help="Consecutive failures needed to report unhealthy"),
    Flag(
        "health-start-interval",
        kind=STRING,
        help="Time between running the check during the start period (ms|s|m|h)",
    ),
    Flag(
        "health-start-period",
        kind=STRING,
        help="Start period for the container to initialize before starting health-retries "
        "countdown (ms|s|m|h)",
    ),
    Flag("health-timeout", kind=STRING, help="Maximum time to allow one check to run (ms|s|m|h)"),
    Flag("no-healthcheck", kind=BOOL, help="Disable any container-specified HEALTHCHECK"),
]

# (flag, Healthcheck field) of the duration options, in docker's order of checks
_DURATIONS = (
    ("health-interval", "Interval"),
    ("health-timeout", "Timeout"),
    ("health-start-period", "StartPeriod"),
    ("health-start-interval", "StartInterval"),
)
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in ns; ValueError with Go's message."""
    invalid = ValueError(f'time: invalid duration "{text}"')
    rest, sign = text, 1
    if rest[:1] in ("+", "-"):
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0.0
    while rest:
        n = _digits(rest, 0)
        if rest[n : n + 1] == ".":
            n = _digits(rest, n + 1)
        number, rest = rest[:n], rest[n:]
        if number in ("", "."):
            raise invalid
        u = 0
        while u < len(rest) and not (rest[u].isdigit() or rest[u] == "."):
            u += 1
        unit, rest = rest[:u], rest[u:]
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _UNITS[unit]
    return sign * round(total)


def _digits(text: str, at: int) -> int:
    while at < len(text) and text[at].isdigit():
        at += 1
    return at


def health_settings(opts: dict[str, Any]) -> dict[str, Any]:
    """``{"Healthcheck": ...}`` when a health option was given, else ``{}``."""
    durations: dict[str, int] = {}
    for flag, field in _DURATIONS:
        text = opts[flag.replace("-", "_")]
        if text is None:
            continue
        try:
            durations[field] = parse_duration(text)
        except ValueError as e:
            raise UsageError(
                f'invalid argument "{text}" for "--{flag}" flag: {e}', "run", usage_of("run")
            ) from None
    retries = int(opts["health_retries"] or 0)
    cmd = opts["health_cmd"] or ""
    given = bool(cmd or retries or any(durations.values()))
    if opts["no_healthcheck"]:
        if given:
            raise _refused("--no-healthcheck conflicts with --health-* options")
        return {"Healthcheck": {"Test": ["NONE"]}}
    if not given:
        return {}
    for flag, field in _DURATIONS[:2]:
        if durations.get(field, 0) < 0:
            raise _refused(f"--{flag} cannot be negative")
    if retries < 0:
        raise _refused("--health-retries cannot be negative")
    for flag, field in _DURATIONS[2:]:
        if durations.get(field, 0) < 0:
            raise _refused(f"--{flag} cannot be negative")
    health: dict[str, Any] = {"Test": ["CMD-SHELL", cmd]} if cmd else {}
    health.update({field: ns for field, ns in durations.items() if ns})
    if retries:
        health["Retries"] = retries
    return {"Healthcheck": health}  # docker's JSON leaves the zero fields out


def _refused(message: str) -> UsageError:
    """docker's report of options that parse but do not go together: status 125."""
    hint = "Run 'dockyard run --help' for more information"
    return UsageError(f"dockyard: {message}\n\n{hint}", None)
