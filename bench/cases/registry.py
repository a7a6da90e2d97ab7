"""Cases for registries: cold and warm pull and push of a ~50 MB image, the dockyard CLI
against dockyardd and docker 20.10 against a private dockerd 20.10, both talking to one
local registry (Debian's docker-registry, ``dockyard.testing.registry``).

The image is busybox plus a 50 MB file of random bytes, imported from one tar into both
daemons (one layer of ~52 MB that does not compress). Each run reports only the time of
its pull or push (unit "ms*"); what makes a run cold is done before the timer:

- cold pull: the image is removed locally (no layer of it is left) before each pull, and
  each contender pulls the same manifest (pushed once by docker during set-up);
- cold push: a fresh repository name for each push, and the blob links of the previous
  push's repository are deleted in the registry, so nothing can be mounted from there
  and every byte is uploaded;
- warm pull: the image is present (the pull checks the manifest and finds every layer);
- warm push: the same repository again (every blob is there already).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.cases.daemon import DOCKER_20, DOCKYARD_CLI, _daemons, _failing
from bench.harness import Contender, Failed, case, run_command
from dockyard.testing.daemon import Daemon
from dockyard.testing.dockerd import Dockerd
from dockyard.testing.names import unique
from dockyard.testing.registry import Registry
from dockyard.testing.rootfs import make_busybox_rootfs

MB = 1 << 20
SIZE_MB = 50
UNIT = "ms*"  # the pull or push alone (see the module doc)
TIMEOUT = 300.0
DOCKER = "docker 20.10 -> dockerd 20.10"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@contextlib.contextmanager
def _setup(tmp: Path) -> Iterator[tuple[Daemon, Dockerd | str, Registry, str]]:
    """The daemons, a registry and the 50 MB image (its local name) in both daemons."""
    rootfs = make_busybox_rootfs(tmp / "rootfs")
    (rootfs / "data").mkdir()
    with open(rootfs / "data" / "blob", "wb") as f:
        for _ in range(SIZE_MB):
            f.write(os.urandom(MB))
    archive = tmp / "image.tar"
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(archive), "."], check=True
    )
    image = f"{unique('bench')}:50mb"
    registry = Registry.start("none")
    try:
        with _daemons(tmp) as (ours, theirs):
            run_command([DOCKYARD_CLI, "-H", ours.url, "import", str(archive), image], TIMEOUT)
            if isinstance(theirs, Dockerd):
                theirs.cli("import", str(archive), image)
            yield ours, theirs, registry, image
    finally:
        registry.stop()


def _output(argv: Sequence[str]) -> str:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as e:
        raise Failed(str(e)) from e
    if res.returncode != 0:
        lines = res.stderr.strip().splitlines()
        raise Failed(f"exit {res.returncode}: {lines[-1] if lines else 'no message'}")
    return res.stdout


def _timed(argv: Sequence[str], expect: str = "", refuse: str = "") -> float:
    """Milliseconds of one command; Failed when its output lacks ``expect`` or has
    ``refuse`` (a run that was not as cold or warm as it should be)."""
    began = time.perf_counter()
    out = _output(argv)
    took = 1000 * (time.perf_counter() - began)
    if expect and expect not in out:
        raise Failed(f"{' '.join(argv[-2:])}: no {expect!r} in the output")
    if refuse and refuse in out:
        raise Failed(f"{' '.join(argv[-2:])}: {refuse!r} in the output")
    return took


def _unlink(registry: Registry, repo: str, tag: str) -> None:
    """Delete the repository's links to its manifest's blobs (the data stays), so that
    the next push cannot mount them from there."""
    base = f"http://{registry.domain}/v2/{repo}"
    request = urllib.request.Request(f"{base}/manifests/{tag}", headers={"Accept": MANIFEST})
    with urllib.request.urlopen(request, timeout=30) as r:
        doc = json.load(r)
    for digest in [doc["config"]["digest"], *(d["digest"] for d in doc["layers"])]:
        delete = urllib.request.Request(f"{base}/blobs/{digest}", method="DELETE")
        with urllib.request.urlopen(delete, timeout=30) as r:
            r.read()


def _clis(ours: Daemon, theirs: Dockerd | str) -> list[tuple[str, list[str] | str]]:
    """(contender name, CLI argv prefix or why it is unavailable)."""
    docker: list[str] | str = theirs if isinstance(theirs, str) else [DOCKER_20, "-H", theirs.host]
    return [("dockyard", [DOCKYARD_CLI, "-H", ours.url]), (DOCKER, docker)]


def _contenders(
    ours: Daemon, theirs: Dockerd | str, make: Callable[[str, list[str]], Callable[[], float]]
) -> list[Contender]:
    out = []
    for name, cli in _clis(ours, theirs):
        if isinstance(cli, str):
            out.append(_failing(name, cli))
        else:
            out.append(Contender(name, make(name.split()[0], cli)))
    return out


def _pull_source(registry: Registry, theirs: Dockerd | str, image: str) -> str:
    """The image pushed once by docker (or, without dockerd, by nobody: the pull fails)."""
    name = f"{registry.domain}/bench/pull:v1"
    if isinstance(theirs, Dockerd):
        theirs.cli("tag", image, name)
        theirs.cli("push", name, timeout=TIMEOUT)
        theirs.cli("rmi", image, name)  # nothing of it left in dockerd
    return name


@case("registry cold pull ~50 MB image", unit=UNIT)
def cold_pull(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``pull`` of an image that is not there locally (removed before each run)."""
    with _setup(tmp) as (ours, theirs, registry, image):
        name = _pull_source(registry, theirs, image)
        run_command([DOCKYARD_CLI, "-H", ours.url, "rmi", image], TIMEOUT)

        def make(_who: str, cli: list[str]) -> Callable[[], float]:
            def run() -> float:
                subprocess.run([*cli, "rmi", name], capture_output=True, check=False)
                return _timed([*cli, "pull", name], "Pull complete", "Already exists")

            return run

        yield _contenders(ours, theirs, make)


