"""The container's file system view: mounts, /dev, pivot_root, masked and read-only paths.

Runs inside the container's init process, in its new mount namespace, so nothing done
here is visible on the host and everything vanishes with the namespace. Mount
destinations are resolved inside the rootfs: a symlink can never redirect a mount to
the host, and one whose target climbs above the rootfs is refused.
"""

from __future__ import annotations

import os
import stat

from dockyard._internal.paths import climbs_above_root
from dockyard.errors import InvalidArgument
from dockyard.kernel import mount as km
from dockyard.kernel.process import mknod

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .spec import Mount, Spec

# option -> (clear?, flag)
FLAG_OPTIONS: dict[str, tuple[bool, int]] = {
    "defaults": (False, 0),
    "ro": (False, km.MS_RDONLY), "rw": (True, km.MS_RDONLY),
    "suid": (True, km.MS_NOSUID), "nosuid": (False, km.MS_NOSUID),
    "dev": (True, km.MS_NODEV), "nodev": (False, km.MS_NODEV),
    "exec": (True, km.MS_NOEXEC), "noexec": (False, km.MS_NOEXEC),
    "sync": (False, km.MS_SYNCHRONOUS), "async": (True, km.MS_SYNCHRONOUS),
    "dirsync": (False, km.MS_DIRSYNC), "remount": (False, km.MS_REMOUNT),
    "mand": (False, km.MS_MANDLOCK), "nomand": (True, km.MS_MANDLOCK),
    "atime": (True, km.MS_NOATIME), "noatime": (False, km.MS_NOATIME),
    "diratime": (True, km.MS_NODIRATIME), "nodiratime": (False, km.MS_NODIRATIME),
    "bind": (False, km.MS_BIND), "rbind": (False, km.MS_BIND | km.MS_REC),
    "relatime": (False, km.MS_RELATIME), "norelatime": (True, km.MS_RELATIME),
    "strictatime": (False, km.MS_STRICTATIME), "nostrictatime": (True, km.MS_STRICTATIME),
    "nosymfollow": (False, km.MS_NOSYMFOLLOW), "symfollow": (True, km.MS_NOSYMFOLLOW),
}  # fmt: skip
PROPAGATION_OPTIONS = {
    "private": km.MS_PRIVATE, "rprivate": km.MS_PRIVATE | km.MS_REC,
    "shared": km.MS_SHARED, "rshared": km.MS_SHARED | km.MS_REC,
    "slave": km.MS_SLAVE, "rslave": km.MS_SLAVE | km.MS_REC,
    "unbindable": km.MS_UNBINDABLE, "runbindable": km.MS_UNBINDABLE | km.MS_REC,
}  # fmt: skip
IGNORED_OPTIONS = ("tmpcopyup", "newinstance-ignored")
# statvfs f_flag bits -> the mount flags a bind remount must keep (locked in user namespaces)
_ST_TO_MS = ((1, km.MS_RDONLY), (2, km.MS_NOSUID), (4, km.MS_NODEV), (8, km.MS_NOEXEC),
             (1024, km.MS_NOATIME), (2048, km.MS_NODIRATIME), (4096, km.MS_RELATIME))  # fmt: skip

DEFAULT_DEVICES = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)  # fmt: skip
DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
)  # fmt: skip
MAX_SYMLINKS = 255


def resolve_in_root(root: str, path: str, what: str = "path") -> str:
    """The host path of container path ``path``, following symlinks inside ``root``.

    Absolute symlink targets are taken relative to ``root``; a target that climbs
    above ``root`` raises InvalidArgument naming the link.
    """
    parts = [p for p in path.split("/") if p and p != "."]
    done: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if not done:
                raise InvalidArgument(f"{what} {path}: '..' leaves the rootfs")
            done.pop()
            continue
        host = os.path.join(root, *done, part)
        try:
            target = os.readlink(host)
        except OSError:  # not a symlink, or missing: taken literally
            done.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise InvalidArgument(f"{what} {path}: too many levels of symlinks")
        link_in_ctr = "/" + "/".join([*done, part])
        if target.startswith("/"):
            done = []
        if climbs_above_root(len(done), target):
            raise InvalidArgument(
                f"{what} {path}: symlink {link_in_ctr} -> {target} points outside the rootfs"
            )
        parts = [p for p in target.split("/") if p and p != "."] + parts
    return os.path.join(root, *done)


