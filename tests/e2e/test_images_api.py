"""The image endpoints end to end: the real docker CLI and docker-py against dockyardd."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker  # docker-py, a dev dependency
import pytest

from dockyard.images import archive
from dockyard.images.imagestore import ImageStore
from dockyard.testing.daemon import Daemon

BUSYBOX = "busybox:latest"


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=120)
    try:
        yield c
    finally:
        c.close()


def rootfs_tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def inspect(daemon: Daemon, name: str) -> dict[str, Any]:
    doc: list[dict[str, Any]] = json.loads(daemon.docker("image", "inspect", name).stdout)
    return doc[0]


# -- docker CLI ---------------------------------------------------------------------------


def test_the_builtin_busybox_is_there_at_startup(daemon: Daemon) -> None:
    out = daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert f"{BUSYBOX} " in out
    doc = inspect(daemon, BUSYBOX)
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["RepoTags"] == [BUSYBOX]
    history = lines(daemon.docker("history", "--no-trunc", "--format", "{{.ID}}", BUSYBOX).stdout)
    assert history == [doc["Id"], "<missing>"]
    pulled = daemon.docker("pull", "busybox").stdout
    assert "Image is up to date for busybox:latest" in pulled


def test_cli_save_rmi_load_keeps_the_id(daemon: Daemon, tmp_path: Path) -> None:
    image_id = inspect(daemon, BUSYBOX)["Id"]
    target = tmp_path / "busybox.tar"
    daemon.docker("tag", BUSYBOX, "localhost:5000/team/tool:v1")
    daemon.docker("save", "-o", str(target), BUSYBOX, "localhost:5000/team/tool:v1")
    with tarfile.open(target) as tar:
        assert "manifest.json" in tar.getnames()
    out = daemon.docker("rmi", BUSYBOX, "localhost:5000/team/tool:v1").stdout
    assert "Untagged: busybox:latest" in out
    assert f"Deleted: {image_id}" in out
    assert daemon.docker("images", "-q").stdout.strip() == ""
    loaded = lines(daemon.docker("load", "-i", str(target)).stdout)
    assert sorted(loaded) == [
        "Loaded image: busybox:latest",
        "Loaded image: localhost:5000/team/tool:v1",
    ]
    assert inspect(daemon, "localhost:5000/team/tool:v1")["Id"] == image_id
    assert inspect(daemon, BUSYBOX)["Id"] == image_id


def test_cli_errors_come_back_as_messages(daemon: Daemon, tmp_path: Path) -> None:
    res = daemon.docker("image", "inspect", "nope:v9", check=False)
    assert res.returncode != 0 and "no such image" in res.stderr.lower()
    res = daemon.docker("rmi", "nope:v9", check=False)
    assert res.returncode != 0 and "no such image" in res.stderr.lower()
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not an archive" * 1000)
    res = daemon.docker("load", "-i", str(garbage), check=False)
    assert res.returncode != 0 and "archive" in res.stderr
    res = daemon.docker("pull", "alpine", check=False)
    assert res.returncode != 0 and "not built yet" in res.stderr


def test_cli_import_tag_rmi_prune(daemon: Daemon, tmp_path: Path) -> None:
    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(rootfs_tar({"etc/motd": b"hello\n"}))
    image_id = daemon.docker(
        "import", "-c", 'CMD ["/bin/sh"]', "-c", "ENV A=1", "-m", "imported", str(rootfs), "mine:v1"
    ).stdout.strip()
    assert image_id.startswith("sha256:")
    doc = inspect(daemon, "mine:v1")
    assert doc["Id"] == image_id
    assert doc["Config"]["Cmd"] == ["/bin/sh"]
    assert "A=1" in doc["Config"]["Env"]
    assert doc["Comment"] == "imported"
    daemon.docker("tag", "mine:v1", "mine:v2")
    assert daemon.docker("rmi", "mine:v2").stdout.strip() == "Untagged: mine:v2"
    # the same rootfs again, untagged: dangling, so prune takes it and leaves mine:v1
    dangling = daemon.docker("import", str(rootfs)).stdout.strip()
    listed = daemon.docker("images", "-q", "--no-trunc", "--filter", "dangling=true").stdout
    assert lines(listed) == [dangling]
    pruned = daemon.docker("image", "prune", "-f").stdout
    assert f"deleted: {dangling}" in pruned
    assert inspect(daemon, "mine:v1")["Id"] == image_id
    res = daemon.docker("rmi", "mine:v1")
    assert f"Deleted: {image_id}" in res.stdout


# -- docker-py ----------------------------------------------------------------------------


def test_docker_py_list_get_tag_save_remove_load(daemon: Daemon, client: Any) -> None:
    tags = [t for image in client.images.list() for t in image.tags]
    assert BUSYBOX in tags
    image = client.images.get("busybox")
    assert image.tags == [BUSYBOX]
    assert image.attrs["Config"]["Cmd"] == ["sh"]
    assert image.history()[0]["Id"] == image.id
    assert image.tag("localhost:5000/py/box", "v1")
    assert client.images.get("localhost:5000/py/box:v1").id == image.id
    data = b"".join(image.save(named=True))
    client.images.remove("localhost:5000/py/box:v1")
    client.images.remove(BUSYBOX)
    assert client.images.list() == []
    [loaded] = client.images.load(data)
    assert loaded.id == image.id
    assert loaded.tags == [BUSYBOX]
    assert client.images.pull("busybox", tag="latest").id == image.id
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nope:v9")
    with pytest.raises(docker.errors.NotFound):
        client.images.pull("alpine", tag="latest")


def test_docker_py_list_filters_and_prune(daemon: Daemon, client: Any) -> None:
    api = client.api
    answer = api.import_image_from_data(rootfs_tar({"a": b"1"}), repository="labelled", tag="v1")
    assert "sha256:" in str(answer)
    assert [i.tags for i in client.images.list(name="labelled")] == [["labelled:v1"]]
    assert client.images.list(filters={"dangling": True}) == []
    api.import_image_from_data(rootfs_tar({"b": b"2"}))
    [dangling] = client.images.list(filters={"dangling": True})
    report = client.images.prune(filters={"dangling": True})
    assert {"Deleted": dangling.id} in report["ImagesDeleted"]
    assert report["SpaceReclaimed"] > 0


def test_a_save_loads_into_a_second_store_as_equal(
    daemon: Daemon, client: Any, tmp_path: Path
) -> None:
    image = client.images.get(BUSYBOX)
    data = b"".join(image.save(named=True))
    root = tmp_path / "second"
    with ImageStore(root, "vfs") as store:
        assert archive.load(store, io.BytesIO(data)) == [BUSYBOX]
        assert str(store.resolve(BUSYBOX)) == image.id
        again = io.BytesIO()
        archive.save(store, [BUSYBOX], again)
    assert again.getvalue() == data  # archives are reproducible: same images, same bytes
