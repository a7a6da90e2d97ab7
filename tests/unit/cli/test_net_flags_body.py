"""``dockyard run`` network flags → the create body, as the docker CLI sends it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.cli.containerconfig import container_config
from dockyard.cli.errors import UsageError
from dockyard.cli.run import RUN


def body(*argv: str) -> dict[str, object]:
    opts, args = RUN.parse([*argv, "busybox", "true"])
    return container_config(opts, args, detach=True)


def test_ports_dns_hosts_and_endpoint() -> None:
    b = body(
        "-p", "127.0.0.1:8080:80", "-p", "53/udp", "-P", "--expose", "9000-9001",
        "--network", "app", "--ip", "10.1.0.5", "--network-alias", "db",
        "--mac-address", "02:42:AA:BB:CC:DD", "--dns", "10.0.0.2", "--dns-search", "x.test",
        "--dns-option", "ndots:2", "--add-host", "h:10.9.8.7", "--add-host", "gw=host-gateway",
        "-h", "web", "--domainname", "example.test",
    )  # fmt: skip
    host = b["HostConfig"]
    assert isinstance(host, dict)
    assert host["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "", "HostPort": ""}],
    }
    assert host["PublishAllPorts"] is True
    assert host["NetworkMode"] == "app"
    assert host["Dns"] == ["10.0.0.2"]
    assert host["DnsSearch"] == ["x.test"]
    assert host["DnsOptions"] == ["ndots:2"]
    assert host["ExtraHosts"] == ["h:10.9.8.7", "gw:host-gateway"]
    assert b["ExposedPorts"] == {"9000/tcp": {}, "9001/tcp": {}, "80/tcp": {}, "53/udp": {}}
    assert b["NetworkingConfig"] == {
        "EndpointsConfig": {
            "app": {
                "IPAMConfig": {"IPv4Address": "10.1.0.5"},
                "Aliases": ["db"],
                "MacAddress": "02:42:aa:bb:cc:dd",
            }
        }
    }
    assert (b["Hostname"], b["Domainname"], b["MacAddress"]) == (
        "web",
        "example.test",
        "02:42:aa:bb:cc:dd",
    )


def test_no_network_flags_send_nothing_new() -> None:
    b = body()
    host = b["HostConfig"]
    assert isinstance(host, dict)
    assert "NetworkingConfig" not in b and "ExposedPorts" not in b
    assert not {"PortBindings", "Dns", "ExtraHosts", "PublishAllPorts"} & set(host)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("-p", "1:2:3:4"), "too many colons"),
        (("-p", "70000"), "invalid port"),
        (("-p", "80/icmp"), "invalid protocol"),
        (("--dns", "resolver"), "not an ip address"),
        (("--add-host", "justaname"), "bad format for add-host"),
        (("--add-host", "h:notanip"), "not an ip address"),
        (("--mac-address", "02:42"), "not a valid mac address"),
        (("--ip", "10.0.0.300"), "not an ip address"),
        (("--expose", "a-b"), "invalid range format"),
    ],
)
def test_bad_values(argv: tuple[str, ...], words: str) -> None:
    with pytest.raises(UsageError, match=words):
        body(*argv)


def test_config_json_proxies_reach_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"proxies": {"default": {"httpProxy": "http://p:3128", "noProxy": "x"}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    env = body("-e", "no_proxy=mine")["Env"]
    assert env == ["no_proxy=mine", "HTTP_PROXY=http://p:3128", "http_proxy=http://p:3128"]
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    assert body()["Env"] == []
