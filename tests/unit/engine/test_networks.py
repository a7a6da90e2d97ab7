"""``NetworkService`` on a temp data root with fake links: predefined networks, create
checks, addresses that survive a restart, and a failed attach that leaves nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dockyard.engine.networkrecord import (
    ContainerRef,
    CreateRequest,
    EndpointRecord,
    NetworkRecord,
    NetworkSettings,
)
from dockyard.engine.networks import NetworkService
from dockyard.errors import Conflict, InvalidArgument, NotFound, SystemFault
from dockyard.network.ipam import IPv4Network


class FakeLinks:
    def __init__(self, fail_attach: bool = False) -> None:
        self.fail_attach = fail_attach
        self.attached: dict[str, str] = {}
        self.removed: list[str] = []

    def host_subnets(self) -> list[IPv4Network]:
        return [IPv4Network("172.17.0.0/16")]

    def link_kind(self, name: str) -> str | None:
        return "" if name == "eth0" else None

    def attach(self, rec: NetworkRecord, ep: EndpointRecord, pid: int) -> str:
        if self.fail_attach:
            raise SystemFault("veth: no")
        self.attached[ep.container_id] = ep.address
        return "vdfake"

    def detach(self, rec: NetworkRecord, ep: EndpointRecord) -> None:
        self.attached.pop(ep.container_id, None)

    def remove_network(self, rec: NetworkRecord) -> None:
        self.removed.append(rec.name)

    def close(self) -> None:
        pass


CONTAINERS = {
    "c1": ContainerRef("c1" * 32, "one", True, 4242, "default"),
    "c2": ContainerRef("c2" * 32, "two", False, 0, "default"),
    "h": ContainerRef("h" * 64, "hosty", True, 1, "host"),
}


def service(root: Path, links: FakeLinks | None = None, **settings: str) -> NetworkService:
    svc = NetworkService(root, NetworkSettings(**settings), links or FakeLinks())

    async def lookup(ref: str) -> ContainerRef:
        for key, c in CONTAINERS.items():
            if ref in (key, c.id):
                return c
        raise NotFound(f"No such container: {ref}")

    svc.lookup_container = lookup
    svc.container_known = lambda cid: any(c.id == cid for c in CONTAINERS.values())
    return svc


def test_predefined_networks_and_bip(tmp_path: Path) -> None:
    async def main() -> None:
        svc = service(tmp_path, bridge="dyt0", bip="10.50.0.1/24", fixed_cidr="10.50.0.128/25")
        names = [(r.name, r.driver) for r in await svc.list({})]
        assert names == [("bridge", "bridge"), ("host", "host"), ("none", "null")]
        default = await svc.inspect("bridge")
        assert (default.bridge, default.subnet, default.gateway) == (
            "dyt0",
            "10.50.0.0/24",
            "10.50.0.1",
        )
        assert default.ip_range == "10.50.0.128/25"
        with pytest.raises(Conflict, match="pre-defined"):
            await svc.remove("none")
        assert [r.name for r in await svc.list({"type": ["custom"]})] == []
        # the ids are stable across a restart
        again = service(tmp_path)
        assert (await again.inspect("bridge")).id == default.id
        no_bridge = service(tmp_path / "other", bridge="none")
        assert [r.name for r in await no_bridge.list({})] == ["host", "none"]

    asyncio.run(main())


def test_create_checks(tmp_path: Path) -> None:
    async def main() -> None:
        svc = service(tmp_path)
        rec, _ = await svc.create(CreateRequest("web"))
        assert rec.subnet == "172.18.0.0/16"  # 172.17/16 is the host's, 172.30/16 the bridge's
        assert rec.bridge == f"dy-{rec.id[:12]}"
        with pytest.raises(Conflict, match="already exists"):
            await svc.create(CreateRequest("web"))
        with pytest.raises(Conflict, match="of a host interface"):
            await svc.create(CreateRequest("x", subnet="172.17.3.0/24"))
        with pytest.raises(Conflict, match="only one instance"):
            await svc.create(CreateRequest("x", driver="host"))
        with pytest.raises(NotFound, match="plugin"):
            await svc.create(CreateRequest("x", driver="overlay"))
        with pytest.raises(InvalidArgument, match="invalid network name"):
            await svc.create(CreateRequest("-x"))
        with pytest.raises(InvalidArgument, match="not a bridge"):
            await svc.create(CreateRequest("x", options={"com.docker.network.bridge.name": "eth0"}))
        with pytest.raises(InvalidArgument, match="need a --subnet"):
            await svc.create(CreateRequest("x", gateway="10.0.0.1"))
        assert [r.name for r in await svc.list({"name": ["we"]})] == ["web"]
        assert await svc.prune({}) == ["web"]
        assert svc.links.removed == ["web"]  # type: ignore[attr-defined]

    asyncio.run(main())


def test_connect_disconnect_and_restart(tmp_path: Path) -> None:
    async def main() -> None:
        links = FakeLinks()
        svc = service(tmp_path, links)
        await svc.create(CreateRequest("db", subnet="10.60.0.0/24"))
        await svc.connect("db", "c1", aliases=["pg"])
        await svc.connect("db", "c2", ip="10.60.0.77")
        assert links.attached == {CONTAINERS["c1"].id: "10.60.0.2"}  # c2 is not running
        with pytest.raises(Conflict, match="already exists"):
            await svc.connect("db", "c1")
        with pytest.raises(Conflict, match="sharing network namespace"):
            await svc.connect("db", "h")
        with pytest.raises(InvalidArgument, match="user defined networks only"):
            await svc.connect("bridge", "c2", ip="172.30.0.9")
        with pytest.raises(Conflict, match="active endpoints"):
            await svc.remove("db")
        # a new daemon on the same data root knows both addresses
        svc2 = service(tmp_path, links)
        await svc2.disconnect("db", "c1")
        await svc2.connect("db", "c1")
        rec = await svc2.inspect("db")
        assert {ep.address for ep in rec.endpoints.values()} == {"10.60.0.2", "10.60.0.77"}
        with pytest.raises(Conflict, match="not connected"):
            await svc2.disconnect("bridge", "c1")

    asyncio.run(main())


def test_failed_attach_releases_the_address(tmp_path: Path) -> None:
    async def main() -> None:
        svc = service(tmp_path, FakeLinks(fail_attach=True))
        await svc.create(CreateRequest("db", subnet="10.61.0.0/24"))
        with pytest.raises(SystemFault):
            await svc.connect("db", "c1", ip="10.61.0.5")
        rec = await svc.inspect("db")
        assert rec.endpoints == {}
        pool = svc.pool_of(rec)
        assert pool is not None
        assert pool.allocated == {}

    asyncio.run(main())


def test_container_start_and_exit(tmp_path: Path) -> None:
    async def main() -> None:
        links = FakeLinks()
        svc = service(tmp_path, links, bridge="dyt0", bip="10.62.0.1/24")
        await svc.create(CreateRequest("app", subnet="10.63.0.0/24"))
        c2 = CONTAINERS["c2"]
        await svc.join_created(c2, "app", ip="10.63.0.40")
        with pytest.raises(InvalidArgument, match="user defined networks only"):
            await svc.join_created(c2, "bridge", ip="10.62.0.40")
        running = ContainerRef(c2.id, c2.name, True, 777, "app")
        done = await svc.attach_container(running, "app")
        assert [(rec.name, ep.address) for rec, ep in done] == [("app", "10.63.0.40")]
        # a second network joined while stopped gets its link at the next start too
        await svc.detach_container(c2.id)
        assert links.attached == {}
        await svc.connect("bridge", "c2")
        done = await svc.attach_container(running, "app")
        assert sorted(rec.name for rec, _ in done) == ["app", "bridge"]
        assert links.attached == {c2.id: "10.62.0.2"}  # the fake keeps the last per container
        await svc.detach_container(c2.id)
        # the default bridge's address is released at exit, the user network's kept
        assert c2.id not in (await svc.inspect("bridge")).endpoints
        assert (await svc.inspect("app")).endpoints[c2.id].address == "10.63.0.40"
        svc.check_mode("app")
        with pytest.raises(NotFound, match="network nope not found"):
            svc.check_mode("nope")

    asyncio.run(main())


def test_default_bridge_follows_the_flags(tmp_path: Path) -> None:
    async def main() -> None:
        first = service(tmp_path, bridge="dyt0", bip="10.64.0.1/24")
        before = await first.inspect("bridge")
        await first.attach_container(ContainerRef("c1" * 32, "one", True, 1, "default"), "bridge")
        second = service(tmp_path, bridge="dyt1", bip="10.65.0.1/16", fixed_cidr="10.65.3.0/24")
        after = await second.inspect("bridge")
        assert after.id == before.id
        assert (after.bridge, after.subnet, after.gateway) == ("dyt1", "10.65.0.0/16", "10.65.0.1")
        assert after.endpoints == {}  # 10.64.0.2 does not fit the new subnet
        done = await second.attach_container(CONTAINERS["c1"], "bridge")
        assert done[0][1].address == "10.65.3.1"

    asyncio.run(main())


def test_an_endpoint_of_a_create_in_progress_is_kept(tmp_path: Path) -> None:
    """A container being created has its endpoint before the container service lists it;
    another container joining meanwhile must not take it for a removed container's."""

    async def main() -> None:
        svc = service(tmp_path)
        await svc.create(CreateRequest("app"))
        creating = {"n" * 64}
        svc.container_known = lambda cid: cid in creating or cid == CONTAINERS["c1"].id
        new = ContainerRef("n" * 64, "new", False, 0, "app")
        await svc.join_created(new, "app")
        await svc.join_created(CONTAINERS["c1"], "app")
        rec = await svc.inspect("app")
        assert set(rec.endpoints) == {"n" * 64, CONTAINERS["c1"].id}
        creating.clear()  # the create failed: its endpoint goes at the next look
        await svc.disconnect("app", CONTAINERS["c1"].id)
        await svc.join_created(CONTAINERS["c1"], "app")
        assert set((await svc.inspect("app")).endpoints) == {CONTAINERS["c1"].id}

    asyncio.run(main())
