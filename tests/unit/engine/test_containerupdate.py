"""``resource_update``: dockerd's checks of ``POST /containers/{id}/update``."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.engine.containerupdate import has_cgroup_writes, resource_update
from dockyard.errors import Conflict, InvalidArgument

MIB = 1024 * 1024


def test_memory_pids_and_shares() -> None:
    change = resource_update({}, {"Memory": 64 * MIB, "PidsLimit": 20, "CpuShares": 512}, 2)
    assert change.host_config == {"Memory": 64 * MIB, "PidsLimit": 20, "CpuShares": 512}
    r = change.resources
    assert (r.memory_limit, r.pids_limit, r.cpu_shares, r.memory_swap) == (64 * MIB, 20, 512, None)


def test_nano_cpus_become_a_cfs_quota() -> None:
    r = resource_update({}, {"NanoCpus": 1_500_000_000}, 2).resources
    assert (r.cpu_quota, r.cpu_period) == (150_000, 100_000)


def test_pids_limit_zero_or_negative_is_unlimited() -> None:
    assert resource_update({}, {"PidsLimit": 0}, 2).resources.pids_limit == -1
    assert resource_update({}, {"PidsLimit": -1}, 2).resources.pids_limit == -1
    assert resource_update({}, {}, 2).resources.pids_limit is None


def test_restart_policy_alone_writes_no_cgroup() -> None:
    change = resource_update({}, {"RestartPolicy": {"Name": "always"}}, 2)
    assert change.host_config == {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}}
    assert not has_cgroup_writes(change.resources)
    assert has_cgroup_writes(resource_update({}, {"CpusetCpus": "0-1"}, 2).resources)


@pytest.mark.parametrize(
    ("current", "body", "message"),
    [
        ({}, {"Memory": MIB}, "Minimum memory limit allowed is 6MB"),
        ({}, {"MemoryReservation": MIB}, "Minimum memory reservation allowed is 6MB"),
        ({}, {"Memory": 64 * MIB, "MemorySwap": 32 * MIB}, "should be larger than memory limit"),
        ({}, {"MemorySwap": 64 * MIB}, "always set the Memory limit"),
        ({}, {"NanoCpus": 10**9, "CpuPeriod": 50000}, "Nano CPUs and CPU Period"),
        ({"NanoCpus": 10**9}, {"CpuQuota": 50000}, "NanoCPUs has already been set"),
        ({"CpuPeriod": 50000}, {"NanoCpus": 10**9}, "CPU Period has already been set"),
        ({}, {"NanoCpus": 3 * 10**9}, "Range of CPUs is from 0.01 to 2.00"),
        ({}, {"CpuPeriod": 500}, "CPU cfs period can not be less than 1ms"),
        ({}, {"CpuQuota": 500}, "CPU cfs quota can not be less than 1ms"),
        ({}, {"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
        ({}, {"CpusetCpus": "0-7"}, "Requested CPUs are not available - requested 0-7"),
        ({}, {"CpusetCpus": "zero"}, "invalid value zero for cpuset cpus"),
        ({}, {"Memory": "64m"}, "Memory: expected an integer"),
        ({}, {"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy 'sometimes'"),
        ({}, {"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}, "cannot be used"),
    ],
)
def test_invalid_updates(current: dict[str, Any], body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        resource_update(current, body, 2)


def test_memory_above_the_swap_already_set_is_a_conflict() -> None:
    # created with --memory 32m: swap is implicitly twice that (64m)
    with pytest.raises(Conflict, match="update the memoryswap at the same time"):
        resource_update({"Memory": 32 * MIB}, {"Memory": 128 * MIB}, 2)
    change = resource_update({"Memory": 32 * MIB}, {"Memory": 128 * MIB, "MemorySwap": -1}, 2)
    assert (change.resources.memory_limit, change.resources.memory_swap) == (128 * MIB, -1)
    # a raise that stays within the swap is fine
    assert resource_update({"Memory": 32 * MIB}, {"Memory": 48 * MIB}, 2).resources.memory_limit
