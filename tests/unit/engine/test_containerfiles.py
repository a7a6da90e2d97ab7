"""The container-files service's pure parts: what ``diff`` hides like Docker's init
layer, and the container config that ``commit`` carries into the image."""

from __future__ import annotations

from dockyard.engine.containerfiles import config_changes, hide_mount_points
from dockyard.images.changes import ChangeKind, FileChange
from dockyard.images.instructions import apply_changes


def changes(*lines: str) -> list[FileChange]:
    return [FileChange(line[2:], ChangeKind(line[0])) for line in lines]


def test_diff_hides_the_runtime_s_mount_points() -> None:
    found = changes("C /etc", "A /etc/hostname", "A /etc/hosts", "A /etc/resolv.conf", "A /x")
    assert [str(c) for c in hide_mount_points(found)] == ["A /x"]


def test_diff_keeps_etc_when_something_else_changed_there() -> None:
    found = changes("C /etc", "A /etc/hosts", "C /etc/passwd", "A /proc")
    assert [str(c) for c in hide_mount_points(found)] == ["C /etc", "C /etc/passwd"]


def test_commit_carries_the_container_s_config() -> None:
    container = {
        "Cmd": ["echo", "hi"],
        "Entrypoint": None,
        "Env": ["PATH=/bin", "A=1"],
        "Labels": {"k": "v"},
        "WorkingDir": "/srv",
        "User": "nobody",
        "ExposedPorts": {"80/tcp": {}},
    }
    image = {"Cmd": ["sh"], "Env": ["PATH=/usr/bin"], "WorkingDir": "/"}
    out = apply_changes(image, config_changes(container))
    assert out["Cmd"] == ["echo", "hi"]
    assert out["Env"] == ["PATH=/bin", "A=1"]
    assert out["Labels"] == {"k": "v"}
    assert out["WorkingDir"] == "/srv" and out["User"] == "nobody"
    assert out["ExposedPorts"] == {"80/tcp": {}}


def test_commit_keeps_cmd_under_an_entrypoint() -> None:
    out = apply_changes({}, config_changes({"Cmd": ["-c", "x"], "Entrypoint": ["sh"]}))
    assert out["Entrypoint"] == ["sh"] and out["Cmd"] == ["-c", "x"]
