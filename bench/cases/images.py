"""Cases for images: archives against ``docker save``/``docker load``, layer unpacking
against ``tar -xzf``, and preparing the root file system of deep images."""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bench.harness import Contender, Failed, case, run_command
from dockyard.images.archive import load, save
from dockyard.images.config import add_image, new_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.importing import import_rootfs
from dockyard.images.layers import register_layer
from dockyard.images.layertar.unpack import unpack
from dockyard.images.remove import remove_image
from dockyard.images.rootfs import (
    mount_container,
    prepare_container,
    remove_container,
    unmount_container,
)
from dockyard.store import LayerRecord
from dockyard.testing.dockerd import Dockerd, DockerdUnavailable, running
from dockyard.testing.names import unique
from dockyard.testing.rootfs import make_busybox_rootfs

MB = 1 << 20
UNPACK_MB = 500  # the size the target names; a round takes ~10 s on 2 cores


def _tar(src: Path, out: Path, *flags: str) -> Path:
    subprocess.run(
        [
            "tar",
            *flags,
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "-C",
            str(src),
            "-cf",
            str(out),
            ".",
        ],
        check=True,
    )
    return out


def _fill(dest: Path, megabytes: int) -> None:
    """Files of half random, half repeated bytes (gzip gets about 2:1), and small files."""
    data = dest / "data"
    data.mkdir(parents=True, exist_ok=True)
    for i in range(megabytes // 2):
        with open(data / f"blob-{i:04d}", "wb") as f:
            f.write(os.urandom(MB))
            f.write(bytes(range(256)) * (MB // 256))
    small = dest / "small"
    small.mkdir(exist_ok=True)
    for i in range(2000):
        (small / f"f{i:05d}").write_bytes(os.urandom(512))


def _docker_or_failed(tmp: Path) -> contextlib.AbstractContextManager[Dockerd | str]:
    @contextlib.contextmanager
    def start() -> Iterator[Dockerd | str]:
        try:
            with running() as daemon:
                yield daemon
        except DockerdUnavailable as e:
            yield f"dockerd unavailable: {str(e).splitlines()[0]}"

    return start()


def _failing(name: str, why: str) -> Contender:
    def run() -> None:
        raise Failed(why)

    return Contender(name, run)


@case("images save+load ~50 MB image")
def save_load(tmp: Path) -> Iterator[Sequence[Contender]]:
    """Save to a file, remove the image, load the file back: ours and docker 20.10."""
    rootfs = make_busybox_rootfs(tmp / "rootfs")
    (rootfs / "data").mkdir()
    with open(rootfs / "data/blob", "wb") as f:
        for _ in range(50):
            f.write(os.urandom(MB))
    image_tar = _tar(rootfs, tmp / "image.tar")
    name = f"{unique('bench')}:50mb"
    with ImageStore(tmp / unique("store")) as store, _docker_or_failed(tmp) as docker:
        with image_tar.open("rb") as rootfs_tar:
            import_rootfs(store, rootfs_tar, names=[name], changes=['CMD ["sh"]'])
        ours_file = tmp / "ours.tar"

        def ours() -> None:
            with ours_file.open("wb") as out:
                save(store, [name], out)
            remove_image(store, name)
            with ours_file.open("rb") as src:
                load(store, src)

        contenders = [Contender("dockyard", ours)]
        if isinstance(docker, str):
            contenders.append(_failing("docker", docker))
        else:
            daemon = docker
            daemon.cli("import", "--change", 'CMD ["sh"]', str(image_tar), name)
            theirs_file = tmp / "theirs.tar"

            def theirs() -> None:
                run_command(daemon.argv("save", "-o", str(theirs_file), name), timeout=120)
                run_command(daemon.argv("rmi", name), timeout=120)
                run_command(daemon.argv("load", "-q", "-i", str(theirs_file)), timeout=120)

            contenders.append(Contender("docker", theirs))
        yield contenders


@case(f"images unpack {UNPACK_MB} MB gzip layer")
def unpack_gzip(tmp: Path) -> Iterator[Sequence[Contender]]:
    """One gzip layer (half incompressible data, 2000 small files) into a new dir."""
    src = tmp / "src"
    _fill(src, UNPACK_MB)
    layer = _tar(src, tmp / "layer.tar.gz", "-z")
    shutil.rmtree(src)
    counter = itertools.count()

    def dest() -> Path:
        return tmp / f"{unique('unpack')}-{next(counter)}"

    def ours() -> None:
        with layer.open("rb") as f:
            unpack(f, dest(), "plain")

    def gnu_tar() -> None:
        target = dest()
        target.mkdir()
        run_command(["tar", "--numeric-owner", "-xzf", str(layer), "-C", str(target)], 120)

    yield [Contender("dockyard", ours), Contender("tar -xzf", gnu_tar)]


def _deep_image(store: ImageStore, depth: int, base: Sequence[LayerRecord]) -> list[LayerRecord]:
    layers = list(base)
    for i in range(len(layers), depth):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = f"layer {i}\n".encode()
            info = tarfile.TarInfo(f"layers/l{i:04d}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        buf.seek(0)
        layers.append(register_layer(store, layers[-1] if layers else None, buf))
    add_image(store, new_config([x.diff_id for x in layers]), layers, [f"deep:{depth}"])
    return layers


def _prepare(store: ImageStore, tmp: Path, image: str) -> Callable[[], None]:
    counter = itertools.count()
    target = tmp / unique("rootfs")
    target.mkdir()

    def run() -> None:
        cid = f"{unique('bench')}-{next(counter)}"
        prepare_container(store, cid, image)
        try:
            mount_container(store, cid, target)
            if not (target / "layers").is_dir():
                raise Failed("the rootfs lacks the image's files")
            unmount_container(target)
        finally:
            remove_container(store, cid)

    return run


@contextlib.contextmanager
def _deep_store(tmp: Path) -> Iterator[ImageStore]:
    with ImageStore(tmp / unique("store")) as store:
        yield store


@case("images prepare rootfs 100-layer")
def prepare_100(tmp: Path) -> Iterator[Sequence[Contender]]:
    """prepare_container + mount + unmount + remove, on a 100-layer image."""
    with _deep_store(tmp) as store:
        _deep_image(store, 100, [])
        yield [Contender("dockyard", _prepare(store, tmp, "deep:100"))]


@case("images prepare rootfs 1000-layer")
def prepare_1000(tmp: Path) -> Iterator[Sequence[Contender]]:
    """The same on a 1000-layer image (overlay stacks 500: a flattened cache below)."""
    with _deep_store(tmp) as store:
        _deep_image(store, 1000, [])
        yield [Contender("dockyard", _prepare(store, tmp, "deep:1000"))]
