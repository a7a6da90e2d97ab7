"""``dockyard run`` flags of limits, privileges and devices → the create body, as the docker
CLI sends it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli.containerconfig import container_config
from dockyard.cli.errors import UsageError
from dockyard.cli.hostflags import parse_device, parse_ulimit
from dockyard.cli.run import RUN


def body(*argv: str) -> dict[str, object]:
    opts, args = RUN.parse([*argv, "busybox", "true"])
    return container_config(opts, args, detach=True)


def test_resource_flags() -> None:
    b = body(
        "--memory", "32m", "--memory-swap", "-1", "--memory-reservation", "16m",
        "--cpu-shares", "512", "--cpu-quota", "20000", "--cpu-period", "50000",
        "--cpuset-cpus", "0", "--pids-limit", "50", "--blkio-weight", "300",
        "--oom-score-adj", "100", "--ulimit", "nofile=100:200", "--ulimit", "nproc=50",
    )  # fmt: skip
    host = b["HostConfig"]
    assert isinstance(host, dict)
    assert host["Memory"] == 32 << 20
    assert host["MemorySwap"] == -1
    assert host["MemoryReservation"] == 16 << 20
    assert (host["CpuShares"], host["CpuQuota"], host["CpuPeriod"]) == (512, 20000, 50000)
    assert (host["CpusetCpus"], host["PidsLimit"], host["BlkioWeight"]) == ("0", 50, 300)
    assert host["OomScoreAdj"] == 100
    assert host["Ulimits"] == [
        {"Name": "nofile", "Soft": 100, "Hard": 200},
        {"Name": "nproc", "Soft": 50, "Hard": 50},
    ]


def test_privilege_and_device_flags() -> None:
    b = body(
        "--privileged", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL",
        "--device", "/dev/null:/dev/mynull:r", "--security-opt", "no-new-privileges",
        "--sysctl", "net.ipv4.ip_forward=1", "--group-add", "123", "--init", "--read-only",
    )  # fmt: skip
    host = b["HostConfig"]
    assert isinstance(host, dict)
    assert host["Privileged"] is True and host["Init"] is True and host["ReadonlyRootfs"]
    assert (host["CapAdd"], host["CapDrop"]) == (["NET_ADMIN"], ["ALL"])
    assert host["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "r"}
    ]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert host["GroupAdd"] == ["123"]


def test_config_flags(tmp_path: Path) -> None:
    labels = tmp_path / "labels"
    labels.write_text("# comment\na=1\n\nb=2\n")
    b = body(
        "-h", "box", "--domainname", "example.org", "--label-file", str(labels), "-l", "b=3",
        "--stop-signal", "SIGUSR1", "--stop-timeout", "3", "-w", "/srv", "-u", "1000:1000",
        "--entrypoint", "sh",
    )  # fmt: skip
    assert (b["Hostname"], b["Domainname"]) == ("box", "example.org")
    assert b["Labels"] == {"a": "1", "b": "3"}
    assert (b["StopSignal"], b["StopTimeout"]) == ("SIGUSR1", 3)
    assert (b["WorkingDir"], b["User"], b["Entrypoint"]) == ("/srv", "1000:1000", ["sh"])


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("/dev/sda", ("/dev/sda", "/dev/sda", "rwm")),
        ("/dev/sda:r", ("/dev/sda", "/dev/sda", "r")),
        ("/dev/sda:/dev/xvda", ("/dev/sda", "/dev/xvda", "rwm")),
        ("/dev/sda:/dev/xvda:rw", ("/dev/sda", "/dev/xvda", "rw")),
    ],
)
def test_device_specs(spec: str, want: tuple[str, str, str]) -> None:
    d = parse_device(spec)
    assert (d["PathOnHost"], d["PathInContainer"], d["CgroupPermissions"]) == want


@pytest.mark.parametrize("spec", ["/dev/a:/dev/b:rw:x", "/dev/a:/dev/b:rx", "dev/a", ""])
def test_bad_device_specs(spec: str) -> None:
    with pytest.raises(UsageError, match='for "--device" flag'):
        parse_device(spec)


@pytest.mark.parametrize("spec", ["nofile", "nofile=a", "nofile=200:100", "=1"])
def test_bad_ulimits(spec: str) -> None:
    with pytest.raises(UsageError, match='for "--ulimit" flag'):
        parse_ulimit(spec)
