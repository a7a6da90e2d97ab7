"""``create``: the runtime's side of making a container, up to the ``created`` state.

Order: check the config (nothing exists yet), reserve the id, make the cgroup, fork
the init (see init.py), answer its requests (cgroup, id maps, hooks), record the
state. Any failure unwinds all of it: the init is killed, the cgroup and the state
dir are removed; mounts live only in the init's mount namespace and die with it.
"""

from __future__ import annotations

import os

from dockyard._internal import lazylog
from dockyard.errors import DockyardError, SystemFault

from . import state as statemod
from .hooks import run_hooks
from .sync import Channel, ChannelError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

    from dockyard.cgroups import CgroupManager, Resources

    from .spec import Spec

log = lazylog.getLogger(__name__)


def _write_id_maps(pid: int, spec: Spec) -> None:
    for name, maps in (("uid_map", spec.uid_mappings), ("gid_map", spec.gid_mappings)):
        text = "".join(f"{c} {h} {n}\n" for c, h, n in maps)
        path = f"/proc/{pid}/{name}"
        try:
            with open(path, "w") as f:
                f.write(text)
        except OSError as e:
            raise SystemFault(f"write {name} {text.strip()!r}: {e.strerror}") from None


# Device rules every container gets after the config's own, as runc does: mknod of
# anything (the node is useless without an allow rule), the default nodes, ptys, tun.
ALLOWED_DEVICES = [
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    *(
        {"allow": True, "type": "c", "major": ma, "minor": mi, "access": "rwm"}
        for ma, mi in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2),
                       (136, None), (10, 200))
    ),
]  # fmt: skip


def _resources(spec: Spec) -> dict[str, object]:
    res = dict(spec.resources)
    devices = list(res.get("devices") or [])
    # a node the config gives its own rule for keeps that rule's access (docker's
    # --device /dev/x:r); a node without one is usable in full
    ruled = {(r.get("type"), r.get("major"), r.get("minor")) for r in devices}
    devices += ALLOWED_DEVICES
    for d in spec.devices:
        if d["type"] in ("c", "b", "u"):
            kind = "c" if d["type"] == "u" else d["type"]
            if (kind, d["major"], d["minor"]) in ruled:
                continue
            rule = {"allow": True, "type": kind, "major": d["major"], "minor": d["minor"]}
            devices.append({**rule, "access": "rwm"})
    res["devices"] = devices
    return res


def early_cgroup(spec: Spec) -> bool:
    """Must stage1 wait for the runtime before it forks the init: for its id maps, or
    for its cgroup before a new cgroup namespace is made?"""
    return spec.new_namespace("user") or spec.new_namespace("cgroup")


def _host_id(mappings: list[tuple[int, int, int]], cid: int) -> int:
    """The host id that container id ``cid`` maps to (-1: unmapped, chown leaves it)."""
    for c, h, n in mappings:
        if c <= cid < c + n:
            return h + cid - c
    return -1


def _cgroup(cid: str, spec: Spec) -> tuple[CgroupManager, Resources, str]:
    """The container's cgroup manager, limits and path; nothing is made yet."""
    from dockyard.cgroups import Resources, default_path, manager_for

    resources = Resources.from_oci(_resources(spec))  # bad values fail before anything exists
    path = spec.cgroups_path or default_path(cid)
    return manager_for(path), resources, path


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class Created:
    __slots__ = ("cgroup", "container", "pid")

    def __init__(self, container: statemod.Container, pid: int, cgroup: CgroupManager) -> None:
        self.container = container
        self.pid = pid
        self.cgroup = cgroup  # for `run`'s delete: no second look at the cgroup layout


