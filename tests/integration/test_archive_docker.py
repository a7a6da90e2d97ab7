"""Image archives against the reference engine: docker save -> our load, our save ->
docker load, OCI layout round trips, multi-image archives, and broken archives."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.images.archive import load, save
from dockyard.images.base import ensure_base_image
from dockyard.images.config import load_config
from dockyard.images.imagestore import ImageStore
from dockyard.images.rootfs import (
    mount_container,
    prepare_container,
    remove_container,
    unmount_container,
)
from dockyard.testing.bundle import make_bundle
from dockyard.testing.dockerd import Dockerd
from dockyard.testing.names import unique
from dockyard.testing.rootfs import make_busybox_rootfs
from dockyard.testing.runtimes import Runtime

pytestmark = pytest.mark.requires("root")


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("dyt-busybox")
    rootfs = make_busybox_rootfs(base / "rootfs")
    out = base / "rootfs.tar"
    subprocess.run(
        [
            "tar",
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "-C",
            str(rootfs),
            "-cf",
            str(out),
            ".",
        ],
        check=True,
    )
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageStore]:
    with ImageStore(tmp_path / unique("store")) as s:
        yield s


def _docker_image(dockerd: Dockerd, busybox_tar: Path, name: str) -> None:
    dockerd.cli("import", "--change", 'CMD ["sh"]', str(busybox_tar), name)


def _state(store: ImageStore) -> tuple[object, ...]:
    images = sorted((str(i.id), i.names) for i in store.metadata.list_images())
    blobs = sorted(str(d) for d in store.content.digests())
    layers = sorted(str(x.chain_id) for x in store.metadata.list_layers())
    return images, blobs, layers, sorted(os.listdir(store.content.root / "ingest"))


def _run_in(store: ImageStore, tmp_path: Path, image: str, args: list[str]) -> str:
    """Run ``args`` in a container of ``image`` under dockyard-runtime; answer stdout."""
    cid = unique("ctr")
    target = tmp_path / unique("rootfs")
    target.mkdir()
    runtime = Runtime.named("dockyard", tmp_path / unique("state"))
    prepare_container(store, cid, image)
    mounted = False
    try:
        mount_container(store, cid, target)
        mounted = True
        bundle = make_bundle(tmp_path / unique("bundle"), target, args=args, cgroups_path=f"/{cid}")
        res = runtime.run(cid, bundle.path)
        assert res.returncode == 0, res.stderr
        return res.stdout
    finally:
        runtime.cleanup()
        if mounted:
            unmount_container(target)
        remove_container(store, cid)


def test_docker_save_then_our_load_runs(
    dockerd: Dockerd, busybox_tar: Path, store: ImageStore, tmp_path: Path
) -> None:
    name = f"{unique('busybox')}:1"
    _docker_image(dockerd, busybox_tar, name)
    try:
        archive = tmp_path / "docker-save.tar"
        dockerd.cli("save", "-o", str(archive), name)
        docker_id = dockerd.cli("image", "inspect", "-f", "{{.Id}}", name).stdout.decode().strip()
    finally:
        dockerd.cli("rmi", name)
    with archive.open("rb") as f:
        assert load(store, f) == [name]
    image = store.image(name)
    assert str(image.id) == docker_id  # config bytes kept exactly
    assert image.names == (f"docker.io/library/{name}",)
    assert load_config(store, image)["config"]["Cmd"] == ["sh"]
    assert _run_in(store, tmp_path, name, ["sh", "-c", "echo hello-$((6*7))"]) == "hello-42\n"


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_our_save_then_docker_load_runs(
    dockerd: Dockerd, store: ImageStore, tmp_path: Path, fmt: str
) -> None:
    image_id = ensure_base_image(store)
    name = f"{unique('base')}:{fmt}"
    store.metadata.tag(f"docker.io/library/{name}", store.image(image_id).id)
    archive = tmp_path / "ours.tar"
    with archive.open("wb") as f:
        save(store, [name], f, fmt)  # type: ignore[arg-type]
    out = dockerd.cli("load", "-i", str(archive)).stdout.decode()
    try:
        assert f"Loaded image: {name}" in out
        got = dockerd.cli("image", "inspect", "-f", "{{.Id}}", name).stdout.decode().strip()
        assert got == str(store.image(name).id)
        ran = dockerd.cli("run", "--rm", "--network", "none", name, "echo", "ok")
        assert ran.stdout == b"ok\n"
    finally:
        dockerd.cli("rmi", name, check=False)


def test_oci_round_trip_ours_to_ours(store: ImageStore, tmp_path: Path) -> None:
    image_id = ensure_base_image(store)
    buf = io.BytesIO()
    save(store, ["busybox:latest"], buf, "oci")
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        names = tar.getnames()
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
    assert "oci-layout" in names
    assert index["manifests"][0]["annotations"] == {
        "io.containerd.image.name": "docker.io/library/busybox:latest",
        "org.opencontainers.image.ref.name": "latest",
    }
    with ImageStore(tmp_path / unique("other")) as other:
        assert load(other, io.BytesIO(buf.getvalue())) == ["busybox:latest"]
        assert str(other.image("busybox").id) == image_id
        buf2 = io.BytesIO()
        save(other, ["busybox:latest"], buf2, "oci")
        assert buf2.getvalue() == buf.getvalue()  # the same image gives the same archive


@pytest.mark.requires("skopeo")
def test_oci_archive_from_skopeo(store: ImageStore, tmp_path: Path) -> None:
    """skopeo reads our oci-archive and writes one (gzip layers) that we load back."""
    ensure_base_image(store)
    ours = tmp_path / "ours.tar"
    with ours.open("wb") as f:
        save(store, ["busybox:latest"], f, "oci")
    theirs = tmp_path / "skopeo.tar"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "-q",
            "--dest-compress",
            f"oci-archive:{ours}:latest",
            f"oci-archive:{theirs}:dyt-skopeo:2",
        ],
        check=True,
        capture_output=True,
    )
    with ImageStore(tmp_path / unique("other")) as other, theirs.open("rb") as f:
        loaded = load(other, f)
        assert len(loaded) == 1
        image = other.image(loaded[0])
        assert (
            load_config(other, image)["rootfs"]
            == load_config(store, store.image("busybox"))["rootfs"]
        )
        assert _run_in(other, tmp_path, str(image.id), ["echo", "skopeo-ok"]) == "skopeo-ok\n"


def test_multi_image_archive_writes_shared_layers_once(
    dockerd: Dockerd, busybox_tar: Path, store: ImageStore, tmp_path: Path
) -> None:
    base = f"{unique('multi')}:base"
    child = f"{unique('multi')}:child"
    _docker_image(dockerd, busybox_tar, base)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base}\nRUN echo child > /child\n")
    try:
        subprocess.run(
            dockerd.argv("build", "-q", "-t", child, str(ctx)),
            env=dict(os.environ, DOCKER_BUILDKIT="0"),
            check=True,
            capture_output=True,
        )
        archive = tmp_path / "both.tar"
        dockerd.cli("save", "-o", str(archive), base, child)
    finally:
        dockerd.cli("rmi", child, base, check=False)
    with archive.open("rb") as f:
        assert sorted(load(store, f)) == sorted([base, child])
    assert store.image(child).layers[0] == store.image(base).layers[0]
    for fmt in ("docker", "oci"):
        buf = io.BytesIO()
        save(store, [base, child], buf, fmt)
        with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
            members = tar.getmembers()
        big = [m for m in members if m.isreg() and m.size > 1_000_000]
        assert len(big) == 1, [m.name for m in big]  # the busybox layer, once
        with ImageStore(tmp_path / unique(f"again-{fmt}")) as other:
            assert sorted(load(other, io.BytesIO(buf.getvalue()))) == sorted([base, child])
            assert _run_in(other, tmp_path, child, ["cat", "/child"]) == "child\n"


# -- broken archives ----------------------------------------------------------------


@pytest.fixture
def good_archive(store: ImageStore) -> bytes:
    ensure_base_image(store)
    buf = io.BytesIO()
    save(store, ["busybox:latest"], buf, "docker")
    return buf.getvalue()


def _rewrite(data: bytes, change: dict[str, bytes | None]) -> bytes:
    """The archive with some entries replaced (None: left out)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(data)) as src,
        tarfile.open(fileobj=out, mode="w") as dst,
    ):
        for m in src.getmembers():
            if m.name in change:
                new = change[m.name]
                if new is None:
                    continue
                m.size = len(new)
                dst.addfile(m, io.BytesIO(new))
            else:
                dst.addfile(m, src.extractfile(m) if m.isreg() else None)
    return out.getvalue()


