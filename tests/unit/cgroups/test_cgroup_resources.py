"""Resources.from_oci: the typed form of linux.resources, and its error messages."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard import errors
from dockyard.cgroups import DeviceRule, Resources

DOCKER_LIKE: dict[str, Any] = {
    "devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    ],
    "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
    "pids": {"limit": 100},
    "blockIO": {"weight": 300},
}


def test_none_and_empty_mean_no_limits() -> None:
    assert Resources.from_oci(None) == Resources()
    assert Resources.from_oci({}) == Resources()
    assert Resources().devices == ()


def test_full_spec_is_typed() -> None:
    r = Resources.from_oci(DOCKER_LIKE)
    assert r == Resources(
        memory_limit=64 << 20,
        memory_reservation=32 << 20,
        memory_swap=128 << 20,
        cpu_shares=512,
        cpu_quota=50000,
        cpu_period=100000,
        cpuset_cpus="0-1",
        cpuset_mems="0",
        pids_limit=100,
        blkio_weight=300,
        devices=(
            DeviceRule(allow=False),
            DeviceRule(allow=True, type="c", major=1, minor=3),
            DeviceRule(allow=True, type="c", major=136, minor=None),
        ),
    )


def test_device_rule_lines() -> None:
    rules = Resources.from_oci(DOCKER_LIKE).devices
    assert [r.line() for r in rules] == ["a *:* rwm", "c 1:3 rwm", "c 136:* rwm"]


def test_access_is_canonicalised_and_minus_one_is_wildcard() -> None:
    (rule,) = Resources.from_oci(
        {"devices": [{"allow": True, "type": "b", "major": -1, "minor": 5, "access": "mr"}]}
    ).devices
    assert rule.line() == "b *:5 rm"


def test_zero_means_unset_as_runc() -> None:
    r = Resources.from_oci(
        {
            "memory": {"limit": 0, "swap": 0},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": ""},
            "blockIO": {"weight": 0},
        }
    )
    assert r == Resources()


def test_unlimited_values_are_kept() -> None:
    r = Resources.from_oci(
        {"memory": {"limit": -1, "swap": -1}, "cpu": {"quota": -1}, "pids": {"limit": -1}}
    )
    assert (r.memory_limit, r.memory_swap, r.cpu_quota, r.pids_limit) == (-1, -1, -1, -1)


@pytest.mark.parametrize(("shares", "weight"), [(2, 1), (1024, 39), (262144, 10000), (512, 20)])
def test_cpu_weight_from_shares_as_runc(shares: int, weight: int) -> None:
    assert Resources(cpu_shares=shares).cpu_weight == weight
    assert Resources().cpu_weight is None


def test_io_weight_from_blkio_weight() -> None:
    assert Resources(blkio_weight=10).io_weight == 1
    assert Resources(blkio_weight=1000).io_weight == 10000
    assert Resources().io_weight is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"memory": {"limit": "abc"}},
            "linux.resources.memory.limit: expected an integer, got 'abc'",
        ),
        ({"memory": {"limit": True}}, "linux.resources.memory.limit: expected an integer"),
        ({"memory": {"limit": 1.5}}, "linux.resources.memory.limit: expected an integer"),
        ({"memory": {"swap": -2}}, "linux.resources.memory.swap: expected a byte count"),
        ({"memory": {"limit": 100, "swap": 50}}, "linux.resources.memory.swap: 50 is below"),
        ({"memory": []}, "linux.resources.memory: expected an object"),
        ({"cpu": {"shares": 1}}, "linux.resources.cpu.shares: 1 is outside 2..262144"),
        ({"cpu": {"shares": 300000}}, "linux.resources.cpu.shares: 300000 is outside"),
        ({"cpu": {"quota": -5}}, "linux.resources.cpu.quota: expected an integer >= -1"),
        ({"cpu": {"period": "x"}}, "linux.resources.cpu.period: expected an integer"),
        ({"cpu": {"cpus": "0-a"}}, "linux.resources.cpu.cpus: expected a list like '0-3,5'"),
        ({"cpu": {"mems": 3}}, "linux.resources.cpu.mems: expected a list"),
        ({"pids": {"limit": "10"}}, "linux.resources.pids.limit: expected an integer"),
        ({"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight: 5 is outside 10..1000"),
        ({"devices": {}}, "linux.resources.devices: expected a list"),
        ({"devices": ["x"]}, "linux.resources.devices[0]: expected an object"),
        ({"devices": [{"access": "r"}]}, "linux.resources.devices[0].allow: expected true"),
        (
            {"devices": [{"allow": True}, {"allow": True, "type": "x"}]},
            "linux.resources.devices[1].type: expected 'a', 'b' or 'c', got 'x'",
        ),
        (
            {"devices": [{"allow": True, "major": "1"}]},
            "linux.resources.devices[0].major: expected a device number",
        ),
        (
            {"devices": [{"allow": True, "access": "rwx"}]},
            "linux.resources.devices[0].access: expected letters from 'rwm', got 'rwx'",
        ),
        ("nope", "linux.resources: expected an object"),
    ],
)
def test_bad_fields_are_named(spec: Any, message: str) -> None:
    with pytest.raises(errors.InvalidArgument) as info:
        Resources.from_oci(spec)
    assert message in str(info.value)


def test_unknown_keys_are_ignored() -> None:
    r = Resources.from_oci({"hugepageLimits": [], "memory": {"kernel": 5, "limit": 10}})
    assert r == Resources(memory_limit=10)


def test_memory_swappiness() -> None:
    assert Resources.from_oci({"memory": {"swappiness": 0}}).memory_swappiness == 0
    assert Resources.from_oci({"memory": {"swappiness": 60}}).memory_swappiness == 60
    assert Resources.from_oci({"memory": {}}).memory_swappiness is None
    for bad in (101, -1, "10"):
        with pytest.raises(errors.InvalidArgument, match=r"memory\.swappiness"):
            Resources.from_oci({"memory": {"swappiness": bad}})
