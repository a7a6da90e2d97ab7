"""A container's files end to end: ``cp`` (both ways, docker's destination rules, no
escape through the container's symlinks), ``diff``, ``export`` and ``commit`` with the
real docker CLI, docker-py and the dockyard CLI against a private dockyardd."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker  # docker-py, a dev dependency
import docker.errors
import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"


@pytest.fixture
def ctr(daemon: Daemon) -> Iterator[str]:
    """A running busybox container (removed at the end)."""
    name = unique()
    daemon.docker("run", "-d", "--name", name, BUSYBOX, "sleep", "600")
    try:
        yield name
    finally:
        daemon.docker("rm", "-f", name, check=False, timeout=30)


@pytest.fixture
def stopped(daemon: Daemon) -> Iterator[str]:
    """A created, never started busybox container."""
    name = unique()
    daemon.docker("create", "--name", name, BUSYBOX, "echo", "x")
    try:
        yield name
    finally:
        daemon.docker("rm", "-f", name, check=False, timeout=30)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        yield c
    finally:
        c.close()


def sh(daemon: Daemon, name: str, script: str) -> str:
    return daemon.docker("exec", name, "sh", "-c", script).stdout


def dockyard(daemon: Daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return daemon.dockyard(*args, check=check, timeout=60)


def tree(root: Path) -> dict[str, str]:
    """Relative path -> file content ("<dir>" for directories)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "<dir>" if path.is_dir() else path.read_text()
    return out


@pytest.fixture
def src(tmp_path: Path) -> Path:
    d = tmp_path / "src"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("A\n")
    (d / "sub" / "b.txt").write_text("B\n")
    return d


# -- docker cp, host -> container ----------------------------------------------------------


@pytest.mark.parametrize("tool", ["docker", "dockyard"])
def test_cp_into_a_running_container(
    daemon: Daemon, ctr: str, src: Path, tool: str, tmp_path: Path
) -> None:
    run = daemon.docker if tool == "docker" else lambda *a: dockyard(daemon, *a)
    sh(daemon, ctr, "mkdir /existing")
    run("cp", str(src / "a.txt"), f"{ctr}:/tmp/")  # a file into a dir
    run("cp", str(src / "a.txt"), f"{ctr}:/renamed.txt")  # a file to a new name
    run("cp", str(src), f"{ctr}:/newdir")  # a dir to a new name
    run("cp", str(src), f"{ctr}:/existing")  # a dir into an existing dir
    run("cp", f"{src}/.", f"{ctr}:/contents")  # the dir's contents, to a new dir
    out = sh(
        daemon,
        ctr,
        "cat /tmp/a.txt /renamed.txt /newdir/sub/b.txt /existing/src/a.txt "
        "/contents/a.txt /contents/sub/b.txt; ls /existing",
    )
    assert out.split() == ["A", "A", "B", "A", "A", "B", "src"]


def test_cp_into_a_stopped_container_then_start(daemon: Daemon, stopped: str, src: Path) -> None:
    daemon.docker("cp", str(src / "a.txt"), f"{stopped}:/etc/a.txt")
    run = daemon.docker("start", "-a", stopped)
    assert run.stdout == "x\n"
    assert daemon.docker("cp", f"{stopped}:/etc/a.txt", "-").stdout.count("A\n") == 1


def test_cp_errors_are_docker_s(daemon: Daemon, ctr: str, src: Path, tmp_path: Path) -> None:
    res = daemon.docker("cp", f"{ctr}:/no/such", str(tmp_path / "x"), check=False)
    assert res.returncode == 1
    assert f"Could not find the file /no/such in container {ctr}" in res.stderr
    res = daemon.docker("cp", str(src), f"{ctr}:/etc/passwd", check=False)
    assert res.returncode == 1
    assert "cannot copy directory" in res.stderr
    res = dockyard(daemon, "cp", f"{ctr}:/no/such", str(tmp_path / "x"), check=False)
    assert res.returncode == 1
    assert f"Could not find the file /no/such in container {ctr}" in res.stderr


# -- docker cp, container -> host ----------------------------------------------------------


@pytest.mark.parametrize("tool", ["docker", "dockyard"])
def test_cp_out_of_a_container(daemon: Daemon, ctr: str, tool: str, tmp_path: Path) -> None:
    run = daemon.docker if tool == "docker" else lambda *a: dockyard(daemon, *a)
    sh(daemon, ctr, "mkdir -p /d/sub && echo a > /d/a.txt && echo b > /d/sub/b.txt")
    (tmp_path / "into").mkdir()
    run("cp", f"{ctr}:/d", str(tmp_path / "copy"))  # a dir to a new name
    run("cp", f"{ctr}:/d", str(tmp_path / "into"))  # a dir into an existing dir
    run("cp", f"{ctr}:/d/.", str(tmp_path / "contents"))  # its contents
    run("cp", f"{ctr}:/d/a.txt", str(tmp_path / "into") + "/")  # a file into a dir
    run("cp", f"{ctr}:/d/a.txt", str(tmp_path / "file.txt"))  # a file to a new name
    expected = {"a.txt": "a\n", "sub": "<dir>", "sub/b.txt": "b\n"}
    assert tree(tmp_path / "copy") == expected
    assert tree(tmp_path / "contents") == expected
    assert tree(tmp_path / "into") == {
        "a.txt": "a\n",
        **{f"d/{k}": v for k, v in expected.items()},
        "d": "<dir>",
    }
    assert (tmp_path / "file.txt").read_text() == "a\n"