@case("registry warm pull ~50 MB image", unit=UNIT)
def warm_pull(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``pull`` of an image that is there already (the manifest is checked)."""
    with _setup(tmp) as (ours, theirs, registry, image):
        name = _pull_source(registry, theirs, image)

        def make(_who: str, cli: list[str]) -> Callable[[], float]:
            run_command([*cli, "pull", name], TIMEOUT)

            def run() -> float:
                return _timed([*cli, "pull", name], "Image is up to date")

            return run

        yield _contenders(ours, theirs, make)


@case("registry cold push ~50 MB image", unit=UNIT)
def cold_push(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``push`` to a fresh repository whose blobs cannot be mounted from anywhere."""
    with _setup(tmp) as (ours, theirs, registry, image):
        counter = itertools.count()

        def make(who: str, cli: list[str]) -> Callable[[], float]:
            def run() -> float:
                repo = f"bench/cold-{who}-{next(counter)}"
                name = f"{registry.domain}/{repo}:v1"
                run_command([*cli, "tag", image, name], TIMEOUT)
                try:
                    return _timed([*cli, "push", name], "Pushed", "Mounted from")
                finally:
                    _unlink(registry, repo, "v1")
                    run_command([*cli, "rmi", name], TIMEOUT)

            return run

        yield _contenders(ours, theirs, make)


@case("registry warm push ~50 MB image", unit=UNIT)
def warm_push(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``push`` of a tag the repository has already (every blob exists there)."""
    with _setup(tmp) as (ours, theirs, registry, image):

        def make(who: str, cli: list[str]) -> Callable[[], float]:
            name = f"{registry.domain}/bench/warm-{who}:v1"
            run_command([*cli, "tag", image, name], TIMEOUT)
            run_command([*cli, "push", name], TIMEOUT)

            def run() -> float:
                return _timed([*cli, "push", name], "Layer already exists", "Pushed")

            return run

        yield _contenders(ours, theirs, make)
