"""``--runtime``, ``--device-cgroup-rule`` and ``--oom-kill-disable`` in the create body
(``cli/runtimeflags.py``), and the signals ``--sig-proxy`` forwards (``cli/sigproxy.py``)."""

from __future__ import annotations

import signal

import pytest

from dockyard.cli import sigproxy
from dockyard.cli.containerconfig import container_config
from dockyard.cli.errors import UsageError
from dockyard.cli.run import RUN


def host(*argv: str) -> dict[str, object]:
    opts, args = RUN.parse([*argv, "busybox", "true"])
    config = container_config(opts, args, detach=True)
    host_config = config["HostConfig"]
    assert isinstance(host_config, dict)
    return host_config


def test_flags_in_the_host_config() -> None:
    hc = host(
        "--runtime", "crun", "--device-cgroup-rule", "c 1:3 rwm",
        "--device-cgroup-rule=a *:* rwm", "--oom-kill-disable",
    )  # fmt: skip
    assert hc["Runtime"] == "crun"
    assert hc["DeviceCgroupRules"] == ["c 1:3 rwm", "a *:* rwm"]
    assert hc["OomKillDisable"] is True
    plain = host()
    assert not {"Runtime", "DeviceCgroupRules", "OomKillDisable"} & set(plain)


@pytest.mark.parametrize("rule", ["c 1:3", "z *:* r", "c 1:3 rwmx"])
def test_bad_rules_are_usage_errors(rule: str) -> None:
    with pytest.raises(UsageError) as e:
        host("--device-cgroup-rule", rule)
    assert str(e.value).startswith(
        f'invalid argument "{rule}" for "--device-cgroup-rule" flag: '
        f"invalid device cgroup format '{rule}'\n"
    )


def test_forwarded_signals_are_dockers() -> None:
    forwarded = set(sigproxy.forwarded())
    assert {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP} <= (
        forwarded
    )
    assert not {signal.SIGCHLD, signal.SIGPIPE, signal.SIGURG, signal.SIGKILL} & forwarded
    assert sigproxy.signal_name(signal.SIGUSR1) == "SIGUSR1"
    assert sigproxy.signal_name(signal.SIGRTMIN + 2) == str(signal.SIGRTMIN + 2)
