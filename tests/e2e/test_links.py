"""Legacy links end to end (``--link NAME[:ALIAS]``) with the docker CLI 28 and the
``dockyard`` CLI: on the default bridge the linking container gets a hosts line and
dockerd's variables for each link; on a user-defined network the alias is a name that
only the linking container resolves; a stopped or missing target, or host networking, is
a clear error; ``rm --link`` drops a link.

Traffic only flows between containers on a bridge of the test's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from dockyard.testing.daemon import Daemon, own_bridge, running
from dockyard.testing.names import unique

pytestmark = pytest.mark.requires("root")


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    """A daemon whose default bridge is a test bridge (deleted at the end if made)."""
    with own_bridge(234) as config, running(config=config) as d:
        yield d


def test_links_on_the_default_bridge(daemon: Daemon) -> None:
    db, web = unique("db"), unique("web")
    daemon.docker("run", "-d", "--name", db, "--expose", "5432", "--expose", "7000-7001/udp",
                  "-e", "PASSWORD=secret", "busybox", "sleep", "60")  # fmt: skip
    doc = json.loads(daemon.docker("inspect", db).stdout)[0]
    address, hostname = doc["NetworkSettings"]["IPAddress"], doc["Config"]["Hostname"]
    assert hostname == doc["Id"][:12]  # inspect shows the hostname, as dockerd's
    out = daemon.docker("run", "--rm", "--name", web, "--link", f"{db}:pg", "busybox", "sh",
                        "-c", "cat /etc/hosts; echo ---; env").stdout  # fmt: skip
    hosts, env_text = out.split("---\n")
    assert f"{address}\tpg {hostname} {db}\n" in hosts
    env = set(env_text.split())
    for var in (
        f"PG_PORT=tcp://{address}:5432",
        f"PG_PORT_5432_TCP=tcp://{address}:5432",
        f"PG_PORT_5432_TCP_ADDR={address}",
        "PG_PORT_5432_TCP_PORT=5432",
        "PG_PORT_5432_TCP_PROTO=tcp",
        f"PG_PORT_7000_UDP=udp://{address}:7000",
        f"PG_PORT_7000_UDP_START=udp://{address}:7000",
        "PG_PORT_7000_UDP_PORT_END=7001",
        f"PG_NAME=/{web}/pg",
        "PG_ENV_PASSWORD=secret",
    ):
        assert var in env, var
    assert not any(v.startswith("PG_ENV_PATH=") for v in env)
    # the alias reaches the target; a link without an alias is named after the target
    ping = daemon.docker("run", "--rm", "--link", db, "busybox", "ping", "-c1", "-W2", db,
                         check=False)  # fmt: skip
    assert ping.returncode == 0, ping.stdout + ping.stderr
    # an exec gets the variables too, as dockerd's
    daemon.docker("run", "-d", "--name", web, "--link", f"{db}:pg", "busybox", "sleep", "60")
    assert f"PG_NAME=/{web}/pg" in daemon.docker("exec", web, "env").stdout.split()
    daemon.docker("rm", "-f", web)
    # inspect shows the link as dockerd stores it; rm --link drops it
    daemon.docker("create", "--name", web, "--link", f"{db}:pg", "busybox", "true")
    links = json.loads(daemon.docker("inspect", web).stdout)[0]["HostConfig"]["Links"]
    assert links == [f"/{db}:/{web}/pg"]
    daemon.docker("rm", "--link", f"/{web}/pg")
    assert json.loads(daemon.docker("inspect", web).stdout)[0]["HostConfig"]["Links"] is None
    daemon.docker("rm", web)
    # a stopped target fails the start; a missing one the create; host networking too
    daemon.docker("stop", "-t", "0", db)
    res = daemon.docker("run", "--rm", "--link", f"{db}:pg", "busybox", "true", check=False)
    assert res.returncode != 0
    assert f"Cannot link to a non running container: /{db} AS /" in res.stderr, res.stderr
    res = daemon.docker("create", "--link", "no-such-box:x", "busybox", "true", check=False)
    assert "could not get container for no-such-box" in res.stderr, res.stderr
    res = daemon.docker("create", "--network", "host", "--link", db, "busybox", "true",
                        check=False)  # fmt: skip
    assert "host type networking can't be used with links" in res.stderr, res.stderr
    res = daemon.dockyard("run", "--link", f"{db}:", "busybox", "true", check=False)
    assert res.returncode == 125 and "invalid link format" in res.stderr, res.stderr
    assert daemon.docker("ps", "-aq", "--filter", "status=created").stdout == ""
    daemon.docker("rm", db)


def test_links_on_a_user_network_are_names(daemon: Daemon) -> None:
    net, db = unique("net"), unique("db")
    daemon.docker("network", "create", "--subnet", "10.233.9.0/24", net)
    try:
        daemon.docker("run", "-d", "--name", db, "--network", net, "--ip", "10.233.9.7",
                      "busybox", "sleep", "60")  # fmt: skip
        found = daemon.dockyard("run", "--rm", "--network", net, "--link", f"{db}:cache",
                                "busybox", "sh", "-c", "nslookup cache; env")  # fmt: skip
        assert "Address: 10.233.9.7" in found.stdout, found.stdout
        assert "CACHE_NAME" not in found.stdout  # no variables off the default bridge
        # another container does not know the name (--dns 127.0.0.1: what the embedded
        # DNS does not know it relays there, inside the container: nothing leaves)
        other = daemon.docker("run", "--rm", "--network", net, "--dns", "127.0.0.1", "busybox",
                              "nslookup", "cache", check=False)  # fmt: skip
        assert "10.233.9.7" not in other.stdout
    finally:
        daemon.docker("rm", "-f", db, check=False)
        daemon.docker("network", "rm", net, check=False)
