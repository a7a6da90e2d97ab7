"""Commands against a canned daemon on a unix socket: requests sent and text printed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dockyard.cli.main import main
from dockyard.client import APIClient, APIError, DaemonUnreachable, InvalidHost
from dockyard.client.transport import Transport, negotiate, resolve_host, socket_path

from .fakedaemon import FakeDaemon, Request

IMG = "sha256:" + "1a" * 32
OLD = "sha256:" + "2b" * 32


def run(host: str, *argv: str) -> int:
    return main(["-H", host, *argv])


def test_host_resolution_order() -> None:
    env = {"DOCKER_HOST": "unix:///d.sock", "DOCKYARD_HOST": "unix:///y.sock"}
    assert resolve_host("unix:///f.sock", env) == "unix:///f.sock"
    assert resolve_host(None, env) == "unix:///y.sock"
    assert resolve_host(None, {"DOCKER_HOST": "unix:///d.sock"}) == "unix:///d.sock"
    assert resolve_host(None, {}) == "unix:///run/dockyard.sock"
    assert socket_path("unix:///run/x.sock") == "/run/x.sock"
    with pytest.raises(InvalidHost, match="a TCP host needs TLS"):
        socket_path("tcp://10.0.0.1:2376")


def test_negotiation_takes_the_lower_version(fake: FakeDaemon, host: str) -> None:
    assert negotiate("1.45", "1.41") == "1.41"
    assert negotiate("1.45", "1.50") == "1.45"
    assert negotiate("1.45", None) == "1.24"
    fake.api_version = "1.41"
    fake.route("GET", "/info", body={"Images": 3})
    client = APIClient(Transport(host))
    assert client.info() == {"Images": 3}
    assert [r[1] for r in fake.requests] == ["/_ping", "/v1.41/info"]


def test_api_error_carries_status_and_message(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("GET", "/images/nope/json", 404, {"message": "No such image: nope"})
    with pytest.raises(APIError) as info:
        APIClient(Transport(host)).inspect_image("nope")
    assert (info.value.status, info.value.message) == (404, "No such image: nope")
    assert run(host, "image", "inspect", "nope") == 1
    captured = capsys.readouterr()
    assert captured.err == "Error response from daemon: No such image: nope\n"
    assert captured.out == "[]\n"


def test_unreachable_daemon_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host = f"unix://{tmp_path}/none.sock"
    with pytest.raises(DaemonUnreachable, match=r"is dockyardd running\?$"):
        APIClient(Transport(host)).ping()
    assert run(host, "images") == 1
    assert "cannot connect to the Dockyard daemon at unix://" in capsys.readouterr().err


def test_unreachable_permission_denied_names_the_group(tmp_path: Path) -> None:
    import os
    import socket

    sock_path = tmp_path / "locked" / "d.sock"
    sock_path.parent.mkdir()
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock_path))
    s.listen()
    sock_path.parent.chmod(0)
    try:
        if os.geteuid() == 0:
            # root ignores directory permissions: ask as nobody, in a forked child
            from dockyard.testing.fork import in_child

            def as_nobody() -> str:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
                try:
                    APIClient(Transport(f"unix://{sock_path}")).ping()
                except DaemonUnreachable as e:
                    return str(e)
                return "no error"

            assert "are you in the dockyard group" in in_child(as_nobody)
        else:
            with pytest.raises(DaemonUnreachable, match="are you in the dockyard group"):
                APIClient(Transport(f"unix://{sock_path}")).ping()
    finally:
        sock_path.parent.chmod(0o755)
        s.close()


def summaries(now: float) -> list[dict[str, object]]:
    return [
        {
            "Id": IMG,
            "RepoTags": ["busybox:latest", "busybox:1.36", "localhost:5000/bb:v1"],
            "RepoDigests": ["busybox@sha256:" + "9" * 64],
            "Created": int(now - 7200),
            "Size": 4261036,
            "SharedSize": -1,
            "Containers": -1,
        },
        {"Id": OLD, "RepoTags": [], "RepoDigests": [], "Created": int(now - 90), "Size": 999},
    ]


def test_images_table(fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]) -> None:
    fake.route("GET", "/images/json", body=summaries(time.time()))
    assert run(host, "images") == 0
    assert capsys.readouterr().out.splitlines() == [
        "REPOSITORY          TAG       IMAGE ID       CREATED              SIZE",
        "busybox             latest    1a1a1a1a1a1a   2 hours ago          4.26MB",
        "busybox             1.36      1a1a1a1a1a1a   2 hours ago          4.26MB",
        "localhost:5000/bb   v1        1a1a1a1a1a1a   2 hours ago          4.26MB",
        "<none>              <none>    2b2b2b2b2b2b   About a minute ago   999B",
    ]


def test_images_flags_become_query_and_formats(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("GET", "/images/json", body=summaries(time.time()))
    assert run(host, "image", "ls", "-aq", "--filter", "dangling=false", "busybox") == 0
    assert capsys.readouterr().out.split() == ["1a1a1a1a1a1a"] * 3 + ["2b2b2b2b2b2b"]
    query = fake.requests[-1][2]
    assert query["all"] == ["1"]
    assert json.loads(query["filters"][0]) == {
        "dangling": ["false"],
        "reference": ["busybox"],
    }
    assert run(host, "images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}") == 0
    assert capsys.readouterr().out.splitlines()[0] == f"{IMG} busybox:latest"
    assert run(host, "images", "--digests", "--format", "table {{.Repository}}\t{{.Digest}}") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "DIGEST"]
    assert lines[1] == "busybox             sha256:" + "9" * 64
    assert run(host, "images", "--format", "json") == 0
    row = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert row["Repository"] == "<none>" and row["Size"] == "999B"


def test_history(fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]) -> None:
    now = time.time()
    cmd = "/bin/sh -c #(nop) ADD file:" + "f" * 64 + " in / "
    fake.route(
        "GET",
        "/images/busybox/history",
        body=[
            {"Id": IMG, "Created": int(now - 7200), "CreatedBy": 'CMD ["sh"]', "Size": 0},
            {
                "Id": "<missing>",
                "Created": int(now - 7300),
                "CreatedBy": cmd,
                "Size": 4261036,
                "Comment": "imported",
            },
        ],
    )
    assert run(host, "history", "busybox") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "IMAGE          CREATED       CREATED BY" + " " * 38 + "SIZE      COMMENT"
    assert lines[1].startswith('1a1a1a1a1a1a   2 hours ago   CMD ["sh"]')
    assert (cmd[:44] + "…") in lines[2] and lines[2].endswith("4.26MB    imported")
    assert (
        run(
            host,
            "image",
            "history",
            "--no-trunc",
            "-H=false",
            "--format",
            "{{.CreatedBy}}|{{.Size}}",
            "busybox",
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[1] == f"{cmd}|4261036"


def test_tag_and_rmi(fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]) -> None:
    fake.route("POST", "/images/busybox/tag", 201, b"")
    assert run(host, "tag", "busybox", "localhost:5000/me/bb:v2") == 0
    assert fake.requests[-1][2] == {"repo": ["localhost:5000/me/bb"], "tag": ["v2"]}
    assert run(host, "tag", "busybox", "x@sha256:" + "0" * 64) == 1
    assert "refusing to create a tag with a digest reference" in capsys.readouterr().err

    fake.route("DELETE", "/images/bb:1", body=[{"Untagged": "bb:1"}, {"Deleted": IMG}])
    fake.route("DELETE", "/images/gone", 404, {"message": "No such image: gone:latest"})
    assert run(host, "rmi", "-f", "bb:1", "gone") == 1
    captured = capsys.readouterr()
    assert captured.out == f"Untagged: bb:1\nDeleted: {IMG}\n"
    assert captured.err == "Error response from daemon: No such image: gone:latest\n"
    method, _path, query, _ = fake.requests[-2]
    assert (method, query) == ("DELETE", {"force": ["1"]})


def test_load_save_import(
    fake: FakeDaemon, host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tar = tmp_path / "in.tar"
    tar.write_bytes(b"TAR" * 5000)
    got: dict[str, bytes] = {}

    def load(req: Request) -> tuple[int, bytes]:
        got["load"] = req.body
        return 200, b'{"stream":"Loaded image: busybox:latest\\n"}\n'

    fake.routes[("POST", "/images/load")] = load
    assert run(host, "load", "-i", str(tar)) == 0
    assert capsys.readouterr().out == "Loaded image: busybox:latest\n"
    assert got["load"] == tar.read_bytes()

    fake.route("GET", "/images/get", body=b"SAVED-TAR")
    out = tmp_path / "out.tar"
    assert run(host, "save", "-o", str(out), "busybox", "bb:1") == 0
    assert out.read_bytes() == b"SAVED-TAR"
    assert fake.requests[-1][2] == {"names": ["busybox", "bb:1"]}

    def create(req: Request) -> tuple[int, bytes]:
        got["import"] = req.body
        return 200, json.dumps({"status": IMG}).encode() + b"\r\n"

    fake.routes[("POST", "/images/create")] = create
    assert (
        run(
            host,
            "import",
            "-c",
            'CMD ["sh"]',
            "-c",
            "ENV A=1",
            "-m",
            "hi",
            str(tar),
            "me/rootfs:v1",
        )
        == 0
    )
    assert capsys.readouterr().out == f"{IMG}\n"
    assert fake.requests[-1][2] == {
        "fromSrc": ["-"],
        "repo": ["me/rootfs:v1"],
        "message": ["hi"],
        "changes": ['CMD ["sh"]', "ENV A=1"],
    }
    assert got["import"] == tar.read_bytes()
    assert run(host, "import", "https://example.invalid/x.tar") == 1
    assert "not supported yet" in capsys.readouterr().err
    assert run(host, "load", "-i", str(tmp_path / "missing.tar")) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_load_error_message_fails(
    fake: FakeDaemon, host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tar = tmp_path / "in.tar"
    tar.write_bytes(b"junk")
    fake.route(
        "POST", "/images/load", body=b'{"errorDetail":{"message":"bad tar"},"error":"bad tar"}\n'
    )
    assert run(host, "load", "-i", str(tar)) == 1
    assert capsys.readouterr().err == "bad tar\n"


def test_inspect_prune_df_version(
    fake: FakeDaemon, host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.route("GET", "/images/busybox/json", body={"Id": IMG, "Config": {"Cmd": ["sh"]}})
    assert run(host, "inspect", "busybox") == 0
    assert json.loads(capsys.readouterr().out) == [{"Id": IMG, "Config": {"Cmd": ["sh"]}}]
    assert run(host, "image", "inspect", "-f", "{{.Id}} {{json .Config.Cmd}}", "busybox") == 0
    assert capsys.readouterr().out == f'{IMG} ["sh"]\n'

    fake.route(
        "POST",
        "/images/prune",
        body={"ImagesDeleted": [{"Untagged": "a:1"}, {"Deleted": OLD}], "SpaceReclaimed": 16430000},
    )
    assert run(host, "image", "prune", "-f") == 0
    assert capsys.readouterr().out == (
        f"Deleted Images:\nuntagged: a:1\ndeleted: {OLD}\n\nTotal reclaimed space: 16.43MB\n"
    )
    assert json.loads(fake.requests[-1][2]["filters"][0]) == {"dangling": ["true"]}

    fake.route(
        "GET",
        "/system/df",
        body={
            "LayersSize": 10_000_000,
            "Images": [
                {"Size": 4_000_000, "SharedSize": 0, "Containers": 1},
                {"Size": 6_000_000, "SharedSize": 0, "Containers": 0},
            ],
            "Containers": [],
            "Volumes": [],
            "BuildCache": [],
        },
    )
    assert run(host, "system", "df") == 0
    assert capsys.readouterr().out.splitlines() == [
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE",
        "Images          2         1         10MB      6MB (60%)",
        "Containers      0         0         0B        0B",
        "Local Volumes   0         0         0B        0B",
        "Build Cache     0         0         0B        0B",
    ]

    fake.route(
        "GET",
        "/version",
        body={
            "Version": "0.1.0",
            "ApiVersion": "1.45",
            "MinAPIVersion": "1.24",
            "Os": "linux",
            "Arch": "amd64",
            "Platform": {"Name": "Dockyard Engine"},
        },
    )
    assert run(host, "version") == 0
    out = capsys.readouterr().out
    assert " Version:           0.1.0\n API version:       1.45\n" in out
    assert "Server: Dockyard Engine\n Engine:\n  Version:          0.1.0\n" in out
    assert "  API version:      1.45 (minimum version 1.24)\n" in out
    assert run(host, "version", "--format", "{{.Server.Version}}") == 0
    assert capsys.readouterr().out == "0.1.0\n"


def test_save_refuses_a_terminal(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dockyard.cli import output

    monkeypatch.setattr(output, "stdout_is_terminal", lambda: True)
    assert run(host, "save", "busybox") == 1
    assert capsys.readouterr().err == (
        "cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
    )


def test_permission_denied_message_names_the_group() -> None:
    from dockyard.client.transport import unreachable_message

    msg = unreachable_message("unix:///run/dockyard.sock", PermissionError(13, "denied"))
    assert msg == (
        "cannot connect to the Dockyard daemon at unix:///run/dockyard.sock: "
        "is dockyardd running? (permission denied: are you in the dockyard group?)"
    )
