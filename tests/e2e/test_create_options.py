"""Smaller create/run options as the docker CLI 28 and the ``dockyard`` CLI send them:
``--cidfile``, ``--memory-swappiness``, ``--userns`` and ``--storage-opt`` (which this
daemon refuses with what it would need)."""

from __future__ import annotations

import json
from pathlib import Path

import docker  # docker-py, a dev dependency
import docker.errors
import pytest

from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")


def test_cidfile(daemon: Daemon, tmp_path: Path) -> None:
    cidfile = tmp_path / "cid"
    cid = daemon.dockyard("create", "--cidfile", str(cidfile), "busybox", "true").stdout.strip()
    assert cidfile.read_text() == cid
    again = daemon.dockyard("create", "--cidfile", str(cidfile), "busybox", "true", check=False)
    assert again.returncode == 125
    assert (
        f"container ID file found, make sure the other container isn't running or delete {cidfile}"
        in again.stderr
    )
    # a failed create leaves no file behind
    failed = tmp_path / "failed"
    res = daemon.dockyard("run", "--cidfile", str(failed), "--pull", "never", "no-such-image",
                          check=False)  # fmt: skip
    assert res.returncode == 125 and not failed.exists()
    daemon.docker("rm", cid)


def test_memory_swappiness_userns_and_storage_opt(daemon: Daemon) -> None:
    name = unique("swap")
    for cli in (daemon.docker, daemon.dockyard):
        cli("run", "-d", "--name", name, "--memory-swappiness", "7", "--userns", "host",
            "busybox", "sleep", "30")  # fmt: skip
        doc = json.loads(daemon.docker("inspect", name).stdout)[0]
        assert doc["HostConfig"]["MemorySwappiness"] == 7
        assert doc["HostConfig"]["UsernsMode"] == "host"
        cgroup = Path(f"/sys/fs/cgroup/memory{daemon.cgroup_parent}/{doc['Id']}")
        assert (cgroup / "memory.swappiness").read_text().strip() == "7"
        daemon.docker("rm", "-f", name)
    for cli in (daemon.docker, daemon.dockyard):  # both CLIs check it themselves
        bad = cli("create", "--memory-swappiness", "101", "busybox", "true", check=False)
        assert bad.returncode == 125
        assert "invalid value: 101. Valid memory swappiness range is 0-100" in bad.stderr
    api = docker.APIClient(base_url=daemon.url, version="1.45")
    with pytest.raises(docker.errors.APIError, match="valid memory swappiness range is 0-100"):
        api.create_container("busybox", "true", host_config={"MemorySwappiness": 101})
    with pytest.raises(docker.errors.APIError, match="invalid USER mode: remap"):
        api.create_container("busybox", "true", host_config={"UsernsMode": "remap"})
    api.close()
    for cli in (daemon.docker, daemon.dockyard):
        bad = cli("create", "--userns", "remap", "busybox", "true", check=False)
        assert bad.returncode == 125 and "--userns: invalid USER mode" in bad.stderr
    bad = daemon.docker("create", "--storage-opt", "size=1G", "busybox", "true", check=False)
    assert "--storage-opt is not supported" in bad.stderr
    bad = daemon.dockyard("create", "--storage-opt", "size", "busybox", "true", check=False)
    assert bad.returncode == 125 and "invalid storage option" in bad.stderr
    assert daemon.docker("ps", "-aq").stdout == ""
