"""``docker run``'s create flags end to end: what each one changes is looked at from
inside the container (the real docker CLI, docker-py and the dockyard CLI against a
private dockyardd), plus ``rmi`` of an image a container uses."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker  # docker-py, a dev dependency
import docker.errors
import pytest

from dockyard.kernel.capnames import CAP_NUMBERS
from dockyard.testing.daemon import Daemon, running
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")

BUSYBOX = "busybox:latest"
CGROUP = "/sys/fs/cgroup"


def run(daemon: Daemon, *argv: str, check: bool = True) -> str:
    """``docker run --rm ARGV`` and its stdout."""
    res = daemon.docker("run", "--rm", *argv, check=check, timeout=90)
    return res.stdout


def status_field(text: str, key: str) -> str:
    return next(line.split()[1] for line in text.splitlines() if line.startswith(key + ":"))


def cap_mask(*names: str) -> int:
    return sum(1 << CAP_NUMBERS[n] for n in names)


@pytest.fixture
def client(daemon: Daemon) -> Iterator[Any]:
    c = docker.DockerClient(base_url=daemon.url, version="1.45", timeout=60)
    try:
        yield c
    finally:
        for container in c.containers.list(all=True):  # a private daemon: all are ours
            container.remove(force=True)
        c.close()


def dockyard(daemon: Daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
    res = subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "-H", daemon.url, *args],
        capture_output=True, text=True, timeout=90, check=False, env=env,
    )  # fmt: skip
    if check and res.returncode != 0:
        raise AssertionError(f"dockyard {' '.join(args)}: exit {res.returncode}: {res.stderr}")
    return res


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


# -- config: name, env, entrypoint, workdir, user, labels, hostname ------------------------


def test_config_flags(daemon: Daemon, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\nBOTH=file\n")
    label_file = tmp_path / "labels"
    label_file.write_text("a=1\nb=2\n")
    n = unique()
    out = run(
        daemon, "--name", n, "-e", "BOTH=flag", "--env-file", str(env_file),
        "-w", "/srv/app", "-u", "1000:1000", "--group-add", "123", "-h", "box",
        "--domainname", "example.org", "--entrypoint", "sh", BUSYBOX,
        "-c", 'echo "$FROM_FILE $BOTH"; pwd; id; hostname; cat /proc/sys/kernel/domainname',
    )  # fmt: skip
    assert out.splitlines() == [
        "yes flag",
        "/srv/app",
        "uid=1000 gid=1000 groups=123,1000",  # as dockerd 20.10 shows it
        "box",
        "example.org",
    ]
    cid = daemon.docker(
        "create", "--label-file", str(label_file), "-l", "b=3", "--stop-signal", "SIGUSR1",
        "--stop-timeout", "3", BUSYBOX, "true",
    ).stdout.strip()  # fmt: skip
    [doc] = json.loads(daemon.docker("inspect", cid).stdout)
    assert doc["Config"]["Labels"] == {"a": "1", "b": "3"}
    assert (doc["Config"]["StopSignal"], doc["Config"]["StopTimeout"]) == ("SIGUSR1", 3)
    daemon.docker("rm", cid)


def test_tty_and_open_stdin(daemon: Daemon) -> None:
    assert run(daemon, "-t", BUSYBOX, "sh", "-c", "test -t 1 && echo tty").strip() == "tty"
    assert run(daemon, BUSYBOX, "sh", "-c", "test -t 1 || echo no-tty").strip() == "no-tty"
    res = daemon.docker("run", "--rm", "-i", BUSYBOX, "cat", input=b"from stdin\n")
    assert res.stdout == "from stdin\n"


def test_rm_removes_and_read_only_refuses_writes(daemon: Daemon) -> None:
    out = run(
        daemon, "--read-only", BUSYBOX, "sh", "-c",
        "touch /x 2>&1; touch /tmp/x 2>&1; echo ok > /dev/shm/x && echo shm-ok",
    )  # fmt: skip
    assert "/x: Read-only file system" in out
    assert "/tmp/x: Read-only file system" in out  # as dockerd: /tmp only with --tmpfs
    assert "shm-ok" in out
    assert "Read-only" not in run(daemon, BUSYBOX, "sh", "-c", "touch /x 2>&1")
    assert daemon.docker("ps", "-aq").stdout.strip() == ""


# -- init ---------------------------------------------------------------------------------


def test_init_is_pid_1_and_reaps(daemon: Daemon) -> None:
    out = run(daemon, "--init", BUSYBOX, "ps", "-o", "pid,args")
    first = out.splitlines()[1].split()
    assert first[:3] == ["1", "/sbin/docker-init", "--"]
    # an orphan (the backgrounded sleep's parent sh exits) is reaped by the init:
    # no zombie is left once it ends
    out = run(
        daemon, "--init", BUSYBOX, "sh", "-c",
        "sh -c 'sleep 0.2 &' ; sleep 1; ps -o stat,args | grep -c '^Z' || true",
    )  # fmt: skip
    assert out.strip() == "0"
    without = run(daemon, BUSYBOX, "ps", "-o", "pid,args").splitlines()[1].split()
    assert without[:2] == ["1", "ps"]
    # the init forwards docker stop's SIGTERM: the container stops at once, exit 143
    cid = daemon.docker("run", "-d", "--init", BUSYBOX, "sleep", "60").stdout.strip()
    daemon.docker("stop", "-t", "20", cid, timeout=30)
    code = daemon.docker("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip()
    assert code == "143"
    daemon.docker("rm", cid)


def test_init_path_of_the_daemon() -> None:
    tini = Path("/usr/bin/tini-static")
    with running(config={"init-path": str(tini)}) as d:
        out = run(d, "--init", BUSYBOX, "sh", "-c", "/sbin/docker-init --version; ps -o pid,args")
        assert out.splitlines()[0].startswith("tini version")
        assert out.splitlines()[2].split()[:2] == ["1", "/sbin/docker-init"]
    with running(config={"init-path": "/nonexistent/init"}) as d:
        res = d.docker("create", "--init", BUSYBOX, "true", check=False)
        assert res.returncode != 0
        assert "init binary /nonexistent/init does not exist" in res.stderr
        assert "Unable to find image" not in res.stderr  # a 400: the CLI does not pull
        assert d.docker("create", BUSYBOX, "true").returncode == 0  # no --init: no init


# -- resources ----------------------------------------------------------------------------


def test_memory_limits(daemon: Daemon) -> None:
    mem = f"{CGROUP}/memory"
    out = run(
        daemon, "--memory", "32m", "--memory-swap", "64m", "--memory-reservation", "16m",
        BUSYBOX, "cat", f"{mem}/memory.limit_in_bytes", f"{mem}/memory.memsw.limit_in_bytes",
        f"{mem}/memory.soft_limit_in_bytes",
    )  # fmt: skip
    assert out.split() == [str(32 << 20), str(64 << 20), str(16 << 20)]
    # Docker's default swap: as much again as the memory limit
    out = run(daemon, "--memory", "32m", BUSYBOX, "cat", f"{mem}/memory.memsw.limit_in_bytes")
    assert out.strip() == str(64 << 20)


def test_cpu_pids_and_blkio(daemon: Daemon) -> None:
    cpu = f"{CGROUP}/cpu"
    out = run(
        daemon, "--cpus", "0.5", "--cpu-shares", "512", BUSYBOX,
        "cat", f"{cpu}/cpu.cfs_quota_us", f"{cpu}/cpu.cfs_period_us", f"{cpu}/cpu.shares",
    )  # fmt: skip
    assert out.split() == ["50000", "100000", "512"]
    out = run(
        daemon, "--cpu-quota", "20000", "--cpu-period", "50000", "--cpuset-cpus", "0",
        "--pids-limit", "50", BUSYBOX, "cat", f"{cpu}/cpu.cfs_quota_us",
        f"{cpu}/cpu.cfs_period_us", f"{CGROUP}/cpuset/cpuset.cpus", f"{CGROUP}/pids/pids.max",
    )  # fmt: skip
    assert out.split() == ["20000", "50000", "0", "50"]
    res = daemon.docker(
        "run", "--rm", "--blkio-weight", "300", BUSYBOX, "sh", "-c",
        f"cat {CGROUP}/blkio/blkio.weight {CGROUP}/blkio/blkio.bfq.weight 2>/dev/null; true",
    )  # fmt: skip
    if Path(f"{CGROUP}/blkio/blkio.weight").exists():
        assert res.stdout.split()[0] == "300"
    else:  # as dockerd on a kernel without a weight: a warning, the weight discarded
        assert "Block I/O weight" in res.stderr and "Weight discarded" in res.stderr
    bad = daemon.docker("run", "--rm", "--blkio-weight", "5", BUSYBOX, "true", check=False)
    assert bad.returncode == 125 and "Range of blkio weight is from 10 to 1000" in bad.stderr


def test_ulimit_and_oom_score_adj(daemon: Daemon) -> None:
    out = run(
        daemon, "--ulimit", "nofile=100:200", "--oom-score-adj", "100", BUSYBOX,
        "sh", "-c", "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj",
    )  # fmt: skip
    assert out.split() == ["100", "200", "100"]
    bad = daemon.docker("run", "--rm", "--oom-score-adj", "1001", BUSYBOX, "true", check=False)
    assert bad.returncode == 125 and "range for oom score adj is [-1000, 1000]" in bad.stderr


def test_oom_kill_is_reported(daemon: Daemon) -> None:
    n = unique()
    res = daemon.docker(
        "run", "--name", n, "--memory", "8m", "--memory-swap", "8m", BUSYBOX,
        "sh", "-c", "x=a; while true; do x=$x$x; done", check=False, timeout=120,
    )  # fmt: skip
    assert res.returncode == 137, res.stderr
    state = json.loads(daemon.docker("inspect", "-f", "{{json .State}}", n).stdout)
    assert state["OOMKilled"] is True and state["ExitCode"] == 137
    daemon.docker("rm", n)


# -- privileges ---------------------------------------------------------------------------


def test_capabilities(daemon: Daemon) -> None:
    out = run(daemon, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", BUSYBOX,
              "grep", "Cap", "/proc/self/status")  # fmt: skip
    assert int(status_field(out, "CapEff"), 16) == cap_mask("CAP_NET_ADMIN")
    assert int(status_field(out, "CapBnd"), 16) == cap_mask("CAP_NET_ADMIN")
    default = int(status_field(run(daemon, BUSYBOX, "cat", "/proc/self/status"), "CapEff"), 16)
    assert default == cap_mask(
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
        "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    )  # fmt: skip
    out = run(daemon, "--cap-drop", "CHOWN", "--cap-add", "SYS_ADMIN", BUSYBOX,
              "cat", "/proc/self/status")  # fmt: skip
    eff = int(status_field(out, "CapEff"), 16)
    assert eff == default - cap_mask("CAP_CHOWN") + cap_mask("CAP_SYS_ADMIN")
    bad = daemon.docker("run", "--rm", "--cap-add", "NOPE", BUSYBOX, "true", check=False)
    assert bad.returncode == 125 and 'unknown capability: "CAP_NOPE"' in bad.stderr


def test_privileged(daemon: Daemon) -> None:
    host_caps = status_field(Path("/proc/self/status").read_text(), "CapBnd")
    out = run(
        daemon, "--privileged", BUSYBOX, "sh", "-c",
        "grep CapEff /proc/self/status; ls /dev; grep ' /sys ' /proc/mounts;"
        " grep -cE ' /proc/(kcore|keys|timer_list|sys|sysrq-trigger) ' /proc/mounts; true",
    )  # fmt: skip
    assert int(status_field(out, "CapEff"), 16) == int(host_caps, 16)
    listed = set(out.split())
    host_loops = {e for e in os.listdir("/dev") if e.startswith("loop") and e[4:].isdigit()}
    assert host_loops and host_loops <= listed  # the host's devices are there
    sys_line = next(line for line in out.splitlines() if " /sys " in line)
    assert " rw," in sys_line  # a writable /sys
    # no masked (/dev/null over /proc/kcore...) or read-only (/proc/sys...) paths
    assert out.splitlines()[-1] == "0"
    plain = run(
        daemon, BUSYBOX, "sh", "-c",
        "ls /dev; grep ' /sys ' /proc/mounts;"
        " grep -cE ' /proc/(kcore|keys|timer_list|sys|sysrq-trigger) ' /proc/mounts",
    )  # fmt: skip
    assert not host_loops & set(plain.split())
    assert int(plain.splitlines()[-1]) >= 3
    assert " ro," in next(line for line in plain.splitlines() if " /sys " in line)


def test_devices(daemon: Daemon) -> None:
    out = run(
        daemon, "--device", "/dev/null:/dev/mynull", BUSYBOX, "sh", "-c",
        "stat -c '%F %t:%T' /dev/mynull; echo hi > /dev/mynull && echo wrote",
    )  # fmt: skip
    assert out.splitlines() == ["character special file 1:3", "wrote"]
    loop = next(p for p in sorted(Path("/dev").glob("loop[0-9]*")) if p.is_block_device())
    rdev = os.stat(loop).st_rdev
    out = run(
        daemon, "--device", str(loop), BUSYBOX, "sh", "-c",
        f"stat -c '%F %t:%T' {loop}; dd if={loop} of=/dev/null bs=512 count=1 2>&1 | tail -1",
    )  # fmt: skip
    kind, numbers = out.splitlines()[0].rsplit(" ", 1)
    assert kind == "block special file"
    assert numbers == f"{os.major(rdev):x}:{os.minor(rdev):x}"
    assert "can't open" not in out and "Operation not permitted" not in out
    # the cgroup rule carries the permissions: read-only, a write open is refused
    out = run(
        daemon, "--device", f"{loop}:/dev/ro:r", BUSYBOX, "sh", "-c",
        "dd if=/dev/ro of=/dev/null bs=512 count=1 2>&1 | tail -1;"
        " dd if=/dev/null of=/dev/ro conv=notrunc 2>&1 | head -1",
    )  # fmt: skip
    assert "can't open" not in out.splitlines()[0]
    assert "Operation not permitted" in out.splitlines()[-1]
    # without --device the node is neither there nor usable
    denied = run(
        daemon, BUSYBOX, "sh", "-c",
        f"mknod /dev/x b {os.major(rdev)} {os.minor(rdev)} && dd if=/dev/x of=/dev/null"
        " bs=512 count=1 2>&1 | tail -1",
    )  # fmt: skip
    assert "Operation not permitted" in denied
    cid = daemon.docker("create", "--device", "/dev/nope", BUSYBOX, "true").stdout.strip()
    bad = daemon.docker("start", cid, check=False)
    assert bad.returncode != 0
    assert 'error gathering device information while adding custom device "/dev/nope"' in (
        bad.stderr
    )
    daemon.docker("rm", "-f", cid)
    # docker run: the error, not a hang; --rm removes the container that could not start
    res = daemon.docker("run", "--rm", "--device", "/dev/nope", BUSYBOX, "true", check=False)
    assert res.returncode == 127 and "adding custom device" in res.stderr
    res = daemon.docker("run", "--rm", "--group-add", "nosuchgroup", BUSYBOX, "true", check=False)
    assert res.returncode == 125 and "Unable to find group nosuchgroup" in res.stderr
    wait_for(lambda: daemon.docker("ps", "-aq").stdout.strip() == "")
    assert stat.S_ISBLK(os.stat(loop).st_mode)


def test_security_opts(daemon: Daemon) -> None:
    for opt in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
        out = run(daemon, "--security-opt", opt, BUSYBOX, "cat", "/proc/self/status")
        assert status_field(out, "NoNewPrivs") == "1", opt
    out = run(daemon, BUSYBOX, "cat", "/proc/self/status")
    assert status_field(out, "NoNewPrivs") == "0"
    unconfined = ("--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined")
    assert run(daemon, *unconfined, BUSYBOX, "echo", "ok").strip() == "ok"
    bad = daemon.docker("run", "--rm", "--security-opt", "foo=bar", BUSYBOX, "true", check=False)
    assert bad.returncode == 125 and 'invalid --security-opt 2: "foo=bar"' in bad.stderr
    bad = daemon.docker(
        "run", "--rm", "--security-opt", "apparmor=docker-default", BUSYBOX, "true", check=False
    )
    assert bad.returncode == 125 and "apparmor" in bad.stderr


def test_sysctl_in_its_own_network_namespace(daemon: Daemon) -> None:
    host = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    wanted = "0" if host.strip() == "1" else "1"
    out = run(daemon, "--sysctl", f"net.ipv4.ip_forward={wanted}", BUSYBOX,
              "cat", "/proc/sys/net/ipv4/ip_forward")  # fmt: skip
    assert out.strip() == wanted
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host


def test_stop_signal_and_timeout(daemon: Daemon) -> None:
    # the command exits 7 on SIGUSR1 only: docker stop sends the container's stop signal
    script = "trap 'exit 7' USR1; while true; do sleep 0.1; done"
    cid = daemon.docker(
        "run", "-d", "--stop-signal", "SIGUSR1", BUSYBOX, "sh", "-c", script
    ).stdout.strip()
    daemon.docker("stop", cid, timeout=30)
    assert daemon.docker("inspect", "-f", "{{.State.ExitCode}}", cid).stdout.strip() == "7"
    # a command that ignores the signal is killed after the stop timeout
    cid2 = daemon.docker(
        "run", "-d", "--stop-timeout", "1", BUSYBOX, "sh", "-c", "trap '' TERM; sleep 60"
    ).stdout.strip()
    daemon.docker("stop", cid2, timeout=30)
    assert daemon.docker("inspect", "-f", "{{.State.ExitCode}}", cid2).stdout.strip() == "137"
    daemon.docker("rm", cid, cid2)


# -- inspect, docker-py, the dockyard CLI -------------------------------------------------


def test_inspect_shows_the_host_config(daemon: Daemon) -> None:
    cid = daemon.docker(
        "create", "--init", "--privileged", "--cap-add", "NET_ADMIN", "--memory", "32m",
        "--ulimit", "nofile=100:200", "--device", "/dev/null:/dev/mynull:r",
        "--security-opt", "no-new-privileges", "--oom-score-adj", "50", "--group-add", "7",
        "--sysctl", "net.ipv4.ip_forward=1", BUSYBOX, "true",
    ).stdout.strip()  # fmt: skip
    [doc] = json.loads(daemon.docker("inspect", cid).stdout)
    hc = doc["HostConfig"]
    assert hc["Init"] is True and hc["Privileged"] is True
    assert hc["CapAdd"] == ["CAP_NET_ADMIN"] and hc["Memory"] == 32 << 20  # as the CLI sent it
    assert hc["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}]
    assert hc["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "r"}
    ]
    assert hc["SecurityOpt"] == ["no-new-privileges"] and hc["OomScoreAdj"] == 50
    assert hc["GroupAdd"] == ["7"] and hc["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert doc["Path"] == "true"  # the init is not the container's command
    assert hc["MaskedPaths"] is None and hc["ReadonlyPaths"] is None  # privileged
    plain = json.loads(daemon.docker("inspect", "-f", "{{json .HostConfig}}", daemon.docker(
        "create", BUSYBOX, "true").stdout.strip()).stdout)  # fmt: skip
    assert "/proc/kcore" in plain["MaskedPaths"] and "/proc/sys" in plain["ReadonlyPaths"]
    daemon.docker("rm", cid)


def test_docker_py(client: Any) -> None:
    out = client.containers.run(
        BUSYBOX,
        ["sh", "-c", "ulimit -n; cat /proc/self/oom_score_adj; grep -E 'CapEff|NoNewPrivs'"
         " /proc/self/status; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; id -G"],
        remove=True, mem_limit="32m", oom_score_adj=10, cap_drop=["ALL"],
        cap_add=["NET_ADMIN"], security_opt=["no-new-privileges"], group_add=["44"],
        ulimits=[docker.types.Ulimit(name="nofile", soft=64, hard=64)],
    ).decode()  # fmt: skip
    lines = out.splitlines()
    assert lines[:2] == ["64", "10"], out
    assert int(status_field(out, "CapEff"), 16) == cap_mask("CAP_NET_ADMIN")
    assert status_field(out, "NoNewPrivs") == "1"
    assert str(32 << 20) in lines and lines[-1] == "0 44"
    out = client.containers.run(BUSYBOX, ["ps", "-o", "pid,args"], init=True, remove=True)
    assert out.decode().splitlines()[1].split()[:2] == ["1", "/sbin/docker-init"]
    out = client.containers.run(
        BUSYBOX, ["cat", "/proc/sys/kernel/domainname"], domainname="d.example", remove=True
    )
    assert out.decode().strip() == "d.example"
    with pytest.raises(docker.errors.APIError, match="unknown capability"):
        client.containers.create(BUSYBOX, ["true"], cap_add=["NOPE"])


def test_dockyard_cli(daemon: Daemon) -> None:
    out = dockyard(
        daemon, "run", "--rm", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "--memory", "32m",
        "--memory-swap", "-1", "--ulimit", "nofile=100:200", "--oom-score-adj", "100",
        "--device", "/dev/null:/dev/mynull", "--security-opt", "no-new-privileges",
        "--group-add", "123", "-u", "1000:1000", "--domainname", "example.org", "--init",
        BUSYBOX, "sh", "-c",
        "ulimit -n; cat /proc/self/oom_score_adj; grep -E 'CapBnd|NoNewPrivs' /proc/self/status;"
        " id; cat /proc/sys/kernel/domainname; ls /dev/mynull;"
        " cat /sys/fs/cgroup/memory/memory.limit_in_bytes; ps -o pid,args | sed -n 2p",
    ).stdout  # fmt: skip
    lines = out.splitlines()
    assert lines[:2] == ["100", "100"]
    assert int(status_field(out, "CapBnd"), 16) == cap_mask("CAP_NET_ADMIN")
    assert status_field(out, "NoNewPrivs") == "1"
    assert "uid=1000 gid=1000 groups=123,1000" in lines
    assert "example.org" in lines and "/dev/mynull" in lines and str(32 << 20) in lines
    assert lines[-1].split()[:2] == ["1", "/sbin/docker-init"]
    bad = dockyard(daemon, "run", "--rm", "--ulimit", "nofile", BUSYBOX, "true", check=False)
    assert bad.returncode == 125 and "invalid ulimit argument" in bad.stderr


# -- rmi of an image in use ---------------------------------------------------------------


def test_rmi_of_the_image_of_a_running_container(daemon: Daemon) -> None:
    image = daemon.docker("image", "inspect", "-f", "{{.Id}}", BUSYBOX).stdout.strip()
    short = image.removeprefix("sha256:")[:12]
    daemon.docker("tag", BUSYBOX, "dyt-solo:1")
    cid = daemon.docker("run", "-d", BUSYBOX, "sleep", "60").stdout.strip()
    for args in (("rmi", image), ("rmi", "-f", image)):
        res = daemon.docker(*args, check=False)
        assert res.returncode == 1
        assert (
            f"conflict: unable to delete {short} (cannot be forced) - image is being used by"
            f" running container {cid[:12]}"
        ) in res.stderr
    # one of several names is only untagged
    assert "Untagged: dyt-solo:1" in daemon.docker("rmi", "dyt-solo:1").stdout
    res = daemon.docker("rmi", BUSYBOX, check=False)
    assert res.returncode == 1 and "(must force)" in res.stderr
    daemon.docker("image", "inspect", BUSYBOX)  # still there
    daemon.docker("rm", "-f", cid)
    # a stopped container: refused without -f, by id
    cid = daemon.docker("create", BUSYBOX, "true").stdout.strip()
    res = daemon.docker("rmi", image, check=False)
    assert res.returncode == 1
    assert (
        f"conflict: unable to delete {short} (must be forced) - image is being used by"
        f" stopped container {cid[:12]}"
    ) in res.stderr
    daemon.docker("rm", cid)


def test_rmi_force_of_a_running_containers_image_only_untags(daemon: Daemon) -> None:
    image = daemon.docker("image", "inspect", "-f", "{{.Id}}", BUSYBOX).stdout.strip()
    cid = daemon.docker("run", "-d", BUSYBOX, "sleep", "60").stdout.strip()
    out = daemon.docker("rmi", "-f", BUSYBOX).stdout
    # as dockerd: the name goes, the image stays for the running container
    assert out.strip() == "Untagged: busybox:latest"
    assert daemon.docker("image", "inspect", "-f", "{{.Id}}", image).stdout.strip() == image
    state = daemon.docker("inspect", "-f", "{{.State.Running}}", cid).stdout.strip()
    assert state == "true"
    daemon.docker("rm", "-f", cid)


@pytest.mark.parametrize(
    ("user", "shown"),
    [  # what dockerd 20.10 prints for the same image (checked on this machine)
        ("nobody", "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"),
        ("daemon", "uid=1(daemon) gid=1(daemon) groups=1(daemon)"),
        ("12:34", "uid=12 gid=34 groups=34"),
        ("nobody:daemon", "uid=65534(nobody) gid=1(daemon) groups=1(daemon)"),
    ],
)
def test_user_groups_as_dockerd_shows_them(daemon: Daemon, user: str, shown: str) -> None:
    assert run(daemon, "-u", user, BUSYBOX, "id").strip() == shown
