"""Cases for the daemon: CLI round trips against a running daemon, and idle daemon memory.

Each case starts a private dockyardd (``dockyard.testing.daemon``) and a private dockerd
20.10 (``dockyard.testing.dockerd``) and removes both on the way out. The CLI contenders are
our ``dockyard`` against dockyardd, Debian's docker 20.10 client against dockerd 20.10,
and the docker 28 CLI against dockyardd (the same server, another client).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.harness import Contender, Failed, case, run_command
from dockyard.testing.daemon import Daemon
from dockyard.testing.dockerd import Dockerd, DockerdUnavailable
from dockyard.testing.names import unique
from dockyard.testing.rootfs import make_busybox_rootfs

DOCKYARD_CLI = "/usr/local/bin/dockyard"
DOCKER_20 = "/usr/bin/docker"
DOCKER_28 = "/usr/local/bin/docker"
MIB = 1 << 20


def _failing(name: str, why: str) -> Contender:
    def run() -> None:
        raise Failed(why)

    return Contender(name, run)


@contextlib.contextmanager
def _daemons(tmp: Path) -> Iterator[tuple[Daemon, Dockerd | str]]:
    """dockyardd and dockerd (or why dockerd is unavailable), both removed on the way out.

    Their dirs go to the system temp dir, not ``tmp``: socket paths have a length limit.
    """
    ours = Daemon.start()
    try:
        try:
            theirs: Dockerd | str = Dockerd.start()
        except DockerdUnavailable as e:
            theirs = f"dockerd unavailable: {str(e).splitlines()[0]}"
        try:
            yield ours, theirs
        finally:
            if isinstance(theirs, Dockerd):
                theirs.stop()
        ours.stop()
    finally:
        ours.cleanup()


def import_busybox(tmp: Path, ours: Daemon, theirs: Dockerd | str | None) -> str:
    """One small busybox image, imported into dockyardd and (when it runs) dockerd under
    the same new name; the name."""
    rootfs = make_busybox_rootfs(tmp / "rootfs")
    archive = tmp / "rootfs.tar"
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."], check=True
    )
    name = f"{unique('bench')}:latest"
    run_command([DOCKYARD_CLI, "-H", ours.url, "import", str(archive), name], timeout=120)
    if isinstance(theirs, Dockerd):
        theirs.cli("import", str(archive), name)
    return name


def _cli_contenders(tmp: Path, ours: Daemon, theirs: Dockerd | str, *args: str) -> list[Contender]:
    config = tmp / "docker-config"  # a private, empty docker config for both docker CLIs
    config.mkdir(exist_ok=True)
    docker_ours = [DOCKER_28, "--config", str(config), "-H", ours.url, *args]
    contenders = [Contender("dockyard", lambda: run_command([DOCKYARD_CLI, "-H", ours.url, *args]))]
    if isinstance(theirs, str):
        contenders.append(_failing("docker 20.10 -> dockerd 20.10", theirs))
    else:
        docker_theirs = [DOCKER_20, "--config", str(config), "-H", theirs.host, *args]
        contenders.append(
            Contender("docker 20.10 -> dockerd 20.10", lambda: run_command(docker_theirs))
        )
    contenders.append(Contender("docker 28 -> dockyardd", lambda: run_command(docker_ours)))
    return contenders


@case("cli version against a running daemon")
def cli_version(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``<cli> -H unix://<sock> version``: a whole CLI process and its round trips."""
    with _daemons(tmp) as (ours, theirs):
        yield _cli_contenders(tmp, ours, theirs, "version")


@case("cli images against a running daemon")
def cli_images(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``<cli> -H unix://<sock> images``, with one busybox image in each daemon."""
    with _daemons(tmp) as (ours, theirs):
        import_busybox(tmp, ours, theirs)  # so that ``images`` has a row to print
        yield _cli_contenders(tmp, ours, theirs, "images")


# ------------------------------------------------------------------ memory
def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(x) for x in f.read().split()]
    return found


def _rss_tree(pid: int) -> dict[str, float]:
    """VmRSS in MiB of ``pid`` and all its descendants, by ``comm`` (summed per name)."""
    out: dict[str, float] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        todo += _children(p)
        try:
            with open(f"/proc/{p}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # gone meanwhile
        kb = int(fields.get("VmRSS", "0 kB").split()[0])  # absent for a zombie
        name = fields["Name"].strip()
        out[name] = out.get(name, 0.0) + kb / 1024
    return out


def _rss(name: str, pid: int, only: str | None = None) -> Contender:
    def run() -> float:
        tree = _rss_tree(pid)
        if not tree:
            raise Failed(f"process {pid} is gone")
        return tree.get(only, 0.0) if only else sum(tree.values())

    return Contender(name, run)


@case("daemon idle RSS", unit="MiB")
def idle_rss(tmp: Path) -> Iterator[Sequence[Contender]]:
    """VmRSS of an idle daemon and its children after start-up and one ``images`` call."""
    with _daemons(tmp) as (ours, theirs):
        assert ours.proc is not None
        run_command([DOCKYARD_CLI, "-H", ours.url, "images"])
        contenders = [_rss("dockyard", ours.proc.pid)]
        if isinstance(theirs, str):
            contenders.append(_failing("dockerd + containerd", theirs))
        else:
            run_command([DOCKER_20, "-H", theirs.host, "images"])
            contenders += [
                _rss("dockerd + containerd", theirs.proc.pid),
                _rss("dockerd alone", theirs.proc.pid, only="dockerd"),
            ]
        yield contenders


# ------------------------------------------------------------------ containers
@case("run --rm busybox true through the daemon")
def run_rm_true(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``<cli> run --rm --network none <busybox> true``: create, attach, start, wait, remove.

    Both daemons get the same busybox image (imported from Debian's busybox-static).
    """
    with _daemons(tmp) as (ours, theirs):
        rootfs = make_busybox_rootfs(tmp / "rootfs")
        archive = tmp / "rootfs.tar"
        subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."], check=True
        )
        image = f"{unique('bench')}:latest"
        run_command([DOCKYARD_CLI, "-H", ours.url, "import", str(archive), image], timeout=120)
        args = ("run", "--rm", "--network", "none", image, "true")
        contenders = [
            Contender("dockyard", lambda: run_command([DOCKYARD_CLI, "-H", ours.url, *args]))
        ]
        if isinstance(theirs, str):
            contenders.append(_failing("docker 20.10 -> dockerd 20.10", theirs))
        else:
            theirs.cli("import", str(archive), image)
            docker = [DOCKER_20, "-H", theirs.host, *args]
            contenders.append(
                Contender("docker 20.10 -> dockerd 20.10", lambda: run_command(docker))
            )
        yield contenders
