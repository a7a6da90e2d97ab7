"""``docker info`` counts the daemon's containers by state."""

from __future__ import annotations

import json

from dockyard.testing.daemon import Daemon
from dockyard.testing.names import unique


def test_info_counts_containers(daemon: Daemon) -> None:
    name = unique("info")
    daemon.docker("run", "-d", "--name", name, "busybox", "sleep", "30")
    try:
        info = json.loads(daemon.docker("info", "--format", "{{json .}}").stdout)
        assert info["ContainersRunning"] >= 1
        assert info["Containers"] >= info["ContainersRunning"]
        daemon.docker("stop", "-t", "0", name)
        after = json.loads(daemon.docker("info", "--format", "{{json .}}").stdout)
        assert after["ContainersRunning"] == info["ContainersRunning"] - 1
        assert after["ContainersStopped"] == info["ContainersStopped"] + 1
    finally:
        daemon.docker("rm", "-f", name)
