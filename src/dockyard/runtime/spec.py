"""The OCI runtime config (config.json), checked and typed.

Everything that can be wrong with a config is found here, before anything is created,
so a bad bundle leaves nothing behind. Models are plain slotted classes: this module
is on the container start path, and dataclasses/typing cost more than the whole parse.
"""

from __future__ import annotations

import os

from dockyard._internal import fastjson
from dockyard.errors import InvalidArgument, NotFound
from dockyard.kernel.capnames import CAP_NUMBERS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
HOOK_KINDS = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}  # fmt: skip
CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def _obj(v: Any, where: str) -> dict[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise InvalidArgument(f"{where}: expected an object, got {type(v).__name__}")
    return v


def _list(v: Any, where: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise InvalidArgument(f"{where}: expected a list, got {type(v).__name__}")
    return v


def _int(v: Any, where: str, default: int | None = None) -> int:
    if v is None and default is not None:
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidArgument(f"{where}: expected an integer, got {v!r}")
    return v


def _str(v: Any, where: str, default: str | None = None) -> str:
    if v is None and default is not None:
        return default
    if not isinstance(v, str):
        raise InvalidArgument(f"{where}: expected a string, got {v!r}")
    return v


def _strs(v: Any, where: str) -> list[str]:
    out = _list(v, where)
    for i, s in enumerate(out):
        _str(s, f"{where}[{i}]")
    return out


class Process:
    """``process`` of the config (also the form ``exec --process`` takes)."""

    __slots__ = (
        "additional_gids", "args", "caps", "console_size", "cwd", "env", "gid",
        "no_new_privileges", "oom_score_adj", "raw", "rlimits", "terminal", "uid", "umask",
    )  # fmt: skip

    def __init__(self, raw: dict[str, Any], where: str = "process") -> None:
        self.raw = raw
        self.terminal = bool(raw.get("terminal", False))
        user = _obj(raw.get("user"), f"{where}.user")
        self.uid = _int(user.get("uid"), f"{where}.user.uid", 0)
        self.gid = _int(user.get("gid"), f"{where}.user.gid", 0)
        self.umask: int | None = (
            None if user.get("umask") is None else _int(user["umask"], f"{where}.user.umask")
        )
        self.additional_gids = [
            _int(g, f"{where}.user.additionalGids")
            for g in _list(user.get("additionalGids"), f"{where}.user.additionalGids")
        ]
        self.args = _strs(raw.get("args"), f"{where}.args")
        if not self.args:
            raise InvalidArgument(f"{where}.args: must name the program to run")
        self.env = _strs(raw.get("env"), f"{where}.env")
        self.cwd = _str(raw.get("cwd"), f"{where}.cwd", "/")
        if not self.cwd.startswith("/"):
            raise InvalidArgument(f"{where}.cwd: must be an absolute path, got {self.cwd!r}")
        caps = _obj(raw.get("capabilities"), f"{where}.capabilities")
        self.caps: dict[str, int] = {}
        for kind in CAP_SETS:
            bits = 0
            for name in _strs(caps.get(kind), f"{where}.capabilities.{kind}"):
                n = CAP_NUMBERS.get(name)
                if n is None:
                    raise InvalidArgument(
                        f"{where}.capabilities.{kind}: unknown capability {name!r}"
                    )
                bits |= 1 << n
            self.caps[kind] = bits
        self.rlimits: list[tuple[str, int, int, int]] = []
        for i, rl in enumerate(_list(raw.get("rlimits"), f"{where}.rlimits")):
            rl = _obj(rl, f"{where}.rlimits[{i}]")
            name = _str(rl.get("type"), f"{where}.rlimits[{i}].type")
            if name not in RLIMITS:
                raise InvalidArgument(f"{where}.rlimits[{i}]: unknown rlimit type {name!r}")
            soft = _int(rl.get("soft"), f"{where}.rlimits[{i}].soft")
            hard = _int(rl.get("hard"), f"{where}.rlimits[{i}].hard")
            if soft > hard:
                raise InvalidArgument(f"{where}.rlimits[{i}]: {name} soft {soft} > hard {hard}")
            self.rlimits.append((name, RLIMITS[name], soft, hard))
        self.no_new_privileges = bool(raw.get("noNewPrivileges", False))
        self.oom_score_adj: int | None = (
            None
            if raw.get("oomScoreAdj") is None
            else _int(raw["oomScoreAdj"], f"{where}.oomScoreAdj")
        )
        size = _obj(raw.get("consoleSize"), f"{where}.consoleSize")
        self.console_size: tuple[int, int] | None = (
            (_int(size.get("height"), "consoleSize.height"), _int(size.get("width"), "width"))
            if size
            else None
        )


class Mount:
    __slots__ = ("destination", "options", "source", "type")

    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.destination = _str(raw.get("destination"), f"{where}.destination")
        if not self.destination.startswith("/"):
            raise InvalidArgument(
                f"{where}.destination: must be absolute, got {self.destination!r}"
            )
        self.type = _str(raw.get("type"), f"{where}.type", "")
        self.source = _str(raw.get("source"), f"{where}.source", "")
        self.options = _strs(raw.get("options"), f"{where}.options")

    @property
    def is_bind(self) -> bool:
        return self.type == "bind" or "bind" in self.options or "rbind" in self.options


class Spec:
    """A checked config.json. ``raw`` keeps the document for hooks and ``state``."""

    __slots__ = (
        "annotations", "bundle", "cgroups_path", "devices", "domainname", "gid_mappings",
        "hooks", "hostname", "masked_paths", "mounts", "namespaces", "oci_version",
        "process", "raw", "readonly_paths", "resources", "root_path", "root_readonly",
        "rootfs_propagation", "sysctl", "uid_mappings",
    )  # fmt: skip

    def __init__(self, raw: dict[str, Any], bundle: str) -> None:
        self.raw = raw
        self.bundle = bundle
        self.oci_version = _str(raw.get("ociVersion"), "ociVersion", "1.0.2")
        root = _obj(raw.get("root"), "root")
        path = _str(root.get("path"), "root.path", "rootfs")
        self.root_path = os.path.normpath(os.path.join(bundle, path))
        if not os.path.isdir(self.root_path):
            raise NotFound(f"rootfs {self.root_path} does not exist or is not a directory")
        self.root_readonly = bool(root.get("readonly", False))
        self.process = Process(_obj(raw["process"], "process")) if raw.get("process") else None
        self.hostname = _str(raw.get("hostname"), "hostname", "")
        self.domainname = _str(raw.get("domainname"), "domainname", "")
        self.mounts = [
            Mount(_obj(m, f"mounts[{i}]"), f"mounts[{i}]")
            for i, m in enumerate(_list(raw.get("mounts"), "mounts"))
        ]
        self.annotations = _obj(raw.get("annotations"), "annotations")
        self.hooks: dict[str, list[dict[str, Any]]] = {}
        hooks = _obj(raw.get("hooks"), "hooks")
        for kind, entries in hooks.items():
            if kind not in HOOK_KINDS:
                raise InvalidArgument(f"hooks: unknown hook kind {kind!r}")
            checked = []
            for i, h in enumerate(_list(entries, f"hooks.{kind}")):
                h = _obj(h, f"hooks.{kind}[{i}]")
                _str(h.get("path"), f"hooks.{kind}[{i}].path")
                _strs(h.get("args"), f"hooks.{kind}[{i}].args")
                _strs(h.get("env"), f"hooks.{kind}[{i}].env")
                if h.get("timeout") is not None and _int(h["timeout"], "timeout") <= 0:
                    raise InvalidArgument(f"hooks.{kind}[{i}].timeout: must be positive")
                checked.append(h)
            self.hooks[kind] = checked
        linux = _obj(raw.get("linux"), "linux")
        self.namespaces: list[tuple[str, str | None]] = []
        seen = set()
        for i, ns in enumerate(_list(linux.get("namespaces"), "linux.namespaces")):
            ns = _obj(ns, f"linux.namespaces[{i}]")
            kind = _str(ns.get("type"), f"linux.namespaces[{i}].type")
            if kind not in NAMESPACE_TYPES:
                raise InvalidArgument(
                    f"linux.namespaces[{i}]: unknown namespace type {kind!r} "
                    f"(known: {', '.join(NAMESPACE_TYPES)})"
                )
            if kind in seen:
                raise InvalidArgument(f"linux.namespaces: {kind} is listed twice")
            seen.add(kind)
            nspath = ns.get("path")
            if nspath is not None and not os.path.exists(_str(nspath, "path")):
                raise NotFound(f"linux.namespaces[{i}]: {kind} namespace {nspath} does not exist")
            self.namespaces.append((kind, nspath or None))
        self.uid_mappings = _mappings(linux.get("uidMappings"), "linux.uidMappings")
        self.gid_mappings = _mappings(linux.get("gidMappings"), "linux.gidMappings")
        if self.new_namespace("user"):
            if not self.uid_mappings or not self.gid_mappings:
                raise InvalidArgument(
                    "linux: a new user namespace needs uidMappings and gidMappings"
                )
        elif (self.uid_mappings or self.gid_mappings) and not self.has_namespace("user"):
            raise InvalidArgument("linux: uid/gid mappings given without a user namespace")
        if self.hostname and not self.new_namespace("uts"):
            raise InvalidArgument("hostname: setting it needs a new uts namespace")
        if not self.new_namespace("mount"):
            raise InvalidArgument("linux.namespaces: dockyard-runtime needs a new mount namespace")
        self.sysctl = {
            _str(k, "linux.sysctl"): _str(v, f"linux.sysctl.{k}")
            for k, v in _obj(linux.get("sysctl"), "linux.sysctl").items()
        }
        for key in self.sysctl:
            need = _sysctl_namespace(key)
            if need is None:
                raise InvalidArgument(
                    f"linux.sysctl: {key} is not namespaced; setting it would change the host"
                )
            if not self.new_namespace(need) and not self.has_namespace(need):
                raise InvalidArgument(f"linux.sysctl: {key} needs a {need} namespace")
        self.masked_paths = _strs(linux.get("maskedPaths"), "linux.maskedPaths")
        self.readonly_paths = _strs(linux.get("readonlyPaths"), "linux.readonlyPaths")
        self.devices = [
            _device(_obj(d, f"linux.devices[{i}]"), f"linux.devices[{i}]")
            for i, d in enumerate(_list(linux.get("devices"), "linux.devices"))
        ]
        self.resources = _obj(linux.get("resources"), "linux.resources")
        cg = linux.get("cgroupsPath")
        self.cgroups_path = None if cg is None else _str(cg, "linux.cgroupsPath")
        self.rootfs_propagation = _str(linux.get("rootfsPropagation"), "rootfsPropagation", "")

    def has_namespace(self, kind: str) -> bool:
        return any(k == kind for k, _ in self.namespaces)

    def new_namespace(self, kind: str) -> bool:
        return any(k == kind and p is None for k, p in self.namespaces)


IPC_SYSCTLS = (
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
)  # fmt: skip


def _sysctl_namespace(key: str) -> str | None:
    """The namespace that scopes sysctl ``key``, or None if it is host-wide."""
    if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
        return "ipc"
    if key.startswith("net."):
        return "network"
    if key in ("kernel.hostname", "kernel.domainname"):
        return "uts"
    return None


def _mappings(v: Any, where: str) -> list[tuple[int, int, int]]:
    out = []
    for i, m in enumerate(_list(v, where)):
        m = _obj(m, f"{where}[{i}]")
        c = _int(m.get("containerID"), f"{where}[{i}].containerID")
        h = _int(m.get("hostID"), f"{where}[{i}].hostID")
        n = _int(m.get("size"), f"{where}[{i}].size")
        if c < 0 or h < 0 or n <= 0 or c + n > 2**32 - 1 or h + n > 2**32 - 1:
            raise InvalidArgument(
                f"{where}[{i}]: invalid mapping containerID={c} hostID={h} size={n}"
            )
        out.append((c, h, n))
    spans = sorted((c, c + n) for c, _, n in out)
    for i in range(1, len(spans)):
        start, end = spans[i][0], spans[i - 1][1]
        if start < end:
            raise InvalidArgument(f"{where}: container id ranges overlap")
    return out


def _device(d: dict[str, Any], where: str) -> dict[str, Any]:
    path = _str(d.get("path"), f"{where}.path")
    kind = _str(d.get("type"), f"{where}.type")
    if kind not in ("c", "b", "u", "p"):
        raise InvalidArgument(f"{where}.type: expected c, b, u or p, got {kind!r}")
    if kind != "p":
        _int(d.get("major"), f"{where}.major")
        _int(d.get("minor"), f"{where}.minor")
    if not path.startswith("/dev/"):
        raise InvalidArgument(f"{where}.path: must be under /dev, got {path!r}")
    return d


def load(bundle: str) -> Spec:
    """Read and check ``<bundle>/config.json``."""
    bundle = os.path.abspath(bundle)
    if not os.path.exists(bundle):
        raise NotFound(f"bundle {bundle} does not exist")
    if not os.path.isdir(bundle):
        raise InvalidArgument(f"bundle {bundle} is not a directory")
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = fastjson.loads(f.read())
    except FileNotFoundError:
        raise NotFound(f"{path} not found: run 'dockyard-runtime spec' to make one") from None
    except ValueError as e:
        raise InvalidArgument(f"{path}: {e}") from None
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{path}: expected a JSON object")
    if not raw.get("process"):
        raise InvalidArgument(f"{path}: process is required to create a container")
    return Spec(raw, bundle)
