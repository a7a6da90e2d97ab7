"""The container side of ``create``: code that runs in the forked children only.

stage1 (forked from the runtime) joins namespaces given by path, makes a new user
namespace and waits for its id maps, unshares the other namespaces and forks stage2.
stage2 is the container's init (PID 1 of a new pid namespace): it builds the rootfs,
pivots into it, reports ``created``, blocks on ``exec.fifo`` until ``start``, then
becomes the container's process. Both end in ``os._exit``; neither ever returns.

Until execve the init is non-dumpable, so a process in the container cannot open
/proc/1/exe (the host's interpreter) or the init's fds.
"""

from __future__ import annotations

import os

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.kernel import mount as km
from dockyard.kernel import namespaces as kns
from dockyard.kernel import process as kproc
from dockyard.kernel.clone import fork_into_cgroup
from dockyard.kernel.net import link_up

from . import credentials, rootfs
from .hooks import run_hooks
from .sync import Channel

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

    from dockyard.cgroups import CgroupManager

    from .spec import Spec


class InitContext:
    """What the runtime hands to its children (inherited across fork)."""

    __slots__ = (
        "cgroup", "cgroup_dirs", "cid", "console", "fifo_fd", "from_parent", "hold",
        "no_pivot", "preserve_fds", "spec", "to_parent",
    )  # fmt: skip

    def __init__(
        self,
        cid: str,
        spec: Spec,
        to_parent: int,
        from_parent: int,
        fifo_fd: int,
        cgroup_dirs: dict[str, str],
        console: socket.socket | None,
        preserve_fds: int,
        no_pivot: bool,
        hold: int = -1,
        cgroup: CgroupManager | None = None,
    ) -> None:
        self.cid = cid
        self.spec = spec
        self.to_parent = to_parent
        self.from_parent = from_parent
        self.fifo_fd = fifo_fd
        self.cgroup_dirs = cgroup_dirs
        self.console = console
        self.preserve_fds = preserve_fds
        self.no_pivot = no_pivot
        self.hold = hold  # stage1 stays until this pipe has a byte (see create.reap)
        # None: the runtime moves the init (create.early_cgroup); else stage1 places it
        self.cgroup = cgroup


def describe(e: BaseException) -> str:
    """One line for the user: what failed, on what."""
    if isinstance(e, OSError) and e.strerror:
        msg = e.strerror
        if e.filename and str(e.filename) not in msg:
            msg += f": {e.filename}"
        return msg
    return str(e) or type(e).__name__


def _fail(chan: Channel, e: BaseException) -> None:
    try:
        chan.send("error", describe(e))
    finally:
        os._exit(1)


def stage1(ctx: InitContext) -> None:
    chan = Channel(ctx.from_parent, ctx.to_parent)
    try:
        spec = ctx.spec
        # joining comes first: after a new user namespace we would lack the rights
        joins = sorted(((k, p) for k, p in spec.namespaces if p), key=lambda kp: kp[0] != "user")
        for kind, nspath in joins:
            kns.setns_path(nspath, kns.NAMESPACES[kind][0])
        if spec.new_namespace("user"):
            kns.unshare(kns.CLONE_NEWUSER)
        if spec.new_namespace("user") or spec.new_namespace("cgroup"):  # create.early_cgroup
            chan.send("ready")
            chan.expect("go")
        if spec.new_namespace("user"):
            try:
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            except OSError:
                pass  # root is not mapped: stay the mapped user
        flags = 0
        for kind, joined in spec.namespaces:
            if joined is None and kind != "user":
                flags |= kns.NAMESPACES[kind][0]
        if flags:
            kns.unshare(flags)
        if ctx.cgroup is None:
            pid, placed = os.fork(), True
        else:
            chan.expect("cgroup")  # the runtime has made it and written the limits
            pid, placed = _fork_in_cgroup(ctx.cgroup)
        if pid == 0:
            stage2(ctx, chan)
        chan.send("pid", f"{pid} {int(placed)}")
        if ctx.hold >= 0:
            os.read(ctx.hold, 1)
    except BaseException as e:
        _fail(chan, e)
    os._exit(0)