def test_cp_to_stdout_is_a_tar(daemon: Daemon, ctr: str) -> None:
    proc = subprocess.run(
        ["docker", "-H", daemon.url, "cp", f"{ctr}:/etc", "-"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        names = tar.getnames()
    assert "etc" in names and "etc/passwd" in names


# -- symlinks in the container never lead out of it ------------------------------------------


@pytest.mark.parametrize("link", ["/", "../../..", "/../../../.."])
def test_cp_through_container_symlinks_stays_inside(
    daemon: Daemon, ctr: str, tmp_path: Path, link: str
) -> None:
    host = tmp_path / "host-secret"
    host.write_text("host\n")
    inside = str(tmp_path).lstrip("/")
    sh(daemon, ctr, f"mkdir -p /x/y && ln -s {link} /x/y/escape")
    sh(daemon, ctr, f"mkdir -p /{inside} && echo container > /{inside}/host-secret")
    # reading through the link gets the container's file of that name, not the host's
    out = daemon.docker("cp", f"{ctr}:/x/y/escape/{inside}/host-secret", "-").stdout
    assert "container" in out and "host\n" not in out
    # writing through it lands in the container; the host file stays as it was
    payload = tmp_path / "payload"
    payload.mkdir()
    (payload / "host-secret").write_text("overwritten\n")
    daemon.docker("cp", f"{payload}/.", f"{ctr}:/x/y/escape/{inside}")
    assert host.read_text() == "host\n"
    assert sh(daemon, ctr, f"cat /{inside}/host-secret") == "overwritten\n"


def test_cp_symlink_destination_resolves_in_the_container(
    daemon: Daemon, ctr: str, src: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    sh(daemon, ctr, f"mkdir -p /real && ln -s {target} /link-to-host-path")
    # the link names a host path; in the container that path does not exist: refused
    res = daemon.docker("cp", str(src / "a.txt"), f"{ctr}:/link-to-host-path/", check=False)
    assert res.returncode != 0
    assert list(target.iterdir()) == []
    sh(daemon, ctr, "ln -s /real /link-to-real")
    daemon.docker("cp", str(src / "a.txt"), f"{ctr}:/link-to-real/")
    assert sh(daemon, ctr, "cat /real/a.txt") == "A\n"


def test_cp_into_a_bind_mount_of_a_running_container(
    daemon: Daemon, src: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    name = unique()
    daemon.docker("run", "-d", "--name", name, "-v", f"{shared}:/data", BUSYBOX, "sleep", "600")
    try:
        daemon.docker("cp", str(src / "a.txt"), f"{name}:/data/")
        assert (shared / "a.txt").read_text() == "A\n"
    finally:
        daemon.docker("rm", "-f", name, check=False, timeout=30)


# -- diff, export, commit ------------------------------------------------------------------


def test_diff_lists_what_docker_lists(daemon: Daemon, ctr: str) -> None:
    sh(daemon, ctr, "touch /new && rm /bin/vi && echo x >> /etc/passwd")
    expected = ["C /bin", "D /bin/vi", "C /etc", "C /etc/passwd", "A /new"]
    assert daemon.docker("diff", ctr).stdout.splitlines() == expected
    assert dockyard(daemon, "diff", ctr).stdout.splitlines() == expected


def test_export_holds_busybox_s_files(daemon: Daemon, stopped: str, tmp_path: Path) -> None:
    out = subprocess.run(
        f"docker -H {daemon.url} export {stopped} | tar t",
        shell=True,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    names = out.stdout.splitlines()
    assert "bin/busybox" in names and "bin/sh" in names
    dockyard(daemon, "export", "-o", str(tmp_path / "c.tar"), stopped)
    with tarfile.open(tmp_path / "c.tar") as tar:
        assert "bin/busybox" in tar.getnames()


def test_commit_with_a_change_runs(daemon: Daemon, ctr: str) -> None:
    repo = f"{unique()}:v1"
    sh(daemon, ctr, "echo committed > /stamp")
    daemon.docker("commit", "-c", 'CMD ["echo","hi"]', ctr, repo)
    try:
        assert daemon.docker("run", "--rm", repo).stdout == "hi\n"
        assert daemon.docker("run", "--rm", repo, "cat", "/stamp").stdout == "committed\n"
        # the container keeps running (it was paused for the commit only)
        state = daemon.docker("inspect", "-f", "{{.State.Status}}", ctr).stdout.strip()
        assert state == "running"
    finally:
        daemon.docker("rmi", repo, check=False)


def test_dockyard_commit_with_message(daemon: Daemon, ctr: str) -> None:
    repo = f"{unique()}:v2"
    image_id = dockyard(daemon, "commit", "-m", "a note", "-a", "me", ctr, repo).stdout.strip()
    try:
        assert image_id.startswith("sha256:")
        inspected = daemon.docker("inspect", "-f", "{{.Comment}}|{{.Author}}", repo).stdout
        assert inspected.strip() == "a note|me"
    finally:
        daemon.docker("rmi", repo, check=False)


# -- docker-py ------------------------------------------------------------------------------


def test_docker_py_files(client: Any, daemon: Daemon, ctr: str) -> None:
    container = client.containers.get(ctr)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"hello\n"
        info = tarfile.TarInfo("greeting.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert container.put_archive("/tmp", buf.getvalue()) is True
    chunks, stat = container.get_archive("/tmp/greeting.txt")
    assert stat["name"] == "greeting.txt" and stat["size"] == 6
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as got:
        member = got.extractfile("greeting.txt")
        assert member is not None and member.read() == b"hello\n"
    assert {"Path": "/tmp/greeting.txt", "Kind": 1} in container.diff()
    assert b"bin/busybox" in b"".join(container.export())
    image = container.commit(
        repository=unique(), tag="py", conf={"Cmd": ["cat", "/tmp/greeting.txt"]}
    )
    try:
        assert client.containers.run(image.id, remove=True) == b"hello\n"
    finally:
        client.images.remove(image.id, force=True)
    with pytest.raises(docker.errors.NotFound):
        container.get_archive("/nope")


def test_export_of_a_running_container_leaves_its_mounts_out(daemon: Daemon, ctr: str) -> None:
    sh(daemon, ctr, "echo here > /made-at-runtime")
    out = subprocess.run(
        f"docker -H {daemon.url} export {ctr} | tar t",
        shell=True,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    names = out.stdout.splitlines()
    assert "made-at-runtime" in names and "bin/busybox" in names
    inside_mounts = [n for n in names if n.startswith(("proc/", "sys/"))]
    assert inside_mounts in ([], ["proc/", "sys/"], ["sys/"], ["proc/"])  # the dirs alone


def test_cp_archive_mode_owns_files_by_the_container_user(
    daemon: Daemon, src: Path, tmp_path: Path
) -> None:
    name = unique()
    daemon.docker("run", "-d", "--name", name, "--user", "nobody", BUSYBOX, "sleep", "600")
    try:
        daemon.docker("cp", "-a", str(src / "a.txt"), f"{name}:/tmp/owned.txt")
        daemon.docker("cp", str(src / "a.txt"), f"{name}:/tmp/plain.txt")
        out = sh(daemon, name, "stat -c %u /tmp/owned.txt /tmp/plain.txt").split()
        assert out == ["65534", str(os.getuid())]
    finally:
        daemon.docker("rm", "-f", name, check=False, timeout=30)


def test_file_operations_emit_docker_s_events(daemon: Daemon, ctr: str, src: Path) -> None:
    since = str(int(time.time()) - 1)
    daemon.docker("cp", str(src / "a.txt"), f"{ctr}:/tmp/")
    daemon.docker("cp", f"{ctr}:/tmp/a.txt", "-")
    subprocess.run(
        f"docker -H {daemon.url} export {ctr} > /dev/null", shell=True, check=True, timeout=60
    )
    repo = f"{unique()}:ev"
    daemon.docker("commit", ctr, repo)
    try:
        until = str(int(time.time()) + 1)
        out = daemon.docker(
            "events", "--since", since, "--until", until,
            "--filter", f"container={ctr}", "--format", "{{.Action}}",
        ).stdout.split()  # fmt: skip
        for action in ("extract-to-dir", "archive-path", "export", "commit"):
            assert action in out
    finally:
        daemon.docker("rmi", repo, check=False)


def test_cp_with_a_stopped_container_s_mounts(daemon: Daemon, src: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "old.txt").write_text("old\n")
    name, readonly = unique(), unique()
    daemon.docker("create", "--name", name, "-v", f"{shared}:/data", BUSYBOX, "cat", "/data/a.txt")
    daemon.docker("create", "--name", readonly, "--read-only", BUSYBOX, "true")
    try:
        assert "old\n" in daemon.docker("cp", f"{name}:/data/old.txt", "-").stdout
        daemon.docker("cp", str(src / "a.txt"), f"{name}:/data/")
        assert (shared / "a.txt").read_text() == "A\n"
        assert daemon.docker("start", "-a", name).stdout == "A\n"
        res = daemon.docker("cp", str(src / "a.txt"), f"{readonly}:/tmp/", check=False)
        assert res.returncode == 1 and "container rootfs is marked read-only" in res.stderr
    finally:
        daemon.docker("rm", "-f", name, readonly, check=False, timeout=30)
