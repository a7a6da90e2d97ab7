"""Namespaces: uts (hostname, domainname), net (new, joined by path), user, sysctls."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator

import pytest

from dockyard.testing.lab import Lab
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("busybox")

ALL_BUT_UTS = ("pid", "network", "ipc", "mount")


def test_hostname(lab: Lab) -> None:
    assert lab.out("hostname", hostname="dyt-box") == "dyt-box\n"


def test_hostname_unset_keeps_the_copied_uts_namespace(lab: Lab) -> None:
    # a new uts namespace starts as a copy of the runtime's: no hostname, the host's name
    assert lab.out("hostname", hostname=None) == socket.gethostname() + "\n"


def test_domainname(lab: Lab) -> None:
    out = lab.out("cat /proc/sys/kernel/domainname", domainname="example.test")
    if lab.name == "runc" and out == "(none)\n":
        # the spec has had "domainname" since 1.0.2; runc supports it only from 1.2
        pytest.xfail("runc < 1.2 ignores domainname")
    assert out == "example.test\n"


def test_no_uts_namespace_shares_the_host_name(lab: Lab) -> None:
    # a hostname needs a uts namespace of its own, so leave both out
    out = lab.out("hostname", hostname=None, namespaces=ALL_BUT_UTS)
    assert out == socket.gethostname() + "\n"


def test_new_network_namespace_has_only_loopback_up(lab: Lab) -> None:
    # The spec leaves loopback alone; runc and crun both bring it up (and Docker users
    # count on it), so ours must too.
    out = lab.out("tail -n +3 /proc/net/dev | cut -d: -f1; cat /sys/class/net/lo/flags")
    name, flags = out.split()
    assert name == "lo"
    assert int(flags, 16) & 0x1, "IFF_UP"


@pytest.fixture
def netns() -> Iterator[str]:
    """A named network namespace (/run/netns/dyt-...) holding a veth pair dyt0/dyt1."""
    name = unique()
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(
            ["ip", "-n", name, "link", "add", "dyt0", "type", "veth", "peer", "name", "dyt1"],
            check=True,
        )
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def test_join_network_namespace_by_path(lab: Lab, netns: str) -> None:
    namespaces = [
        {"type": "network", "path": f"/run/netns/{netns}"},
        *({"type": t} for t in ("pid", "ipc", "uts", "mount")),
    ]
    out = lab.out("tail -n +3 /proc/net/dev | cut -d: -f1", namespaces=namespaces)
    assert sorted(out.split()) == ["dyt0", "dyt1", "lo"]
    # and the namespace is the same one: its inode matches
    ino = os.stat(f"/run/netns/{netns}").st_ino
    out = lab.out("stat -L -c %i /proc/self/ns/net", namespaces=namespaces)
    assert out == f"{ino}\n"


def test_sysctl_in_new_network_namespace(lab: Lab) -> None:
    with open("/proc/sys/net/ipv4/ping_group_range") as f:
        host = f.read()
    out = lab.out(
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ping_group_range",
        sysctl={"net.ipv4.ip_forward": "1", "net.ipv4.ping_group_range": "0 1000"},
    )
    assert out.split() == ["1", "0", "1000"]
    with open("/proc/sys/net/ipv4/ping_group_range") as f:
        assert f.read() == host


def test_sysctl_in_new_ipc_namespace(lab: Lab) -> None:
    with open("/proc/sys/kernel/shmmax") as f:
        host = f.read()
    out = lab.out("cat /proc/sys/kernel/shmmax", sysctl={"kernel.shmmax": "4096"})
    assert out == "4096\n"
    with open("/proc/sys/kernel/shmmax") as f:
        assert f.read() == host


USERNS = ("pid", "network", "ipc", "uts", "mount", "user")
MAPPING = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def test_user_namespace_maps_ids(lab: Lab) -> None:
    shared = lab.dir("shared")
    os.chown(shared, 100000, 100000)
    mount = {"destination": "/mnt/rw", "type": "bind", "source": str(shared), "options": ["rbind"]}
    out = lab.out(
        "id -u; id -g; cat /proc/self/uid_map; stat -c %u:%g /bin/busybox; touch /mnt/rw/f",
        namespaces=USERNS,
        uid_mappings=MAPPING,
        gid_mappings=MAPPING,
        mounts=[mount],
    )
    uid, gid, uid_map, owner = out.splitlines()
    assert (uid, gid) == ("0", "0")
    assert uid_map.split() == ["0", "100000", "65536"]
    # the rootfs belongs to host root, who is not mapped: the overflow id
    assert owner == "65534:65534"
    st = os.stat(shared / "f")
    assert (st.st_uid, st.st_gid) == (100000, 100000)
