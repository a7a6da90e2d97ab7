"""Volumes and container mounts end to end: the real docker CLI and docker-py against a
private dockyardd (named and anonymous volumes, copy-up, read-only, tmpfs, local driver
options, references, prune, ``system df``)."""

from __future__ import annotations

import json
import os
import re
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


def vname() -> str:
    return unique().replace("-", "_")


def mounted(path: Path) -> bool:
    """Whether something is mounted on ``path`` (``os.path.ismount`` misses a bind of a
    directory of the same file system)."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == os.path.realpath(path) for line in f)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def volume_names(daemon: Daemon, *args: str) -> list[str]:
    return lines(daemon.docker("volume", "ls", "-q", *args).stdout)


def mounts_in(daemon: Daemon, *run_args: str) -> dict[str, str]:
    """/proc/mounts of a container: mount point -> file system type."""
    out = daemon.docker("run", "--rm", *run_args, BUSYBOX, "cat", "/proc/mounts").stdout
    return {f[1]: f[2] for f in (line.split() for line in lines(out))}


def test_volume_create_ls_inspect_rm(daemon: Daemon) -> None:
    name = vname()
    assert daemon.docker("volume", "create", "--label", "team=web", name).stdout == name + "\n"
    anon = daemon.docker("volume", "create").stdout.strip()
    assert re.fullmatch("[0-9a-f]{64}", anon)
    table = lines(daemon.docker("volume", "ls").stdout)
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert sorted(line.split()[1] for line in table[1:]) == sorted([name, anon])
    assert volume_names(daemon, "--filter", "label=team=web") == [name]
    assert volume_names(daemon, "--filter", "label=com.docker.volume.anonymous") == [anon]
    assert volume_names(daemon, "--filter", f"name={name[:8]}") == [name]
    (doc,) = json.loads(daemon.docker("volume", "inspect", name).stdout)
    assert doc["Name"] == name and doc["Driver"] == "local" and doc["Scope"] == "local"
    assert doc["Labels"] == {"team": "web"}
    assert doc["Mountpoint"] == str(daemon.data_root / "volumes" / name / "_data")
    assert os.path.isdir(doc["Mountpoint"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["CreatedAt"])
    fmt = daemon.docker("volume", "inspect", "--format", "{{.Driver}}/{{.Name}}", name).stdout
    assert fmt == f"local/{name}\n"
    assert daemon.docker("volume", "rm", name, anon).stdout.split() == [name, anon]
    assert volume_names(daemon) == []
    assert not (daemon.data_root / "volumes" / name).exists()
    missing = daemon.docker("volume", "rm", name, check=False)
    assert missing.returncode == 1 and f"get {name}: no such volume" in missing.stderr
    assert daemon.docker("volume", "rm", "-f", name).returncode == 0  # force: no error


def test_bad_volume_names_and_options(daemon: Daemon) -> None:
    short = daemon.docker("volume", "create", "x", check=False)
    assert short.returncode == 1
    assert "create x: volume name is too short" in short.stderr
    slash = daemon.docker("volume", "create", "a/b", check=False)
    assert "includes invalid characters for a local volume name" in slash.stderr
    opt = daemon.docker("volume", "create", "-o", "colour=red", vname(), check=False)
    assert opt.returncode == 1 and 'invalid option: "colour"' in opt.stderr
    run = daemon.docker("run", "--rm", "-v", "bad/name:/d", BUSYBOX, "true", check=False)
    assert run.returncode == 125 and "includes invalid characters" in run.stderr
    # a create that fails half way removes the anonymous volume it had made
    create = daemon.docker("create", "--mount", "type=volume,dst=/m", "--mount",
                           "type=volume,src=bad/name,dst=/n", BUSYBOX, check=False)  # fmt: skip
    assert create.returncode != 0 and "includes invalid characters" in create.stderr
    assert volume_names(daemon) == []
    dup = daemon.docker("create", "-v", "/d", "-v", f"{vname()}:/d", BUSYBOX, check=False)
    assert dup.returncode == 0  # the bind wins over the anonymous volume, as with dockerd
    dup = daemon.docker("create", "-v", "/h:/d", "-v", f"{vname()}:/d", BUSYBOX, check=False)
    assert "Duplicate mount point: /d" in dup.stderr


def test_named_volume_is_shared_and_ro_refuses_writes(daemon: Daemon) -> None:
    name, writer = vname(), unique()
    daemon.docker("run", "--name", writer, "-v", f"{name}:/data", BUSYBOX,
                  "sh", "-c", "echo hello > /data/greeting")  # fmt: skip
    seen = daemon.docker("run", "--rm", "-v", f"{name}:/srv", BUSYBOX, "cat", "/srv/greeting")
    assert seen.stdout == "hello\n"
    ro = daemon.docker("run", "--rm", "-v", f"{name}:/srv:ro", BUSYBOX,
                       "sh", "-c", "cat /srv/greeting; echo x > /srv/new", check=False)  # fmt: skip
    assert ro.returncode != 0 and ro.stdout == "hello\n"
    assert "Read-only file system" in ro.stderr
    (mount,) = json.loads(daemon.docker("inspect", "--format", "{{json .Mounts}}", writer).stdout)
    source = str(daemon.data_root / "volumes" / name / "_data")
    assert mount == {
        "Type": "volume", "Name": name, "Source": source,
        "Destination": "/data", "Driver": "local", "Mode": "z", "RW": True, "Propagation": "",
    }  # fmt: skip
    filtered = daemon.docker("ps", "-aq", "--no-trunc", "--filter", f"volume={name}").stdout
    writer_id = daemon.docker("inspect", "--format", "{{.Id}}", writer).stdout.strip()
    assert filtered.split() == [writer_id]
    assert daemon.docker("ps", "-aq", "--filter", "volume=/data").stdout.split() == [writer_id[:12]]
    assert volume_names(daemon, "--filter", "dangling=false") == [name]
    in_use = daemon.docker("volume", "rm", "-f", name, check=False)
    assert in_use.returncode == 1
    assert f"remove {name}: volume is in use - [{writer_id}]" in in_use.stderr
    daemon.docker("rm", "-v", writer)  # -v removes anonymous volumes only
    assert volume_names(daemon, "--filter", "dangling=true") == [name]
    daemon.docker("volume", "rm", name)


def test_anonymous_volumes_go_with_rm_v_and_rm(daemon: Daemon) -> None:
    keep, c1 = vname(), unique()
    daemon.docker("create", "--name", c1, "-v", "/data", "-v", f"{keep}:/keep", BUSYBOX)
    mounts = json.loads(daemon.docker("inspect", "--format", "{{json .Mounts}}", c1).stdout)
    anon = next(m for m in mounts if m["Destination"] == "/data")
    assert re.fullmatch("[0-9a-f]{64}", anon["Name"])
    assert (anon["Type"], anon["Driver"], anon["RW"], anon["Mode"]) == ("volume", "local", True, "")
    (doc,) = json.loads(daemon.docker("volume", "inspect", anon["Name"]).stdout)
    assert doc["Labels"] == {"com.docker.volume.anonymous": ""}
    daemon.docker("rm", "-v", c1)
    assert volume_names(daemon) == [keep]
    # --rm removes the anonymous volume of a container that exits; --mount without a
    # source is anonymous too
    daemon.docker("run", "--rm", "-v", "/scratch", "--mount", "type=volume,dst=/m", BUSYBOX,
                  "touch", "/scratch/f", "/m/g")  # fmt: skip
    assert volume_names(daemon) == [keep]
    daemon.docker("volume", "rm", keep)


def test_copy_up_fills_an_empty_volume_with_the_image_files(daemon: Daemon) -> None:
    name, bare = vname(), vname()
    listing = daemon.docker("run", "--rm", "-v", f"{name}:/etc", BUSYBOX, "ls", "/etc").stdout
    assert {"passwd", "group"} <= set(listing.split())
    data = daemon.data_root / "volumes" / name / "_data"
    assert "root:x:0:0" in (data / "passwd").read_text()
    # a volume that is not empty is left alone
    (data / "passwd").write_text("mine\n")
    again = daemon.docker("run", "--rm", "-v", f"{name}:/etc", BUSYBOX, "cat", "/etc/passwd")
    assert again.stdout == "mine\n"
    # nocopy: the volume stays empty
    empty = daemon.docker("run", "--rm", "-v", f"{bare}:/etc:nocopy", BUSYBOX, "ls", "-A", "/etc")
    assert empty.stdout == ""
    # an image VOLUME is an anonymous volume with the image's files
    image = f"dyt-vol-{unique().lower()}"
    daemon.docker("commit", "--change", "VOLUME /etc", unique_container(daemon), image)
    out = daemon.docker("run", "--rm", image, "cat", "/etc/group").stdout
    assert "root:x:0:" in out
    daemon.docker("volume", "rm", name, bare)
    daemon.docker("rmi", image)


def unique_container(daemon: Daemon) -> str:
    name = unique()
    daemon.docker("create", "--name", name, BUSYBOX)
    return name


def test_tmpfs_mounts(daemon: Daemon) -> None:
    got = mounts_in(daemon, "--mount", "type=tmpfs,dst=/t1,tmpfs-size=1m", "--tmpfs", "/t2:size=2m")
    assert got["/t1"] == "tmpfs" and got["/t2"] == "tmpfs"
    out = daemon.docker("run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-mode=1770", BUSYBOX,
                        "stat", "-c", "%a", "/t").stdout  # fmt: skip
    assert out == "1770\n"
    noexec = daemon.docker("run", "--rm", "--tmpfs", "/x", BUSYBOX, "grep", " /x ", "/proc/mounts")
    assert "noexec" in noexec.stdout and "nosuid" in noexec.stdout
    missing = daemon.docker("run", "--rm", "--mount", "type=bind,src=/nonexistent-dyt,dst=/x",
                            BUSYBOX, "true", check=False)  # fmt: skip
    assert missing.returncode == 125
    assert "bind source path does not exist: /nonexistent-dyt" in missing.stderr


def test_local_driver_tmpfs_volume_mounts_while_in_use(daemon: Daemon) -> None:
    name = vname()
    daemon.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs",
                  "-o", "o=size=4m", name)  # fmt: skip
    data = daemon.data_root / "volumes" / name / "_data"
    assert mounts_in(daemon, "-v", f"{name}:/cache")["/cache"] == "tmpfs"
    assert not mounted(data)  # the last user stopped: unmounted
    c1 = unique()
    failed = daemon.docker("run", "--name", c1, "-v", f"{name}:/cache", BUSYBOX, "/no/such/cmd",
                           check=False)  # fmt: skip
    assert failed.returncode != 0 and "/no/such/cmd" in failed.stderr
    assert not mounted(data)  # a failed start leaves nothing mounted
    daemon.docker("rm", c1)
    (doc,) = json.loads(daemon.docker("volume", "inspect", name).stdout)
    assert doc["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=4m"}
    daemon.docker("volume", "rm", name)


def test_volume_events(daemon: Daemon) -> None:
    name, c1 = vname(), unique()
    since = str(int(time.time()) - 1)
    daemon.docker("run", "--name", c1, "-v", f"{name}:/d", BUSYBOX, "true")
    daemon.docker("rm", c1)
    daemon.docker("volume", "rm", name)
    until = str(int(time.time()) + 1)
    out = daemon.docker(
        "events",
        "--since",
        since,
        "--until",
        until,
        "--filter",
        "type=volume",
        "--format",
        "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.container}}",
    )
    actions = [line.split()[:2] for line in lines(out.stdout)]  # fmt: skip
    assert actions == [["create", name], ["mount", name], ["unmount", name], ["destroy", name]]


def test_local_driver_bind_volume_keeps_the_host_files(daemon: Daemon, tmp_path: Path) -> None:
    name, host_dir = vname(), tmp_path / "shared"
    host_dir.mkdir()
    (host_dir / "kept").write_text("host file\n")
    daemon.docker("volume", "create", "-o", "type=none", "-o", "o=bind",
                  "-o", f"device={host_dir}", name)  # fmt: skip
    out = daemon.docker("run", "--rm", "-v", f"{name}:/d", BUSYBOX,
                        "sh", "-c", "cat /d/kept; echo new > /d/made")  # fmt: skip
    assert out.stdout == "host file\n"
    assert (host_dir / "made").read_text() == "new\n"
    data = daemon.data_root / "volumes" / name / "_data"
    assert not mounted(data)
    daemon.docker("volume", "rm", name)
    assert sorted(p.name for p in host_dir.iterdir()) == ["kept", "made"]
    bad = daemon.docker("volume", "create", "-o", "type=none", "-o", "o=bind",
                        "-o", f"device={tmp_path / 'missing'}", vname())  # fmt: skip
    c1 = unique()
    failed = daemon.docker("run", "--name", c1, "-v", f"{bad.stdout.strip()}:/d", BUSYBOX, "true",
                           check=False)  # fmt: skip
    assert failed.returncode != 0 and "failed to mount local volume" in failed.stderr
    daemon.docker("rm", c1)


def test_prune_and_system_df(daemon: Daemon) -> None:
    named, used, c1 = vname(), vname(), unique()
    daemon.docker("volume", "create", named)
    anon = daemon.docker("volume", "create").stdout.strip()
    daemon.docker("create", "--name", c1, "-v", f"{used}:/u", BUSYBOX)
    daemon.docker("run", "--rm", "-v", f"{named}:/n", BUSYBOX, "sh", "-c",
                  "head -c 3000 /dev/zero > /n/f")  # fmt: skip
    df = daemon.docker("system", "df", "-v", "--format", "{{json .Volumes}}").stdout
    usage = {v["Name"]: v for v in json.loads(df)}
    assert usage[named]["Size"] == "3kB" and usage[named]["Links"] == "0"
    assert usage[used]["Links"] == "1"
    pruned = daemon.docker("volume", "prune", "-f").stdout
    assert pruned.startswith(f"Deleted Volumes:\n{anon}\n")
    assert sorted(volume_names(daemon)) == sorted([named, used])
    pruned = daemon.docker("volume", "prune", "-af").stdout
    assert named in pruned and used not in pruned and "Total reclaimed space: 3kB" in pruned
    assert volume_names(daemon) == [used]
    daemon.docker("rm", c1)
    daemon.docker("volume", "rm", used)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        yield c
    finally:
        c.close()


def test_docker_py_volumes(client: Any, daemon: Daemon) -> None:
    name = vname()
    vol = client.volumes.create(name=name, driver="local", labels={"k": "v"})
    assert vol.name == name and vol.attrs["Labels"] == {"k": "v"}
    assert [v.name for v in client.volumes.list(filters={"label": "k=v"})] == [name]
    assert client.volumes.get(name).attrs["Mountpoint"].endswith(f"/volumes/{name}/_data")
    out = client.containers.run(
        BUSYBOX, ["sh", "-c", "echo 42 > /v/answer; cat /v/answer"],
        volumes={name: {"bind": "/v", "mode": "rw"}}, remove=True,
    )  # fmt: skip
    assert out == b"42\n"
    out = client.containers.run(BUSYBOX, ["cat", "/w/answer"], volumes=[f"{name}:/w:ro"],
                                remove=True)  # fmt: skip
    assert out == b"42\n"
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("nosuch_" + name)
    container = client.containers.create(BUSYBOX, volumes={name: {"bind": "/v"}})
    with pytest.raises(docker.errors.APIError) as err:
        client.volumes.get(name).remove()
    assert err.value.status_code == 409 and "volume is in use" in str(err.value)
    container.remove()
    client.volumes.get(name).remove()
    assert client.volumes.list() == []


def test_references_and_mounts_survive_a_daemon_restart(daemon: Daemon) -> None:
    name, c1 = vname(), unique()
    daemon.docker("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", name)
    data = daemon.data_root / "volumes" / name / "_data"
    daemon.docker("run", "-d", "--name", c1, "-v", f"{name}:/cache", BUSYBOX, "sleep", "300")
    try:
        assert mounted(data)
        daemon.stop()  # the container keeps running
        daemon.launch(*daemon.args)
        daemon.wait_ready()
        in_use = daemon.docker("volume", "rm", name, check=False)
        assert in_use.returncode == 1 and "volume is in use" in in_use.stderr
        assert mounted(data)
        daemon.docker("kill", c1)
        daemon.docker("wait", c1)
        assert not mounted(data)  # the last user after the restart unmounts it
    finally:
        daemon.docker("rm", "-f", c1, check=False)
    daemon.docker("volume", "rm", name)


def test_volumes_from(daemon: Daemon) -> None:
    name, src = vname(), unique()
    daemon.docker("create", "--name", src, "-v", f"{name}:/shared", "-v", "/anon", BUSYBOX)
    daemon.docker("run", "--rm", "--volumes-from", src, BUSYBOX,
                  "sh", "-c", "echo a > /shared/a; echo b > /anon/b")  # fmt: skip
    script = "cat /shared/a /anon/b; touch /shared/x"
    out = daemon.docker("run", "--rm", "--volumes-from", f"{src}:ro", BUSYBOX, "sh", "-c", script,
                        check=False)  # fmt: skip
    assert out.stdout == "a\nb\n" and "Read-only file system" in out.stderr
    missing = daemon.docker("run", "--rm", "--volumes-from", "nosuch", BUSYBOX, check=False)
    assert missing.returncode != 0 and "No such container: nosuch" in missing.stderr
    daemon.docker("rm", "-v", src)
    assert volume_names(daemon) == [name]
    daemon.docker("volume", "rm", name)
