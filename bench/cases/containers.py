"""Cases for many containers at once: 20 started concurrently, and ``ps`` with 20 running.

The same busybox image (Debian's busybox-static) goes into dockyardd and into a private
dockerd 20.10; every container runs ``sleep 600`` with ``--network none``. A round starts
its containers, takes its figure and removes them again (not timed).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.cases.daemon import (
    DOCKER_20,
    DOCKYARD_CLI,
    _daemons,
    _failing,
    _rss_tree,
    import_busybox,
)
from bench.harness import Contender, Failed, case, run_command
from dockyard.testing.dockerd import Dockerd

COUNT = 20
START_TIMEOUT = 120.0


def _start_all(cli: Sequence[str], image: str) -> float:
    """Start COUNT detached containers at once; seconds until every ``run -d`` returned."""
    began = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*cli, "run", "-d", "--network", "none", image, "sleep", "600"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(COUNT)
    ]
    errors = []
    for p in procs:
        _, err = p.communicate(timeout=START_TIMEOUT)
        if p.returncode != 0:
            errors.append(err.decode(errors="replace").strip())
    took = time.perf_counter() - began
    if errors:
        raise Failed(f"{len(errors)} of {COUNT} failed: {errors[0].splitlines()[-1]}")
    running = _ids(cli)
    if len(running) != COUNT:
        raise Failed(f"{len(running)} of {COUNT} containers running")
    return took


def _ids(cli: Sequence[str]) -> list[str]:
    out = subprocess.run(
        [*cli, "ps", "-q"], capture_output=True, check=True, timeout=60
    ).stdout.split()
    return [x.decode() for x in out]


def _remove_all(cli: Sequence[str]) -> None:
    out = subprocess.run(
        [*cli, "ps", "-aq"], capture_output=True, check=True, timeout=60
    ).stdout.split()
    if out:
        run_command([*cli, "rm", "-f", *(x.decode() for x in out)], timeout=120)


def _rss_matching(needle: str) -> float:
    """MiB of VmRSS of every process whose command line contains ``needle``."""
    total = 0.0
    for pid in Path("/proc").iterdir():
        if not pid.name.isdigit():
            continue
        try:
            if needle.encode() not in (pid / "cmdline").read_bytes():
                continue
            total += sum(_rss_tree(int(pid.name)).values())
        except OSError:
            continue
    return total


def _both(
    tmp: Path, figure: Callable[[Sequence[str], str, Callable[[], float]], float]
) -> Iterator[Sequence[Contender]]:
    """Contenders for dockyard and docker 20.10; ``figure(cli, image, rss)`` makes one
    figure."""
    with _daemons(tmp) as (ours, theirs):
        assert ours.proc is not None
        image = import_busybox(tmp, ours, theirs)
        ours_cli = [DOCKYARD_CLI, "-H", ours.url]
        ours_pid = ours.proc.pid

        def ours_rss() -> float:
            # the shims left the daemon's process tree: find them by their exec root
            return sum(_rss_tree(ours_pid).values()) + _rss_matching(str(ours.exec_root))

        def run_ours() -> float:
            try:
                return figure(ours_cli, image, ours_rss)
            finally:
                _remove_all(ours_cli)

        contenders = [Contender("dockyard", run_ours)]
        if isinstance(theirs, str):
            contenders.append(_failing("docker 20.10 -> dockerd 20.10", theirs))
        else:
            docker_cli = [DOCKER_20, "-H", theirs.host]
            namespace = theirs.sock.stem  # the containerd namespace of this dockerd

            def docker_rss() -> float:
                tree = sum(_rss_tree(theirs.proc.pid).values())
                return tree + _rss_matching(f"-namespace\0{namespace}\0")

            def run_docker() -> float:
                try:
                    return figure(docker_cli, image, docker_rss)
                finally:
                    _remove_all(docker_cli)

            contenders.append(Contender("docker 20.10 -> dockerd 20.10", run_docker))
        yield contenders


@case(f"{COUNT} containers started concurrently", unit="ms until all running")
def start_concurrently(tmp: Path) -> Iterator[Sequence[Contender]]:
    """COUNT ``run -d ... sleep 600`` at once; the time until every one of them returned
    and ``ps`` lists all as running."""
    yield from _both(tmp, lambda cli, image, rss: 1000 * _start_all(cli, image))


@case(f"RSS of daemon and shims with {COUNT} containers", unit="MiB")
def rss_with_containers(tmp: Path) -> Iterator[Sequence[Contender]]:
    """VmRSS of the daemon (dockerd: with containerd) plus every container's shim, with
    COUNT ``sleep`` containers running."""

    def figure(cli: Sequence[str], image: str, rss: Callable[[], float]) -> float:
        _start_all(cli, image)
        return rss()

    yield from _both(tmp, figure)


@case(f"cli ps with {COUNT} containers running")
def ps_with_containers(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``<cli> ps`` while COUNT containers run (started once, before the timed runs)."""
    with _daemons(tmp) as (ours, theirs):
        image = import_busybox(tmp, ours, theirs)
        ours_cli = [DOCKYARD_CLI, "-H", ours.url]
        _start_all(ours_cli, image)
        contenders = [Contender("dockyard", lambda: run_command([*ours_cli, "ps"]))]
        if isinstance(theirs, str):
            contenders.append(_failing("docker 20.10 -> dockerd 20.10", theirs))
        else:
            docker_cli = [DOCKER_20, "-H", theirs.host]
            _start_all(docker_cli, image)
            contenders.append(
                Contender("docker 20.10 -> dockerd 20.10", lambda: run_command([*docker_cli, "ps"]))
            )
        try:
            yield contenders
        finally:
            _remove_all(ours_cli)
            if isinstance(theirs, Dockerd):
                _remove_all([DOCKER_20, "-H", theirs.host])
