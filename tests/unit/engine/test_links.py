"""``engine/links.py``: link specs, dockerd's link variables (port order and ranges),
the merge with the container's own environment, and rm --link."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.engine import links
from dockyard.engine.containerrecord import Container
from dockyard.errors import InvalidArgument, NotFound


def box(name: str, config: dict[str, Any] | None = None, status: str = "running") -> Container:
    return Container(
        id="f" * 64, name=name, created="", created_unix=0.0, path="sh", args=[],
        config=config or {}, host_config={}, image="", image_name="busybox", driver="overlay",
        status=status,
    )  # fmt: skip


def test_parse_and_normalize() -> None:
    assert links.parse("db") == ("db", "db")
    assert links.parse("db:pg") == ("db", "pg")
    assert links.parse("/db:/web/pg") == ("db", "pg")
    with pytest.raises(InvalidArgument):
        links.parse(":pg")
    targets = {"db": box("/db")}

    def get(ref: str) -> Container:
        if ref not in targets:
            raise NotFound(ref)
        return targets[ref]

    assert links.normalize(None, "/web", "bridge", get) is None
    assert links.normalize(["db:pg", "db"], "/web", "bridge", get) == ["/db:/web/pg", "/db:/web/db"]
    with pytest.raises(NotFound, match="could not get container for nope"):
        links.normalize(["nope"], "/web", "bridge", get)
    with pytest.raises(InvalidArgument, match="host type networking"):
        links.normalize(["db"], "/web", "host", get)
    with pytest.raises(InvalidArgument, match="container type network"):
        links.normalize(["db"], "/web", "container:abc", get)


def test_env_of_a_link() -> None:
    target = box("/my-db", {
        "ExposedPorts": {"53/udp": {}, "8001/tcp": {}, "8000/tcp": {}, "5432/tcp": {}},
        "Env": ["PATH=/bin", "HOME=/root", "PASSWORD=a=b"],
    })  # fmt: skip
    link = links.Link(target, "my-db", "/web/my-db")
    env = links.env(link, "10.0.0.2")
    # TCP first, by number; the first port is the link's _PORT; a range gets _START/_END
    assert env[0] == "MY_DB_PORT=tcp://10.0.0.2:5432"
    assert env[1:5] == [
        "MY_DB_PORT_5432_TCP=tcp://10.0.0.2:5432",
        "MY_DB_PORT_5432_TCP_ADDR=10.0.0.2",
        "MY_DB_PORT_5432_TCP_PORT=5432",
        "MY_DB_PORT_5432_TCP_PROTO=tcp",
    ]
    assert "MY_DB_PORT_8000_TCP_START=tcp://10.0.0.2:8000" in env
    assert "MY_DB_PORT_8000_TCP_PORT_END=8001" in env
    assert "MY_DB_PORT_53_UDP=udp://10.0.0.2:53" in env
    assert not any(e.startswith("MY_DB_PORT_5432_TCP_START") for e in env)
    assert env[-2:] == ["MY_DB_NAME=/web/my-db", "MY_DB_ENV_PASSWORD=a=b"]
    assert links.env(links.Link(box("/db"), "db", "/web/db"), "10.0.0.3") == ["DB_NAME=/web/db"]
    assert links.hosts_names(link).split() == ["my-db", "f" * 12]
    assert links.hosts_names(links.Link(target, "pg", "/web/pg")).split() == [
        "pg", "f" * 12, "my-db"
    ]  # fmt: skip


def test_merge_resolve_and_remove() -> None:
    assert links.merge_env(["A=1", "B=2"], ["B=3", "C=4"]) == ["A=1", "B=2", "C=4"]
    parent = box("/web")
    parent.host_config["Links"] = ["/db:/web/pg", "/cache:/web/cache"]
    stopped = {"db": box("/db", status="exited"), "cache": box("/cache")}
    with pytest.raises(Exception, match="non running container: /db AS /web/pg"):
        links.resolve(parent, stopped.__getitem__)
    assert links.dns_aliases(parent.host_config) == {"pg": "db", "cache": "cache"}
    assert links.without(parent.host_config, "/web/pg") == ["/cache:/web/cache"]
    with pytest.raises(NotFound):
        links.without(parent.host_config, "/web/nope")
