"""The benchmark harness: a registry of cases, alternating timed runs, a markdown report.

A case is a context manager (registered with ``@case(name)``) that sets up what its
contenders need in a private temp dir, yields them, and cleans up on exit. A contender is a
name and a callable that does one timed operation and raises ``Failed`` when it fails. The
harness warms every contender up, then runs them alternately (one run of each per round)
so that a drift of the machine (other load, thermal, caches) spreads over all of them
alike, and reports the median, min-max and the ratio of Dockyard's median to each peer's.
A contender that fails is reported as "failed" and dropped from the remaining rounds.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DOCKYARD = "dockyard"


class Failed(Exception):
    """A contender's operation failed; the message says how (one line)."""


@dataclass(frozen=True)
class Contender:
    name: str
    # a timed case ignores what run returns; a case with another unit reports the figure
    run: Callable[[], float | None]


CaseFactory = Callable[[Path], contextlib.AbstractContextManager[Sequence[Contender]]]


@dataclass(frozen=True)
class Case:
    name: str
    setup: CaseFactory
    doc: str = ""
    unit: str = "ms"  # "ms": the wall-clock time of run(); else the figure run() returns


REGISTRY: dict[str, Case] = {}


def case(
    name: str, unit: str = "ms"
) -> Callable[[Callable[[Path], Iterator[Sequence[Contender]]]], Case]:
    """Register a generator ``f(tmp) -> yields [Contender, ...]`` as the case ``name``."""

    def register(fn: Callable[[Path], Iterator[Sequence[Contender]]]) -> Case:
        c = Case(name, contextlib.contextmanager(fn), (fn.__doc__ or "").strip(), unit)
        REGISTRY[name] = c
        return c

    return register


def select(patterns: Sequence[str]) -> list[Case]:
    """Cases whose name contains any of ``patterns`` (all when none is given)."""
    return [c for c in REGISTRY.values() if not patterns or any(p in c.name for p in patterns)]


def run_command(argv: Sequence[str], timeout: float = 30.0) -> None:
    """Run one command, output discarded; raise ``Failed`` with its first error line."""
    try:
        res = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Failed(str(e)) from e
    if res.returncode != 0:
        lines = res.stderr.decode(errors="replace").strip().splitlines()
        raise Failed(f"exit {res.returncode}: {lines[-1] if lines else 'no message'}")


@dataclass
class Outcome:
    name: str
    times: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)


@dataclass
class CaseResult:
    case: Case
    outcomes: list[Outcome]


def _attempt(contender: Contender, outcome: Outcome, timed: bool) -> float | None:
    start = time.perf_counter()
    try:
        figure = contender.run()
    except Exception as e:  # any failure of one contender is reported, not fatal
        outcome.error = str(e).splitlines()[0] if str(e) else type(e).__name__
        return None
    return time.perf_counter() - start if timed else figure


def measure(
    c: Case,
    tmp_root: Path,
    runs: int,
    warmup: int,
    progress: Callable[[str], None] = lambda s: None,
) -> CaseResult:
    """Set the case up, warm up, run all contenders alternately, clean up."""
    tmp = tmp_root / c.name.replace(" ", "-").replace("/", "_")
    tmp.mkdir(parents=True)
    with c.setup(tmp) as contenders:
        outcomes = [Outcome(x.name) for x in contenders]
        pairs = list(zip(contenders, outcomes, strict=True))
        for round_no in range(warmup + runs):
            # rotate the order each round: a run is affected by the one before it (page
            # cache, and the kernel's cgroup-migration lock that stays fast for a grace
            # period after the last move), so no contender may always follow the same one
            shift = round_no % len(pairs)
            for contender, outcome in pairs[shift:] + pairs[:shift]:
                if outcome.error is not None:
                    continue
                took = _attempt(contender, outcome, c.unit == "ms")
                if took is not None and round_no >= warmup:
                    outcome.times.append(took)
            progress(f"{c.name}: round {round_no + 1}/{warmup + runs}")
    return CaseResult(c, outcomes)


# ------------------------------------------------------------------ report
def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(results: Sequence[CaseResult]) -> str:
    rows = [
        "| case | contender | median | min-max | dockyard / peer |",
        "|---|---|---:|---:|---:|",
    ]
    for r in results:
        unit = r.case.unit
        fmt = _ms if unit == "ms" else lambda v, unit=unit: f"{v:.1f} {unit}"
        ours = next((o for o in r.outcomes if o.name == DOCKYARD and o.times), None)
        for o in r.outcomes:
            if o.error is not None or not o.times:
                why = (o.error or "").replace("|", "\\|")
                rows.append(f"| {r.case.name} | {o.name} | failed | {why} | - |")
                continue
            span = f"{fmt(min(o.times))}-{fmt(max(o.times))}"
            ratio = "-"
            if o.name != DOCKYARD and ours is not None:
                ratio = f"{ours.median / o.median:.2f}x"
            rows.append(f"| {r.case.name} | {o.name} | {fmt(o.median)} | {span} | {ratio} |")
    return "\n".join(rows)


def report(results: Sequence[CaseResult], runs: int, warmup: int) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "# Benchmarks\n\n"
        f"- date: {now}\n"
        f"- machine: {machine()}\n"
        f"- method: {warmup} warm-up runs, then {runs} runs of each contender, alternating"
        " in an order rotated every round;"
        " wall-clock time of one operation (a case in another unit: the figure each"
        " run reports)\n\n"
        f"{table(results)}\n"
    )
