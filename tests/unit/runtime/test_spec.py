"""config.json checking: every bad field is found before anything is created."""

import json
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import InvalidArgument, NotFound
from dockyard.runtime import spec
from dockyard.runtime.specgen import default_spec


def bundle_with(tmp_path: Path, change: Any = None) -> Path:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    cfg = default_spec()
    if change:
        change(cfg)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return tmp_path


def test_default_spec_loads(tmp_path: Path) -> None:
    s = spec.load(str(bundle_with(tmp_path)))
    assert s.root_path == str(tmp_path / "rootfs")
    assert s.root_readonly
    assert s.new_namespace("pid") and not s.has_namespace("user")
    assert s.process is not None and s.process.args == ["sh"]
    assert s.process.caps["bounding"] == (1 << 29) | (1 << 5) | (1 << 10)
    assert s.process.rlimits == [("RLIMIT_NOFILE", 7, 1024, 1024)]


def set_ns(cfg: Any, ns: list[dict[str, str]]) -> None:
    cfg["linux"]["namespaces"] = ns


@pytest.mark.parametrize(
    ("change", "kind", "message"),
    [
        (lambda c: set_ns(c, [{"type": "mount"}, {"type": "bogus"}]), InvalidArgument,
         "unknown namespace type 'bogus'"),
        (lambda c: set_ns(c, [{"type": "mount"}, {"type": "user"}]), InvalidArgument,
         "needs uidMappings and gidMappings"),
        (lambda c: c["linux"].update(namespaces=[{"type": "mount"}, {"type": "user"}],
                                     uidMappings=[{"containerID": 0, "hostID": 0, "size": 0}],
                                     gidMappings=[]),
         InvalidArgument, "invalid mapping containerID=0 hostID=0 size=0"),
        (lambda c: c["linux"].update(namespaces=[{"type": "mount"}, {"type": "user"}],
                                     uidMappings=[{"containerID": 0, "hostID": 0, "size": 10},
                                                  {"containerID": 5, "hostID": 100, "size": 10}],
                                     gidMappings=[{"containerID": 0, "hostID": 0, "size": 1}]),
         InvalidArgument, "container id ranges overlap"),
        (lambda c: (set_ns(c, [{"type": "pid"}]), c.pop("hostname")), InvalidArgument,
         "needs a new mount namespace"),
        (lambda c: set_ns(c, [{"type": "mount"}, {"type": "network", "path": "/nonexistent"}]),
         NotFound, "network namespace /nonexistent does not exist"),
        (lambda c: c["process"].update(args=[]), InvalidArgument, "must name the program"),
        (lambda c: c["process"].update(cwd="relative"), InvalidArgument, "must be an absolute"),
        (lambda c: c["process"]["capabilities"].update(bounding=["CAP_BOGUS"]), InvalidArgument,
         "unknown capability 'CAP_BOGUS'"),
        (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_X", "soft": 1, "hard": 1}]),
         InvalidArgument, "unknown rlimit type 'RLIMIT_X'"),
        (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 9, "hard": 1}]),
         InvalidArgument, "soft 9 > hard 1"),
        (lambda c: c["root"].update(path="missing"), NotFound, "rootfs .*missing does not exist"),
        (lambda c: c.update(hooks={"prestrat": []}), InvalidArgument, "unknown hook kind"),
        (lambda c: c["mounts"].append({"destination": "rel", "type": "tmpfs"}), InvalidArgument,
         "must be absolute"),
        (lambda c: c["process"]["user"].update(uid="root"), InvalidArgument,
         "process.user.uid: expected an integer"),
    ],
)  # fmt: skip
def test_bad_configs_are_refused_with_the_field_named(
    tmp_path: Path, change: Any, kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message):
        spec.load(str(bundle_with(tmp_path, change)))


def test_bundle_must_be_a_directory(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(InvalidArgument, match="is not a directory"):
        spec.load(str(f))


def test_malformed_json_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{\n  "process": ,\n}')
    with pytest.raises(InvalidArgument, match="line 2 column 14"):
        spec.load(str(tmp_path))


@pytest.mark.parametrize(
    ("sysctl", "message"),
    [
        ({"kernel.panic": "1"}, "kernel.panic is not namespaced"),
        ({"vm.swappiness": "1"}, "vm.swappiness is not namespaced"),
    ],
)
def test_host_wide_sysctls_are_refused(
    tmp_path: Path, sysctl: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        spec.load(str(bundle_with(tmp_path, lambda c: c["linux"].update(sysctl=sysctl))))


def test_namespaced_sysctls_are_accepted(tmp_path: Path) -> None:
    s = spec.load(
        str(bundle_with(tmp_path, lambda c: c["linux"].update(
            sysctl={"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"})))
    )  # fmt: skip
    assert s.sysctl == {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}