def _layer_entry(data: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return next(n for n in tar.getnames() if n.endswith("layer.tar"))


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[ImageStore]:
    with ImageStore(tmp_path / unique("fresh")) as s:
        yield s


def _expect_refused(
    store: ImageStore,
    data: bytes,
    kind: type[Exception] | tuple[type[Exception], ...],
    text: str | None,
) -> None:
    before = _state(store)
    with pytest.raises(kind, match=text):
        load(store, io.BytesIO(data))
    assert _state(store) == before


def test_random_bytes_are_not_an_archive(fresh: ImageStore) -> None:
    _expect_refused(fresh, os.urandom(10_000), InvalidArgument, "not an image archive")


def test_truncated_archive(good_archive: bytes, fresh: ImageStore) -> None:
    cut = good_archive[: len(good_archive) // 2 + 100]
    _expect_refused(fresh, cut, (InvalidArgument, NotFound), None)


def test_manifest_naming_a_missing_layer(good_archive: bytes, fresh: ImageStore) -> None:
    data = _rewrite(good_archive, {_layer_entry(good_archive): None})
    _expect_refused(fresh, data, NotFound, "missing from the archive")


def test_layer_digest_mismatch(good_archive: bytes, fresh: ImageStore) -> None:
    entry = _layer_entry(good_archive)
    with tarfile.open(fileobj=io.BytesIO(good_archive)) as tar:
        layer = bytearray(tar.extractfile(entry).read())  # type: ignore[union-attr]
    layer[600] ^= 0xFF  # inside the first file's data
    data = _rewrite(good_archive, {entry: bytes(layer)})
    _expect_refused(fresh, data, InvalidArgument, "digest mismatch")


def test_oci_blob_digest_mismatch(store: ImageStore, fresh: ImageStore) -> None:
    ensure_base_image(store)
    buf = io.BytesIO()
    save(store, ["busybox:latest"], buf, "oci")
    with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
        big = max(tar.getmembers(), key=lambda m: m.size)
        blob = bytearray(tar.extractfile(big).read())  # type: ignore[union-attr]
    blob[700] ^= 0xFF
    data = _rewrite(buf.getvalue(), {big.name: bytes(blob)})
    _expect_refused(fresh, data, InvalidArgument, "digest mismatch")


def test_failed_load_leaves_a_used_store_unchanged(good_archive: bytes, store: ImageStore) -> None:
    """The store has the image already; a bad second image must not disturb it."""
    entry = _layer_entry(good_archive)
    data = _rewrite(good_archive, {entry: None})
    _expect_refused(store, data, NotFound, "missing")
    assert store.image("busybox:latest")