def parse_options(options: list[str]) -> tuple[int, list[int], str]:
    """(mount flags, propagation flags to apply afterwards, fs-specific data)."""
    flags = 0
    propagation = []
    data = []
    for opt in options:
        if opt in FLAG_OPTIONS:
            clear, bit = FLAG_OPTIONS[opt]
            flags = flags & ~bit if clear else flags | bit
        elif opt in PROPAGATION_OPTIONS:
            propagation.append(PROPAGATION_OPTIONS[opt])
        elif opt in IGNORED_OPTIONS:
            continue
        elif opt in ("idmap", "ridmap"):
            raise InvalidArgument(f"mount option {opt!r} is not supported by dockyard-runtime")
        else:
            data.append(opt)
    return flags, propagation, ",".join(data)


def _locked_flags(path: str) -> int:
    f = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_TO_MS if f & st)


def _make_target(dest: str, source_is_dir: bool) -> None:
    if os.path.lexists(dest):
        return
    os.makedirs(dest if source_is_dir else os.path.dirname(dest), 0o755, exist_ok=True)
    if not source_is_dir:
        os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def bind(source: str, dest: str, flags: int, propagation: list[int]) -> None:
    """Bind ``source`` on ``dest``; a second remount applies ro/nosuid/... to the bind."""
    km.mount(source, dest, None, km.MS_BIND | (flags & km.MS_REC))
    extra = flags & ~(km.MS_BIND | km.MS_REC | km.MS_REMOUNT)
    if extra:
        km.mount(None, dest, None, km.MS_BIND | km.MS_REMOUNT | extra | _locked_flags(dest))
    for p in propagation:
        km.mount(None, dest, None, p)


def mount_one(rootfs: str, m: Mount, cgroup_dirs: dict[str, str]) -> None:
    dest = resolve_in_root(rootfs, m.destination, "mount destination")
    flags, propagation, data = parse_options(m.options)
    if m.is_bind:
        source = m.source
        if not os.path.exists(source):
            raise InvalidArgument(f"mount {m.destination}: source {source} does not exist")
        _make_target(dest, os.path.isdir(source))
        bind(source, dest, flags | km.MS_BIND, propagation)
        return
    _make_target(dest, True)
    if m.type == "cgroup":
        _mount_cgroup(dest, flags, cgroup_dirs)
        return
    try:
        km.mount(m.source or m.type, dest, m.type, flags, data or None)
    except PermissionError:
        # sysfs needs a new network namespace and mqueue a new ipc one; without them
        # the host's instance is bound in, as runc does
        host = {"sysfs": "/sys", "mqueue": "/dev/mqueue"}.get(m.type)
        if host is None:
            raise
        bind(host, dest, flags | km.MS_BIND | km.MS_REC, propagation)
        return
    for p in propagation:
        km.mount(None, dest, None, p)


def _mount_cgroup(dest: str, flags: int, cgroup_dirs: dict[str, str]) -> None:
    """/sys/fs/cgroup: a tmpfs with the container's own cgroup of each hierarchy bound in."""
    if set(cgroup_dirs) == {""}:  # pure cgroup v2: the container's own cgroup is the tree
        bind(cgroup_dirs[""], dest, km.MS_BIND | km.MS_REC | flags, [])
        return
    # v1 and hybrid, as runc: a writable tmpfs with each v1 hierarchy's container
    # cgroup bound in with the mount's flags (the hybrid cgroup2 mount is left out)
    km.mount("tmpfs", dest, "tmpfs", (flags & ~km.MS_RDONLY), "mode=755")
    done = set()
    for controller, hierarchy_dir in cgroup_dirs.items():
        if not controller:
            continue
        name = hierarchy_dir.split("/sys/fs/cgroup/", 1)[-1].split("/", 1)[0]
        if name in done or not name:
            continue
        done.add(name)
        target = os.path.join(dest, name)
        os.makedirs(target, exist_ok=True)
        bind(hierarchy_dir, target, km.MS_BIND | km.MS_REC | flags, [])
        if "," in name:  # cpu,cpuacct also answers as cpu and cpuacct
            for alias in name.split(","):
                link = os.path.join(dest, alias)
                if not os.path.lexists(link):
                    os.symlink(name, link)


