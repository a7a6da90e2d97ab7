"""The container process: pid 1, exit status, ids, capabilities, env, cwd, rlimits..."""

from __future__ import annotations

import time

import pytest

from dockyard.testing.lab import Lab
from dockyard.testing.observe import cap_mask, cap_sets, proc_status
from dockyard.testing.runtimes import Runtime

pytestmark = pytest.mark.requires("busybox")

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
NO_PID_NS = ("network", "ipc", "uts", "mount")


def test_pid1_is_the_process_in_a_new_pid_namespace(lab: Lab) -> None:
    # busybox runs the ps applet inside the shell itself: pid 1 must be all there is
    out = lab.out("echo $$; ps -o pid,user")
    assert out.split() == ["1", "PID", "USER", "1", "root"]


@pytest.mark.parametrize("code", [0, 1, 42])
def test_exit_code_is_the_process_exit_code(lab: Lab, code: int) -> None:
    assert lab.sh(f"exit {code}").returncode == code


def test_pid1_is_immune_to_its_own_sigkill(lab: Lab) -> None:
    # Linux drops signals that a pid namespace's init sends itself without a handler.
    res = lab.sh("kill -9 $$; echo survived")
    assert (res.returncode, res.stdout) == (0, "survived\n")


@pytest.mark.parametrize(("sig", "code"), [("KILL", 137), ("TERM", 143)])
def test_run_exits_128_plus_signal_when_process_is_signalled(lab: Lab, sig: str, code: int) -> None:
    # No pid namespace, so the process is not an init and can signal itself to death.
    res = lab.sh(f"kill -{sig} $$; echo survived", namespaces=NO_PID_NS)
    assert (res.returncode, res.stdout) == (code, "")


