"""The create body's run flags in the OCI spec: process, capabilities, devices, resources,
security options and init (``engine/specgen.py``, ``specprocess.py``, ``devices.py``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.engine import devices, specgen, specprocess
from dockyard.errors import InvalidArgument, NotFound, NotSupported


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    etc = tmp_path / "rootfs" / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\naudio:x:29:www\nvideo:x:44:\n")
    return tmp_path / "rootfs"


def spec(rootfs: Path, hc: dict[str, Any], **config: Any) -> dict[str, Any]:
    cfg = {"Cmd": ["sh"], **config}
    return specgen.container_spec(
        "c" * 64, cfg, hc, rootfs=rootfs, files=rootfs.parent, cgroups_path="/x/c",
        network_mode="none",
    )  # fmt: skip


def test_default_caps_and_privileged_caps_the_daemon_holds(rootfs: Path) -> None:
    caps = spec(rootfs, {})["process"]["capabilities"]
    assert sorted(caps["bounding"]) == sorted(specprocess.DEFAULT_CAPS)
    privileged = spec(rootfs, {"Privileged": True})["process"]["capabilities"]["bounding"]
    assert set(privileged) == specprocess.daemon_caps()
    assert "CAP_SYS_ADMIN" in privileged


@pytest.mark.parametrize(
    ("add", "drop", "has", "lacks"),
    [
        (["NET_ADMIN"], [], {"CAP_NET_ADMIN", "CAP_CHOWN"}, set()),
        (["net_admin"], ["ALL"], {"CAP_NET_ADMIN"}, {"CAP_CHOWN", "CAP_KILL"}),
        ([], ["CHOWN", "CAP_KILL"], {"CAP_SETUID"}, {"CAP_CHOWN", "CAP_KILL"}),
        (["ALL"], ["SYS_ADMIN"], {"CAP_NET_ADMIN", "CAP_CHOWN"}, {"CAP_SYS_ADMIN"}),
        (["CHOWN"], ["CHOWN"], {"CAP_CHOWN"}, set()),  # dockerd: the add wins
    ],
)
def test_cap_add_and_drop(
    rootfs: Path, add: list[str], drop: list[str], has: set[str], lacks: set[str]
) -> None:
    caps = set(
        spec(rootfs, {"CapAdd": add, "CapDrop": drop})["process"]["capabilities"]["bounding"]
    )
    assert has <= caps
    assert not lacks & caps


def test_drop_all_and_add_one_is_exactly_that(rootfs: Path) -> None:
    caps = spec(rootfs, {"CapDrop": ["ALL"], "CapAdd": ["NET_ADMIN"]})["process"]["capabilities"]
    assert caps["bounding"] == caps["effective"] == ["CAP_NET_ADMIN"]


def test_unknown_capability_is_refused() -> None:
    with pytest.raises(InvalidArgument, match='unknown capability: "CAP_NOPE"'):
        specprocess.capabilities({"CapAdd": ["NOPE"]})


def test_process_settings(rootfs: Path) -> None:
    hc = {
        "OomScoreAdj": 100,
        "Ulimits": [{"Name": "nofile", "Soft": 100, "Hard": 200}],
        "SecurityOpt": ["no-new-privileges"],
        "GroupAdd": ["video", "123"],
    }
    process = spec(rootfs, hc, User="www")["process"]
    assert process["oomScoreAdj"] == 100
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
    assert process["noNewPrivileges"] is True
    assert process["user"] == {"uid": 33, "gid": 33, "additionalGids": [29, 33, 44, 123]}
    assert process["capabilities"]["effective"] == []  # not root: no effective caps


def test_group_add_of_an_unknown_name_fails(rootfs: Path) -> None:
    with pytest.raises(NotFound, match="Unable to find group nogroup"):
        spec(rootfs, {"GroupAdd": ["nogroup"]})


@pytest.mark.parametrize(
    ("opts", "nnp"),
    [
        (["no-new-privileges"], True),
        (["no-new-privileges:true"], True),
        (["no-new-privileges=false"], False),
        (["seccomp=unconfined", "apparmor=unconfined", "label=disable"], False),
        (["label:disable"], False),
    ],
)
def test_accepted_security_options(opts: list[str], nnp: bool) -> None:
    assert specprocess.security_options(opts).no_new_privileges is nnp


def test_refused_security_options() -> None:
    with pytest.raises(InvalidArgument, match='invalid --security-opt 2: "foo=bar"'):
        specprocess.security_options(["foo=bar"])
    with pytest.raises(InvalidArgument, match="Invalid --security-opt 1"):
        specprocess.security_options(["nonsense"])
    with pytest.raises(NotSupported, match="seccomp"):
        specprocess.security_options(['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'])
    with pytest.raises(NotSupported, match="apparmor"):
        specprocess.security_options(["apparmor=docker-default"])


def test_systempaths_unconfined_and_privileged_have_no_masked_paths(rootfs: Path) -> None:
    assert spec(rootfs, {})["linux"]["maskedPaths"]
    for hc in ({"Privileged": True}, {"SecurityOpt": ["systempaths=unconfined"]}):
        linux = spec(rootfs, hc)["linux"]
        assert "maskedPaths" not in linux and "readonlyPaths" not in linux


def test_masked_paths_of_the_body(rootfs: Path) -> None:
    linux = spec(rootfs, {"MaskedPaths": ["/proc/x"], "ReadonlyPaths": []})["linux"]
    assert linux["maskedPaths"] == ["/proc/x"] and "readonlyPaths" not in linux
    assert specgen.system_paths({"Privileged": True, "MaskedPaths": ["/proc/x"]}) == ([], [])


def test_privileged_device_mapping_adds_a_node_at_another_path() -> None:
    found, rules = devices.container_devices(
        {"Privileged": True, "Devices": [
            {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "r"},
            {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/zero", "CgroupPermissions": "r"},
        ]}
    )  # fmt: skip
    paths = [d["path"] for d in found]
    assert "/dev/mynull" in paths and paths.count("/dev/zero") == 1
    assert rules == [{"allow": True, "access": "rwm"}]


def test_privileged_mounts_sys_writable(rootfs: Path) -> None:
    def sys_opts(hc: dict[str, Any]) -> list[str]:
        mounts = spec(rootfs, hc)["mounts"]
        return next(m["options"] for m in mounts if m["destination"] == "/sys")

    assert "ro" in sys_opts({})
    assert "ro" not in sys_opts({"Privileged": True})


def test_ulimit_checks() -> None:
    with pytest.raises(InvalidArgument, match="invalid ulimit type: nofiles"):
        specprocess.rlimits({"Ulimits": [{"Name": "nofiles", "Soft": 1, "Hard": 1}]})
    with pytest.raises(InvalidArgument, match="soft limit"):
        specprocess.rlimits({"Ulimits": [{"Name": "nproc", "Soft": 10, "Hard": 1}]})


def test_oom_score_adj_range() -> None:
    with pytest.raises(InvalidArgument, match=r"range for oom score adj is \[-1000, 1000\]"):
        specprocess.check_host_config({"OomScoreAdj": 1001})


def test_resources(rootfs: Path) -> None:
    hc = {
        "Memory": 32 << 20,
        "MemorySwap": -1,
        "MemoryReservation": 16 << 20,
        "CpuShares": 512,
        "CpuQuota": 20000,
        "CpuPeriod": 50000,
        "CpusetCpus": "0",
        "PidsLimit": 50,
        "BlkioWeight": 300,
    }
    res = spec(rootfs, hc)["linux"]["resources"]
    assert res["memory"] == {"limit": 32 << 20, "swap": -1, "reservation": 16 << 20}
    assert res["cpu"] == {"shares": 512, "quota": 20000, "period": 50000, "cpus": "0"}
    assert res["pids"] == {"limit": 50}
    assert res["blockIO"] == {"weight": 300}
    assert spec(rootfs, {"Memory": 32 << 20})["linux"]["resources"]["memory"]["swap"] == 64 << 20


def test_device_mapping_makes_a_node_and_a_rule(rootfs: Path) -> None:
    hc = {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull",
                       "CgroupPermissions": "rw"}]}  # fmt: skip
    linux = spec(rootfs, hc)["linux"]
    null = os.stat("/dev/null")
    [device] = linux["devices"]
    assert device["path"] == "/dev/mynull"
    assert (device["type"], device["major"], device["minor"]) == (
        "c", os.major(null.st_rdev), os.minor(null.st_rdev),
    )  # fmt: skip
    rule = {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}
    assert linux["resources"]["devices"][-1] == rule
    assert linux["resources"]["devices"][0] == {"allow": False, "access": "rwm"}


def test_device_of_a_directory_brings_its_devices(tmp_path: Path) -> None:
    host = devices.host_devices("/dev")
    assert any(d["path"] == "/dev/null" for d in host)
    assert not any(d["path"] in ("/dev/console", "/dev/ptmx") for d in host)
    assert not any(d["path"].startswith(("/dev/pts/", "/dev/shm/")) for d in host)
    found, rules = devices.from_mapping({"PathOnHost": "/dev", "PathInContainer": "/hostdev"})
    assert any(d["path"] == "/hostdev/null" for d in found)
    assert len(rules) == len(found)


def test_device_errors() -> None:
    with pytest.raises(InvalidArgument, match='adding custom device "/dev/nope"'):
        devices.from_mapping({"PathOnHost": "/dev/nope"})
    with pytest.raises(InvalidArgument, match="not a device"):
        devices.from_mapping({"PathOnHost": "/etc/hostname"})
    with pytest.raises(InvalidArgument, match="permissions"):
        devices.from_mapping({"PathOnHost": "/dev/null", "CgroupPermissions": "rx"})


def test_privileged_gets_host_devices_and_allow_all(rootfs: Path) -> None:
    linux = spec(rootfs, {"Privileged": True})["linux"]
    assert {d["path"] for d in linux["devices"]} == {d["path"] for d in devices.host_devices()}
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_init_runs_first_and_is_mounted_read_only(rootfs: Path, tmp_path: Path) -> None:
    init = tmp_path / "my-init"
    init.write_text("")
    s = specgen.container_spec(
        "c" * 64, {"Cmd": ["ps"]}, {"Init": True}, rootfs=rootfs, files=tmp_path,
        cgroups_path="/x/c", network_mode="none", init_path=str(init),
    )  # fmt: skip
    assert s["process"]["args"] == ["/sbin/docker-init", "--", "ps"]
    mount = next(m for m in s["mounts"] if m["destination"] == "/sbin/docker-init")
    assert mount["source"] == str(init) and "ro" in mount["options"]
    with pytest.raises(InvalidArgument, match="init-path"):
        specprocess.find_init(str(tmp_path / "missing"))


def test_blkio_weight_range() -> None:
    with pytest.raises(InvalidArgument, match="Range of blkio weight"):
        devices.check_resources({"BlkioWeight": 5})
    hc = {"BlkioWeight": 300}
    warnings = devices.check_resources(hc)
    if devices.blkio_weight_supported():
        assert warnings == [] and hc["BlkioWeight"] == 300
    else:  # dockerd's warning, and the weight is discarded
        assert "Weight discarded" in warnings[0] and hc["BlkioWeight"] == 0