def create_devices(rootfs: str, spec: Spec, in_userns: bool) -> None:
    """Default device nodes, the config's devices, and the /dev symlinks."""
    nodes = [(p, stat.S_IFCHR, ma, mi, 0o666, 0, 0) for p, ma, mi in DEFAULT_DEVICES]
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    for d in spec.devices:
        nodes.append(
            (
                d["path"],
                kinds[d["type"]],
                d.get("major", 0),
                d.get("minor", 0),
                d.get("fileMode", 0o666) & 0o7777,
                d.get("uid", 0),
                d.get("gid", 0),
            )
        )
    for path, kind, major, minor, mode, uid, gid in nodes:
        dest = resolve_in_root(rootfs, path, "device")
        os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
        if os.path.lexists(dest):
            os.unlink(dest)
        if in_userns:
            # mknod is not allowed in a user namespace: bind the host's node instead
            _make_target(dest, False)
            km.mount(path, dest, None, km.MS_BIND)
            continue
        mknod(dest, kind | mode, major, minor)
        os.chmod(dest, mode)
        os.chown(dest, uid, gid)
    for target, link in DEV_SYMLINKS:
        dest = os.path.join(rootfs, link.lstrip("/"))
        if not os.path.lexists(dest):
            os.symlink(target, dest)
    ptmx = os.path.join(rootfs, "dev/ptmx")
    if os.path.isdir(os.path.join(rootfs, "dev/pts")) and not os.path.lexists(ptmx):
        os.symlink("pts/ptmx", ptmx)
    if os.path.exists("/proc/kcore") and not os.path.lexists(os.path.join(rootfs, "dev/core")):
        os.symlink("/proc/kcore", os.path.join(rootfs, "dev/core"))


def prepare(
    spec: Spec, cgroup_dirs: dict[str, str], in_userns: bool, cgroup_ready: Callable[[], None]
) -> None:
    """Everything before pivot_root: propagation, the rootfs bind, mounts, /dev.
    ``cgroup_ready()`` blocks until the container's cgroup exists (before a cgroup mount)."""
    rootfs = spec.root_path
    propagation = PROPAGATION_OPTIONS.get(spec.rootfs_propagation, km.MS_SLAVE | km.MS_REC)
    km.mount(None, "/", None, propagation | km.MS_REC)
    km.mount(rootfs, rootfs, None, km.MS_BIND | km.MS_REC)
    dev_is_bound = False
    for m in spec.mounts:
        if m.type == "cgroup":
            cgroup_ready()
        mount_one(rootfs, m, cgroup_dirs)
        if m.destination.rstrip("/") == "/dev" and m.is_bind:
            dev_is_bound = True
    if not dev_is_bound:
        create_devices(rootfs, spec, in_userns)


def pivot(rootfs: str, no_pivot: bool = False) -> None:
    """Make ``rootfs`` the root; the old root is detached, nothing of the host stays."""
    os.chdir(rootfs)
    if no_pivot:
        # for roots that cannot be pivoted (initramfs): move the mount over / and chroot
        km.mount(rootfs, "/", None, km.MS_MOVE)
        os.chroot(".")
        os.chdir("/")
        return
    old = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    new = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        # pivot_root(".", ".") stacks the old root on top of the new one; no put_old dir
        km.pivot_root(".", ".")
        os.fchdir(old)
        km.mount(None, ".", None, km.MS_SLAVE | km.MS_REC)
        km.umount(".", km.MNT_DETACH)
        os.fchdir(new)
    finally:
        os.close(old)
        os.close(new)
    os.chdir("/")


def finish(spec: Spec) -> None:
    """After pivot_root: masked and read-only paths, then the read-only root."""
    for path in spec.masked_paths:
        if not os.path.lexists(path):
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            km.mount("tmpfs", path, "tmpfs", km.MS_RDONLY, None)
        else:
            km.mount("/dev/null", path, None, km.MS_BIND)
    for path in spec.readonly_paths:
        if not os.path.lexists(path):
            continue
        km.mount(path, path, None, km.MS_BIND | km.MS_REC)
        km.mount(None, path, None, km.MS_BIND | km.MS_REMOUNT | km.MS_RDONLY | _locked_flags(path))
    if spec.root_readonly:
        km.mount(None, "/", None, km.MS_BIND | km.MS_REMOUNT | km.MS_RDONLY | _locked_flags("/"))
