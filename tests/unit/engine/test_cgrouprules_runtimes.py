"""Pure parsing of the per-container runtime (``engine/runtimes.py``), the device cgroup
rules and ``OomKillDisable`` (``engine/cgrouprules.py``) and what they put in the OCI
spec; the cgroup v1 manager's ``memory.oom_control`` write against a fake hierarchy."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from dockyard.cgroups import Resources, manager_for
from dockyard.engine import cgrouprules, specgen
from dockyard.engine.runtimes import BUILTIN_NAME, RuntimeRegistry
from dockyard.errors import InvalidArgument
from tests.unit.cgroups.fakes import FakeV1

REGISTRY = RuntimeRegistry(
    "runc", MappingProxyType({"dockyard": "dockyard-runtime", "runc": "/usr/sbin/runc"})
)


def test_create_stores_the_default_runtime_name() -> None:
    hc: dict[str, Any] = {}
    assert REGISTRY.choose(hc) == "runc"
    assert hc["Runtime"] == "runc"
    hc = {"Runtime": "dockyard"}
    assert REGISTRY.choose(hc) == "dockyard"
    assert REGISTRY.path_for_start(hc).endswith("dockyard-runtime")
    assert REGISTRY.path_for_start({"Runtime": "runc"}) == "/usr/sbin/runc"


@pytest.mark.parametrize("name", ["crun", "RUNC", " runc", 3])
def test_unknown_runtime_names_are_refused(name: object) -> None:
    with pytest.raises(InvalidArgument) as e:
        REGISTRY.choose({"Runtime": name})
    assert str(e.value) == f"unknown or invalid runtime name: {name}"


def test_existing_containers_keep_their_runtime() -> None:
    assert REGISTRY.name_of({}) == "runc"  # records from before Runtime was stored
    assert REGISTRY.name_of({"Runtime": "dockyard"}) == "dockyard"
    # a name the daemon no longer knows: start refuses, the other verbs still find it
    gone = {"Runtime": "sh"}
    with pytest.raises(InvalidArgument, match="unknown or invalid runtime name: sh"):
        REGISTRY.path_for_start(gone)
    assert REGISTRY.path_of(gone).endswith("/sh")
    assert REGISTRY.path_of({"Runtime": "dyt-nowhere"}) == "/usr/sbin/runc"  # the default


def test_a_single_binary_registry() -> None:
    assert RuntimeRegistry.single("dockyard-runtime").default == BUILTIN_NAME
    ours = RuntimeRegistry.single("/opt/x/bin/dockyard-runtime")
    assert (
        ours.default == BUILTIN_NAME and ours.paths[BUILTIN_NAME] == "/opt/x/bin/dockyard-runtime"
    )
    runc = RuntimeRegistry.single("/usr/sbin/runc")
    assert runc.default == "runc" and runc.paths["runc"] == "/usr/sbin/runc"


@pytest.mark.parametrize(
    ("rule", "entry"),
    [
        ("c 1:3 rwm", {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}),
        ("a *:* rwm", {"allow": True, "type": "a", "access": "rwm"}),
        ("b 8:* r", {"allow": True, "type": "b", "major": 8, "access": "r"}),
        ("c *:12 mw", {"allow": True, "type": "c", "minor": 12, "access": "mw"}),
    ],
)
def test_device_cgroup_rules(rule: str, entry: dict[str, Any]) -> None:
    assert cgrouprules.parse_rule(rule) == entry
    # what the runtime's own parser reads back
    parsed = Resources.from_oci({"devices": [entry]}).devices[0]
    assert parsed.line() == rule.replace("mw", "wm")


@pytest.mark.parametrize(
    "rule", ["c 1:3", "x 1:3 rwm", "c 1:3 rwx", "c 1:3 rwmr", "c a:3 r", " c 1:3 r", "c 1 3 r", ""]
)
def test_bad_device_cgroup_rules(rule: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        cgrouprules.check({"DeviceCgroupRules": [rule]})
    assert str(e.value) == f"invalid device cgroup rule format: '{rule}'"


def spec(tmp_path: Path, hc: dict[str, Any]) -> dict[str, Any]:
    return specgen.container_spec(
        "c" * 64, {"Cmd": ["sh"]}, hc, rootfs=tmp_path, files=tmp_path, cgroups_path="/x/c",
        network_mode="none",
    )  # fmt: skip


def test_rules_follow_the_defaults_in_the_spec(tmp_path: Path) -> None:
    plain = spec(tmp_path, {})["linux"]["resources"]["devices"]
    ruled = spec(tmp_path, {"DeviceCgroupRules": ["c 10:229 rw", "b 7:* r"]})
    devices = ruled["linux"]["resources"]["devices"]
    assert devices[: len(plain)] == plain
    assert devices[len(plain) :] == [
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"},
        {"allow": True, "type": "b", "major": 7, "access": "r"},
    ]
    privileged = spec(tmp_path, {"Privileged": True, "DeviceCgroupRules": ["c 10:229 rw"]})
    assert privileged["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]


def test_oom_kill_disable_in_the_spec(tmp_path: Path) -> None:
    memory = spec(tmp_path, {"OomKillDisable": True, "Memory": 1 << 24})["linux"]["resources"]
    assert memory["memory"]["disableOOMKiller"] is True
    assert "memory" not in spec(tmp_path, {"OomKillDisable": False})["linux"]["resources"]


def test_oom_kill_disable_warnings(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "memory.oom_control").write_text("oom_kill_disable 0\n")
    hc: dict[str, Any] = {"OomKillDisable": True}
    assert cgrouprules.check(hc, tmp_path) == [cgrouprules.NO_MEMORY_LIMIT]
    assert cgrouprules.check({"OomKillDisable": True, "Memory": 1 << 24}, tmp_path) == []
    assert cgrouprules.check({"OomKillDisable": False}, tmp_path) == []
    # no v1 memory controller (cgroup v2): discarded, as dockerd does
    hc = {"OomKillDisable": True, "Memory": 1 << 24}
    assert cgrouprules.check(hc, tmp_path / "v2") == [cgrouprules.NO_OOM_CONTROL]
    assert hc["OomKillDisable"] is None
    with pytest.raises(InvalidArgument, match="OomKillDisable: expected true or false"):
        cgrouprules.check({"OomKillDisable": "yes"}, tmp_path)


def test_v1_manager_writes_oom_control(tmp_path: Path) -> None:
    fake = FakeV1(tmp_path)
    fake.cgroup("/dockyard/c1")
    manager = manager_for("/dockyard/c1", fake.root)
    oom = Path(manager.paths()["memory"], "memory.oom_control")
    oom.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    manager.set(Resources(memory_limit=1 << 24))
    assert oom.read_text().startswith("oom_kill_disable 0")
    manager.set(Resources.from_oci({"memory": {"disableOOMKiller": True}}))
    assert oom.read_text() == "1"
