"""The embedded DNS server's message codec: queries parsed, answers built."""

from __future__ import annotations

import struct

import pytest

from dockyard.network.dns import (
    RCODE_SERVFAIL,
    TYPE_A,
    build_answer,
    host_resolvers,
    parse_query,
)


def query(name: str, qtype: int = TYPE_A, ident: int = 0x1234) -> bytes:
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # RD
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return header + labels + b"\0" + struct.pack("!HH", qtype, 1)


def test_parse_and_answer() -> None:
    data = query("Web.Example")
    q = parse_query(data)
    assert (q.id, q.name, q.qtype, q.qclass, q.end) == (0x1234, "web.example", TYPE_A, 1, len(data))
    reply = build_answer(data, q, ["10.1.2.3", "10.1.2.4"])
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", reply[:12])
    assert (ident, qd, an, ns, ar) == (0x1234, 1, 2, 0, 0)
    assert flags & 0x8000 and flags & 0x0100 and flags & 0x000F == 0  # response, RD kept, ok
    assert reply[12 : q.end] == data[12:]
    first = reply[q.end : q.end + 16]
    assert struct.unpack("!HHHIH", first[:12]) == (0xC00C, TYPE_A, 1, 600, 4)
    assert first[12:] == bytes([10, 1, 2, 3])
    fail = build_answer(data, q, [], RCODE_SERVFAIL)
    assert struct.unpack("!H", fail[2:4])[0] & 0x000F == RCODE_SERVFAIL


@pytest.mark.parametrize(
    "data",
    [b"", b"\0" * 11, query("x")[:-2], query("x")[:2] + b"\x81\x00" + query("x")[4:]],
)
def test_malformed_queries(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_query(data)


def test_host_resolvers() -> None:
    text = "# c\nsearch example.com\nnameserver 192.0.2.53\nnameserver 127.0.0.53\noptions x\n"
    assert host_resolvers(text) == ["192.0.2.53", "127.0.0.53"]
