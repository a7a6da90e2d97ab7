"""IP address management: pools, allocation, persistence across a "restart", overlaps."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import Conflict, InvalidArgument
from dockyard.network.ipam import IPv4Network, Pool, PoolFile, check_overlap, pick_subnet


def test_allocation_skips_network_gateway_and_broadcast() -> None:
    pool = Pool.create("10.5.0.0/29")
    assert str(pool.gateway) == "10.5.0.1"
    got = [str(pool.allocate(f"e{i}")) for i in range(5)]
    assert got == ["10.5.0.2", "10.5.0.3", "10.5.0.4", "10.5.0.5", "10.5.0.6"]
    with pytest.raises(Conflict, match="no free address"):
        pool.allocate("e6")
    pool.release("10.5.0.4")
    assert str(pool.allocate("e7")) == "10.5.0.4"


def test_gateway_ip_range_and_preferred_address() -> None:
    pool = Pool.create("10.6.0.0/24", gateway="10.6.0.254", ip_range="10.6.0.128/25")
    assert str(pool.allocate("a")) == "10.6.0.129"
    assert str(pool.allocate("b", preferred="10.6.0.9")) == "10.6.0.9"
    with pytest.raises(Conflict, match="already in use"):
        pool.allocate("c", preferred="10.6.0.9")
    with pytest.raises(InvalidArgument, match="not a free host address"):
        pool.allocate("c", preferred="10.6.0.254")
    with pytest.raises(InvalidArgument, match="not a free host address"):
        pool.allocate("c", preferred="10.7.0.3")
    assert pool.release_owner("b") == ["10.6.0.9"]


@pytest.mark.parametrize(
    ("subnet", "gateway", "ip_range", "message"),
    [
        ("10.0.0.0/33", "", "", "invalid subnet"),
        ("nonsense", "", "", "invalid subnet"),
        ("10.0.0.5/24", "", "", "host bits"),
        ("10.0.0.0/24", "10.0.1.1", "", "gateway"),
        ("10.0.0.0/24", "10.0.0.0", "", "gateway"),
        ("10.0.0.0/24", "", "10.0.1.0/25", "ip-range"),
        ("fd00::/64", "", "", "only IPv4"),
    ],
)
def test_bad_pool_input(subnet: str, gateway: str, ip_range: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        Pool.create(subnet, gateway, ip_range)


def test_allocations_survive_a_reload(tmp_path: Path) -> None:
    path = tmp_path / "pools" / "net1.json"
    first = PoolFile(path, Pool.create("172.40.0.0/16"))
    first.save()
    a = first.allocate("ep-a")
    b = first.allocate("ep-b")
    # a restarted daemon reads the file: the two addresses are not handed out again
    again = PoolFile.load(path)
    c = again.allocate("ep-c")
    assert len({a, b, c}) == 3
    assert again.release_owner("ep-a") == [str(a)]
    assert str(PoolFile.load(path).allocate("ep-d")) == str(a)


def test_overlap_and_subnet_choice() -> None:
    taken = [
        ("network bridge", IPv4Network("172.30.0.0/16")),
        ("network web", IPv4Network("172.17.0.0/16")),
    ]
    with pytest.raises(Conflict, match=r"overlaps with 172\.30\.0\.0/16 of network bridge"):
        check_overlap(IPv4Network("172.30.5.0/24"), taken)
    check_overlap(IPv4Network("172.29.0.0/16"), taken)
    assert str(pick_subnet(n for _, n in taken)) == "172.18.0.0/16"
    assert str(pick_subnet([IPv4Network("172.16.0.0/12")])) == "192.168.0.0/20"
