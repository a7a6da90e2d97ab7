"""Cases for builds: a 10-step Dockerfile, cold (``--no-cache``) and fully cached.

``dockyard build`` against dockyardd and Debian's docker 20.10 with its legacy builder
(``DOCKER_BUILDKIT=0``) against dockerd 20.10, both from the same busybox image.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.cases.daemon import DOCKER_20, DOCKYARD_CLI, _daemons, _failing, import_busybox
from bench.harness import Contender, Failed, case, run_command
from dockyard.testing.dockerd import Dockerd

DOCKERFILE = """FROM {image}
ENV APP=/app MODE=bench
WORKDIR /app
COPY . /app/
RUN echo "built in $MODE" > /app/built.txt
RUN mkdir -p /data && cp /app/a.txt /data/
RUN ls -l /app > /app/listing.txt
LABEL bench=yes
EXPOSE 8080
CMD ["cat", "/app/built.txt"]
"""


def _context(tmp: Path, image: str) -> Path:
    ctx = tmp / "context"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(image=image))
    for name in ("a.txt", "b.txt", "c.txt"):
        (ctx / name).write_text(name * 100)
    return ctx


def _docker_build(host: str, *args: str) -> None:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    res = subprocess.run(
        [DOCKER_20, "-H", host, "build", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )
    if res.returncode != 0:
        raise Failed(res.stderr.decode(errors="replace").strip().splitlines()[-1])


def _builds(tmp: Path, *flags: str) -> Iterator[Sequence[Contender]]:
    with _daemons(tmp) as (ours, theirs):
        image = import_busybox(tmp, ours, theirs)
        ctx = _context(tmp, image)
        ours_args = [DOCKYARD_CLI, "-H", ours.url, "build", "-q", "-t", "bench-build", *flags]
        run_command([*ours_args, str(ctx)], timeout=120)  # warm the cache for "cached"
        contenders = [
            Contender("dockyard", lambda: run_command([*ours_args, str(ctx)], timeout=120))
        ]
        if isinstance(theirs, str):
            contenders.append(_failing("docker 20.10 legacy builder", theirs))
        else:
            host = theirs.host
            args = ("-q", "-t", "bench-build", *flags, str(ctx))
            _docker_build(host, *args)
            contenders.append(
                Contender("docker 20.10 legacy builder", lambda: _docker_build(host, *args))
            )
        yield contenders
        if isinstance(theirs, Dockerd):
            theirs.cli("image", "prune", "-f", check=False)


@case("build 10 steps, cold (--no-cache)")
def build_cold(tmp: Path) -> Iterator[Sequence[Contender]]:
    """``build --no-cache`` of a 10-step Dockerfile (3 RUN, 1 COPY, 6 config steps)."""
    yield from _builds(tmp, "--no-cache")


@case("build 10 steps, fully cached")
def build_cached(tmp: Path) -> Iterator[Sequence[Contender]]:
    """The same build again: every step comes from the cache."""
    yield from _builds(tmp)
