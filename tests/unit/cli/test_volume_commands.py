"""``dockyard volume ...`` against a canned daemon, and the ``--mount``/``--tmpfs``/``-v``
flags of ``run`` as the create body they make."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.cli.containerconfig import container_config
from dockyard.cli.main import main
from dockyard.cli.run import RUN
from dockyard.cli.volumes import mount_flag

from .fakedaemon import FakeDaemon, Request

VOLUMES = [
    {"Name": "web", "Driver": "local", "Mountpoint": "/v/web/_data", "Scope": "local",
     "Labels": {"app": "web", "tier": "a"}, "Options": None, "CreatedAt": "2024-01-01T00:00:00Z"},
    {"Name": "db", "Driver": "local", "Mountpoint": "/v/db/_data", "Scope": "local",
     "Labels": None, "Options": None, "CreatedAt": "2024-01-01T00:00:00Z"},
]  # fmt: skip


def run(host: str, *argv: str) -> int:
    return main(["-H", host, *argv])


def test_ls_table_sorted_quiet_and_filters(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("GET", "/volumes", body={"Volumes": VOLUMES, "Warnings": None})
    assert run(host, "volume", "ls") == 0
    assert capsys.readouterr().out.splitlines() == [
        "DRIVER    VOLUME NAME",
        "local     db",
        "local     web",
    ]
    assert run(host, "volume", "ls", "-q", "-f", "dangling=true", "--filter", "label=app") == 0
    assert capsys.readouterr().out.splitlines() == ["db", "web"]
    query = fake.requests[-1][2]
    assert json.loads(query["filters"][0]) == {"dangling": ["true"], "label": ["app"]}
    assert run(host, "volume", "list", "--format", "{{.Name}}: {{.Labels}}") == 0
    assert capsys.readouterr().out.splitlines() == ["db: ", "web: app=web,tier=a"]


def test_create_sends_options_and_prints_the_name(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies: list[Any] = []

    def create(req: Request) -> tuple[int, Any]:
        bodies.append(json.loads(req.body))
        return 201, {**VOLUMES[0], "Name": bodies[-1]["Name"] or "f" * 64}

    fake.routes[("POST", "/volumes/create")] = create
    argv = ("volume", "create", "-o", "type=tmpfs", "--opt=device=tmpfs", "--label", "a=b")
    assert run(host, *argv, "scratch") == 0
    assert capsys.readouterr().out == "scratch\n"
    assert bodies[-1] == {
        "Name": "scratch",
        "Driver": "local",
        "DriverOpts": {"type": "tmpfs", "device": "tmpfs"},
        "Labels": {"a": "b"},
    }
    assert run(host, "volume", "create") == 0
    assert capsys.readouterr().out == "f" * 64 + "\n"
    assert run(host, "volume", "create", "--name", "x1", "x2") == 1
    assert "conflicting options" in capsys.readouterr().err


def test_rm_reports_each_failure(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("DELETE", "/volumes/db", status=204, body=b"")
    fake.route("DELETE", "/volumes/web", 409, {"message": "remove web: volume is in use - [c1]"})
    assert run(host, "volume", "rm", "web", "db") == 1
    captured = capsys.readouterr()
    assert captured.out == "db\n"
    assert "Error response from daemon: remove web: volume is in use - [c1]" in captured.err


def test_prune_all_and_report(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route(
        "POST", "/volumes/prune", body={"VolumesDeleted": ["a1", "b2"], "SpaceReclaimed": 2048}
    )
    assert run(host, "volume", "prune", "-af", "--filter", "label=x") == 0
    assert capsys.readouterr().out == "Deleted Volumes:\na1\nb2\n\nTotal reclaimed space: 2.048kB\n"
    query = fake.requests[-1][2]
    assert json.loads(query["filters"][0]) == {"label": ["x"], "all": ["true"]}


def test_inspect_missing_volume(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("GET", "/volumes/web", body=VOLUMES[0])
    fake.route("GET", "/volumes/nope", 404, {"message": "get nope: no such volume"})
    assert run(host, "volume", "inspect", "--format", "{{.Mountpoint}}", "web", "nope") == 1
    captured = capsys.readouterr()
    assert captured.out == "/v/web/_data\n"
    assert "get nope: no such volume" in captured.err


def test_mount_flag_documents() -> None:
    assert mount_flag("type=bind,src=/h,dst=/c,readonly,bind-propagation=rshared") == {
        "Type": "bind", "Source": "/h", "Target": "/c", "ReadOnly": True,
        "BindOptions": {"Propagation": "rshared"},
    }  # fmt: skip
    spec = "source=v1,target=/d,volume-nocopy,volume-opt=type=tmpfs,volume-label=a=b"
    assert mount_flag(spec) == {
        "Type": "volume", "Source": "v1", "Target": "/d",
        "VolumeOptions": {"NoCopy": True, "DriverConfig": {"Options": {"type": "tmpfs"}},
                          "Labels": {"a": "b"}},
    }  # fmt: skip
    assert mount_flag("type=tmpfs,destination=/t,tmpfs-size=64m,tmpfs-mode=1770,ro=false") == {
        "Type": "tmpfs", "Target": "/t", "ReadOnly": False,
        "TmpfsOptions": {"SizeBytes": 64 << 20, "Mode": 0o1770},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=volume", "target is required"),
        ("type=bind,src=/a,dst=/b,volume-nocopy", "cannot mix 'volume-\\*' options with mount"),
        ("type=volume,dst=/b,tmpfs-size=1m", "cannot mix 'tmpfs-\\*' options with mount type"),
        ("dst=/b,bogus", "invalid field 'bogus' must be a key=value pair"),
        ("dst=/b,color=red", "unexpected key 'color' in 'color=red'"),
        ("dst=/b,tmpfs-mode=9", "invalid value for tmpfs-mode: 9"),
    ],
)  # fmt: skip
def test_bad_mount_flags(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mount_flag(spec)


def test_run_flags_make_binds_volumes_mounts_and_tmpfs() -> None:
    opts, args = RUN.parse(
        ["-v", "data:/data:ro", "-v", "/anon", "--mount", "type=tmpfs,dst=/t",
         "--tmpfs", "/run:size=1m", "--tmpfs", "/x", "busybox"]
    )  # fmt: skip
    body = container_config(opts, args, detach=True)
    assert body["Volumes"] == {"/anon": {}}
    host = body["HostConfig"]
    assert host["Binds"] == ["data:/data:ro"]
    assert host["Mounts"] == [{"Type": "tmpfs", "Target": "/t"}]
    assert host["Tmpfs"] == {"/run": "size=1m", "/x": ""}
