"""``-p`` specs as Docker parses them, the API's PortBindings and host port choice."""

from __future__ import annotations

import random

import pytest

from dockyard.errors import Conflict, InvalidArgument
from dockyard.network.ports import (
    EPHEMERAL_FIRST,
    EPHEMERAL_LAST,
    PortMapping,
    choose_host_port,
    exposed_mappings,
    from_bindings,
    parse_spec,
    to_bindings,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [PortMapping(80)]),
        ("53/udp", [PortMapping(53, "udp")]),
        ("8080:80", [PortMapping(80, "tcp", "", 8080)]),
        ("127.0.0.1:8080:80/udp", [PortMapping(80, "udp", "127.0.0.1", 8080)]),
        ("127.0.0.1::80", [PortMapping(80, "tcp", "127.0.0.1")]),
        ("[::1]:8080:80", [PortMapping(80, "tcp", "::1", 8080)]),
        (
            "8000-8001:80-81",
            [PortMapping(80, "tcp", "", 8000), PortMapping(81, "tcp", "", 8001)],
        ),
        ("80-81", [PortMapping(80), PortMapping(81)]),
        ("9000-9009:80", [PortMapping(80, "tcp", "", 0, (9000, 9009))]),
    ],
)
def test_parse_spec(spec: str, expected: list[PortMapping]) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("abc", "invalid port"),
        ("0", "invalid port"),
        ("70000", "invalid port"),
        ("80/icmp", "invalid protocol"),
        ("8000-8002:80-81", "differ in length"),
        ("90-80", "end is before the start"),
        ("1.2.3:80:80", "invalid ip address"),
        ("a:b:c:d", "too many colons"),
        ("8080:", "no container port"),
    ],
)
def test_malformed_specs(spec: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_spec(spec)


def test_bindings_round_trip() -> None:
    mappings = [
        PortMapping(80, "tcp", "", 8080),
        PortMapping(80, "tcp", "127.0.0.1", 8081),
        PortMapping(53, "udp"),
        PortMapping(22, "tcp", "", 0, (2200, 2210)),
    ]
    bindings = to_bindings(mappings)
    assert bindings["80/tcp"] == [
        {"HostIp": "", "HostPort": "8080"},
        {"HostIp": "127.0.0.1", "HostPort": "8081"},
    ]
    assert bindings["22/tcp"] == [{"HostIp": "", "HostPort": "2200-2210"}]
    assert from_bindings(bindings) == mappings
    assert from_bindings({"443": None}) == [PortMapping(443)]
    with pytest.raises(InvalidArgument):
        from_bindings({"x/tcp": [{}]})


def test_choose_host_port() -> None:
    rng = random.Random(7)
    assert choose_host_port(PortMapping(80, host_port=8080), set()) == 8080
    with pytest.raises(Conflict, match="already allocated"):
        choose_host_port(PortMapping(80, host_port=8080), {("tcp", 8080)})
    # a free port of the range, never a taken one
    taken = {("tcp", p) for p in range(9000, 9009)}
    assert choose_host_port(PortMapping(80, host_range=(9000, 9009)), taken, rng) == 9009
    with pytest.raises(Conflict, match="no free host port"):
        choose_host_port(PortMapping(80, host_range=(9000, 9008)), taken, rng)
    port = choose_host_port(PortMapping(80), set(), rng)
    assert EPHEMERAL_FIRST <= port <= EPHEMERAL_LAST
    # udp and tcp ports are separate
    assert choose_host_port(PortMapping(53, "udp", host_port=8080), {("tcp", 8080)}) == 8080
    assert exposed_mappings(["80/tcp", "53/udp"]) == [PortMapping(80), PortMapping(53, "udp")]