def _wait_running(rt: Runtime, cid: str, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = rt.state(cid)
        if res.returncode == 0 and '"running"' in res.stdout:
            return
        time.sleep(0.02)
    raise AssertionError(f"{rt.name}: {cid} never reported running")


def test_run_exits_137_when_container_is_killed(lab: Lab) -> None:
    cid, b = lab.bundle(args=("sleep", "30"))
    proc = lab.runtime.popen_run(cid, b.path)
    try:
        _wait_running(lab.runtime, cid)
        assert lab.runtime.kill(cid, "KILL").returncode == 0
        assert proc.wait(5) == 137
    finally:
        proc.kill()
        proc.communicate()


def test_run_returns_exit_code_of_signal_handler(lab: Lab) -> None:
    cid, b = lab.bundle(args=("sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"))
    proc = lab.runtime.popen_run(cid, b.path)
    try:
        _wait_running(lab.runtime, cid)
        time.sleep(0.1)  # let sh install the trap
        assert lab.runtime.kill(cid, "TERM").returncode == 0
        assert proc.wait(5) == 7
    finally:
        proc.kill()
        proc.communicate()


def test_default_capabilities(lab: Lab) -> None:
    caps = cap_sets(lab.out("cat /proc/self/status"))
    mask = cap_mask(DEFAULT_CAPS)
    # ambient caps need the inheritable set, which the default spec leaves empty
    assert caps == {"CapInh": 0, "CapPrm": mask, "CapEff": mask, "CapBnd": mask, "CapAmb": 0}


def test_custom_capabilities(lab: Lab) -> None:
    names = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SYS_CHROOT"]
    caps = cap_sets(lab.out("cat /proc/self/status", capabilities=names))
    mask = cap_mask(names)
    assert caps == {"CapInh": 0, "CapPrm": mask, "CapEff": mask, "CapBnd": mask, "CapAmb": 0}


def test_root_effective_set_is_its_permitted_set_after_execve(lab: Lab) -> None:
    # Kernel semantics, not a runtime choice: execve as uid 0 raises effective to
    # permitted; noNewPrivileges (default true) keeps execve from growing permitted.
    names = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN"]
    caps = {"bounding": names, "effective": names[:1], "permitted": names[:2]}
    assert cap_sets(lab.out("cat /proc/self/status", capabilities=caps)) == {
        "CapInh": 0,
        "CapPrm": cap_mask(names[:2]),
        "CapEff": cap_mask(names[:2]),
        "CapBnd": cap_mask(names),
        "CapAmb": 0,
    }


def test_non_root_user_keeps_ambient_capabilities(lab: Lab) -> None:
    names = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
    sets = ("bounding", "effective", "permitted", "inheritable", "ambient")
    out = lab.out(
        "id -u; cat /proc/self/status",
        user={"uid": 1000, "gid": 1000},
        capabilities=dict.fromkeys(sets, names),
    )
    uid, _, status = out.partition("\n")
    assert uid == "1000"
    mask = cap_mask(names)
    assert cap_sets(status) == dict.fromkeys(
        ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"), mask
    )


def test_user_group_and_additional_gids(lab: Lab) -> None:
    out = lab.out("id -u; id -g; id -G", user={"uid": 1, "gid": 1, "additionalGids": [5, 65534]})
    uid, gid, groups = out.splitlines()
    assert (uid, gid) == ("1", "1")
    assert sorted(map(int, groups.split())) == [1, 5, 65534]


def test_root_has_no_supplementary_groups_by_default(lab: Lab) -> None:
    assert lab.out("id -u; id -g; id -G").split() == ["0", "0", "0"]


@pytest.mark.parametrize(("umask", "shown"), [(None, "0022"), (0o027, "0027")])
def test_umask(lab: Lab, umask: int | None, shown: str) -> None:
    user = {"uid": 0, "gid": 0} if umask is None else {"uid": 0, "gid": 0, "umask": umask}
    assert lab.out("umask", user=user) == shown + "\n"


def test_env_is_exactly_the_configured_env(lab: Lab) -> None:
    env = ["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "HOME=/home"]
    res = lab.run("env", env=env)
    assert res.returncode == 0
    assert sorted(res.stdout.splitlines()) == sorted(env)


def test_home_is_set_from_passwd_when_missing(lab: Lab) -> None:
    # runc and crun both add HOME from the user's /etc/passwd entry when env lacks it
    res = lab.run("env", env=["PATH=/bin"], user={"uid": 1, "gid": 1})
    assert sorted(res.stdout.splitlines()) == ["HOME=/usr/sbin", "PATH=/bin"]


def test_cwd(lab: Lab) -> None:
    res = lab.run("pwd", cwd="/var/tmp")
    assert (res.returncode, res.stdout) == (0, "/var/tmp\n")


def test_rlimit_nofile(lab: Lab) -> None:
    rlimits = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048}]
    assert lab.out("ulimit -n; ulimit -Hn", rlimits=rlimits).split() == ["512", "2048"]


def test_rlimit_above_host_hard_limit_fails(lab: Lab) -> None:
    # No CAP_SYS_RESOURCE on this host: a hard limit above ours cannot be set (EPERM).
    # The runtimes word the error differently; they must agree that it fails.
    rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1 << 30}]
    res = lab.run("true", rlimits=rlimits)
    assert res.returncode != 0


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(lab: Lab, nnp: bool) -> None:
    status = proc_status(lab.out("cat /proc/self/status", no_new_privileges=nnp))
    assert status["NoNewPrivs"] == ("1" if nnp else "0")


# Lowering the score below ours would need CAP_SYS_RESOURCE, which root lacks here.
@pytest.mark.parametrize("adj", [None, 500, 1000])
def test_oom_score_adj(lab: Lab, adj: int | None) -> None:
    with open("/proc/self/oom_score_adj") as f:
        ours = f.read().strip()
    expected = ours if adj is None else str(adj)
    assert lab.out("cat /proc/self/oom_score_adj", oom_score_adj=adj) == expected + "\n"


def test_preserve_fds(lab: Lab) -> None:
    target = lab.work / "fd3.txt"
    target.touch()
    cid, b = lab.bundle(args=("sh", "-c", "echo preserved >&3 && [ ! -e /proc/self/fd/4 ]"))
    res = lab.runtime.run(cid, b.path, fds=[target])
    assert res.returncode == 0, res.stderr
    assert target.read_text() == "preserved\n"