def _fork_in_cgroup(cg: CgroupManager) -> tuple[int, bool]:
    """Fork the init inside the container's cgroup without the kernel's global migration
    lock: stage1 joins the v1 hierarchies itself, the child is born in the cgroup2
    directory. Answers (pid, placed); not placed: the runtime must apply() the init."""
    cg.join_self()
    target = cg.clone_dir()
    if target is None:
        return os.fork(), True
    try:
        return fork_into_cgroup(target), True
    except OSError:
        # no clone3 or no cgroup2 directory (the hybrid side is best effort): the
        # runtime writes cgroup.procs as before, and says why if it matters
        return os.fork(), False


def _setup_terminal(ctx: InitContext) -> None:
    # imported before pivot_root by stage2: the host's files are out of reach here
    import socket

    from dockyard.kernel import tty

    master, slave, _ = tty.open_pty("/dev/ptmx")
    proc = ctx.spec.process
    if proc is not None and proc.console_size:
        tty.set_winsize(slave, *proc.console_size)
    if ctx.console is None:
        raise InvalidArgument("a terminal was asked for but there is no console socket")
    socket.send_fds(ctx.console, [b"/dev/ptmx"], [master])
    os.close(master)
    ctx.console.close()
    tty.set_controlling(slave)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if os.path.isdir("/dev"):
        console = "/dev/console"
        if not os.path.exists(console):
            os.close(os.open(console, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        km.mount(os.ttyname(slave), console, None, km.MS_BIND)
    os.close(slave)


def _set_sysctls(sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise InvalidArgument(f"sysctl {key}={value}: {e.strerror}") from None


def _state(spec: Spec, cid: str, status: str) -> dict[str, object]:
    return {
        "ociVersion": spec.oci_version,
        "id": cid,
        "status": status,
        "pid": os.getpid(),
        "bundle": spec.bundle,
        "annotations": spec.annotations,
    }


def stage2(ctx: InitContext, chan: Channel) -> None:
    spec = ctx.spec
    proc = spec.process
    assert proc is not None
    try:
        if not spec.has_namespace("user"):
            # in a user namespace the host's files are not the container root's to write,
            # and a non-dumpable init could not reopen its own /proc/self/fd
            kproc.set_dumpable(False)
        if proc.terminal:
            # everything used after pivot_root must be imported before it
            import socket  # noqa: F401

            from dockyard.kernel import tty  # noqa: F401
        if spec.new_namespace("network"):
            link_up("lo")
        in_userns = spec.has_namespace("user")
        applied: list[bool] = []

        def cgroup_ready() -> None:
            if not applied:
                chan.expect("applied")  # the cgroup exists and the init is in it
                applied.append(True)

        rootfs.prepare(spec, ctx.cgroup_dirs, in_userns, cgroup_ready)
        cgroup_ready()
        if spec.hooks.get("prestart") or spec.hooks.get("createRuntime"):
            chan.send("hooks")
            chan.expect("go")
        run_hooks(spec.hooks, "createContainer", _state(spec, ctx.cid, "created"))
        rootfs.pivot(spec.root_path, ctx.no_pivot)
        if spec.hostname:
            kproc.sethostname(spec.hostname)
        if spec.domainname:
            kproc.setdomainname(spec.domainname)
        _set_sysctls(spec.sysctl)
        rootfs.finish(spec)
        if proc.oom_score_adj is not None:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(proc.oom_score_adj))
        credentials.set_rlimits(proc)
        if proc.terminal:
            _setup_terminal(ctx)
        elif ctx.console is not None:
            ctx.console.close()
        credentials.enter_cwd(proc)
        exe = credentials.lookup_executable(proc)
        env = credentials.environment(proc)
        chan.send("created")
        chan.close()
    except BaseException as e:
        _fail(chan, e)
    try:
        # blocks until `start` opens the fifo for reading
        fd = os.open(f"/proc/self/fd/{ctx.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        os.close(ctx.fifo_fd)
        run_hooks(spec.hooks, "startContainer", _state(spec, ctx.cid, "running"))
        credentials.become(proc, setgroups_allowed=True)
        credentials.execute(exe, proc, env, ctx.preserve_fds)
    except DockyardError as e:
        os.write(2, f"dockyard-runtime: {e}\n".encode())
    except BaseException as e:
        os.write(2, f"dockyard-runtime: {describe(e)}\n".encode())
    os._exit(127)