def create(
    root: str,
    cid: str,
    spec: Spec,
    console: socket.socket | None = None,
    pid_file: str | None = None,
    preserve_fds: int = 0,
    no_pivot: bool = False,
    reap: bool = False,
) -> Created:
    """Create container ``cid``; with ``reap`` this process becomes the init's reaper."""
    assert spec.process is not None
    if spec.process.terminal and console is None:
        from dockyard.errors import InvalidArgument

        raise InvalidArgument(
            "process.terminal is true: give --console-socket to receive the terminal"
        )
    early = early_cgroup(spec)
    if early:
        # the runtime moves stage1 by pid, which waits out the migration lock's grace
        # period: start it now, in the background (see cgroups/prime.py)
        from dockyard.cgroups.prime import prime

        prime()
    state_dir = statemod.reserve(root, cid)
    cg: CgroupManager | None = None
    init_pid = 0
    stage1_pid = 0
    chan: Channel | None = None
    hold_w = -1
    created_cgroup = False
    try:
        cg, resources, cgroup_path = _cgroup(cid, spec)
        fifo = os.path.join(state_dir, "exec.fifo")
        os.mkfifo(fifo, 0o600)
        if spec.new_namespace("user"):
            # the init reopens it as the container's root, which is another host uid
            os.chown(fifo, _host_id(spec.uid_mappings, 0), _host_id(spec.gid_mappings, 0))
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        c2p_r, c2p_w = os.pipe()
        p2c_r, p2c_w = os.pipe()
        hold_r, hold_w = os.pipe() if reap else (-1, -1)
        cgroup_dirs = cg.paths()
        # The container side is imported here, before the fork: imported in the child
        # it cost more (copy-on-write faults of the forked heap; docs/architecture.md).
        from .init import InitContext, stage1

        stage1_pid = os.fork()
        if stage1_pid == 0:
            os.close(c2p_r)
            os.close(p2c_w)
            stage1(
                InitContext(
                    cid, spec, c2p_w, p2c_r, fifo_fd, cgroup_dirs, console, preserve_fds,
                    no_pivot, hold_r, None if early else cg,
                )
            )  # fmt: skip
        for fd in (c2p_w, p2c_r, fifo_fd, hold_r):
            if fd >= 0:
                os.close(fd)
        if console is not None:
            console.close()
        chan = Channel(c2p_r, p2c_w)
        if reap:
            # `run` waits for the init: be its reaper before stage1 (its parent) exits
            from dockyard.kernel.process import set_child_subreaper

            set_child_subreaper(True)
            os.write(hold_w, b"x")
            os.close(hold_w)
            hold_w = -1
        # The cgroup is made while stage1 unshares its namespaces. Then stage1 joins it
        # and forks the init inside it (init._fork_in_cgroup), which needs none of the
        # kernel's global migration lock whose grace period a pid written to
        # cgroup.procs waits out. The init waits for "applied" only before it mounts
        # its cgroup.
        created_cgroup = True
        cg.create()
        cg.set(resources)
        if early:
            chan.expect("ready")
            cg.apply(stage1_pid)
            if spec.new_namespace("user"):
                _write_id_maps(stage1_pid, spec)
            chan.send("go")
        else:
            chan.send("cgroup")
        pid_text, _, placed = chan.expect("pid").partition(" ")
        init_pid = int(pid_text)
        if placed != "1":
            cg.apply(init_pid)
        chan.send("applied")
        os.waitpid(stage1_pid, 0)
        stage1_pid = 0
        tag, payload = chan.recv()
        if tag == "hooks":
            hook_state = {
                "ociVersion": spec.oci_version,
                "id": cid,
                "status": "creating",
                "pid": init_pid,
                "bundle": spec.bundle,
                "annotations": spec.annotations,
            }
            run_hooks(spec.hooks, "prestart", hook_state)
            run_hooks(spec.hooks, "createRuntime", hook_state)
            chan.send("go")
            tag, payload = chan.recv()
        if tag != "created":
            raise ChannelError(tag, payload)
        chan.close()
        container = statemod.Container(
            root,
            cid,
            {
                "pid": init_pid,
                "start_time": statemod.proc_start_time(init_pid),
                "bundle": spec.bundle,
                "rootfs": spec.root_path,
                "created": statemod.now_rfc3339(),
                "oci_version": spec.oci_version,
                "annotations": spec.annotations,
                "cgroup": cgroup_path,
                "namespaces": [[k, p] for k, p in spec.namespaces],
                "hooks": {k: v for k, v in spec.hooks.items() if k in ("poststart", "poststop")},
                "process": spec.process.raw,
            },
        )
        container.save()
        if pid_file:
            _write_pid_file(pid_file, init_pid)
        return Created(container, init_pid, cg)
    except BaseException as e:
        if chan is not None:
            chan.close()
        if hold_w >= 0:
            os.close(hold_w)
        if stage1_pid:
            _kill_and_reap(stage1_pid)
        if init_pid:
            _kill_and_reap(init_pid)
        if cg is not None and created_cgroup:
            cg.kill_all(9)
            cg.destroy()
        statemod.remove_dir(state_dir)
        if isinstance(e, ChannelError):
            raise SystemFault(f"container init: {e}") from None
        if isinstance(e, OSError) and not isinstance(e, DockyardError):
            from .init import describe

            raise SystemFault(describe(e)) from None
        raise


def _write_pid_file(path: str, pid: int) -> None:
    from dockyard._internal.atomicfile import write_atomic

    write_atomic(os.path.abspath(path), str(pid).encode(), mode=0o644)
