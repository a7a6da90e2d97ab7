"""The ``dockyard`` CLI end to end against a real dockyardd, and next to the docker CLI."""

from __future__ import annotations

import io
import json
import re
import subprocess
import tarfile
from pathlib import Path

from dockyard.testing.daemon import Daemon

BUSYBOX = "busybox:latest"
_AGO = re.compile(r"(\d+|About an?|Less than a) ?\w* ago|N/A")


def dockyard(daemon: Daemon, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return daemon.dockyard(*args, check=check, timeout=120)


def table(text: str) -> list[list[str]]:
    """Rows split on docker's 3-space column gaps, with timing strings blanked out."""
    return [
        [_AGO.sub("<time>", cell.strip()) for cell in re.split(r"\s{3,}", line.rstrip())]
        for line in text.splitlines()
        if line.strip()
    ]


def rootfs_tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        data = b"hello from dockyard\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_version_info_df(daemon: Daemon) -> None:
    out = dockyard(daemon, "version").stdout
    assert out.startswith("Client: Dockyard\n Version:")
    assert "\nServer:" in out and " Engine:\n  Version:" in out
    info = dockyard(daemon, "info").stdout
    assert "\nServer:\n Containers:" in info and " Images: " in info
    fmt = dockyard(daemon, "info", "--format", "{{json .Images}}").stdout.strip()
    assert int(fmt) >= 1


def test_system_df(daemon: Daemon) -> None:
    res = dockyard(daemon, "system", "df", check=False)
    assert res.returncode == 0, res.stderr
    df = table(res.stdout)
    assert df[0] == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [r[0] for r in df[1:]] == ["Images", "Containers", "Local Volumes", "Build Cache"]


def test_images_and_history_match_the_docker_cli(daemon: Daemon) -> None:
    dockyard(daemon, "tag", BUSYBOX, "dyt-cli/bb:v1")
    for args in (
        ("images",),
        ("images", "--digests"),
        ("images", "--no-trunc"),
        ("images", "-q"),
        ("history", BUSYBOX),
        ("history", "--no-trunc", BUSYBOX),
        ("image", "history", "-q", BUSYBOX),
    ):
        ours = table(dockyard(daemon, *args).stdout)
        theirs = table(daemon.docker(*args).stdout)
        if args[0] == "images" and "-q" not in args:
            ours, theirs = ours[:1] + sorted(ours[1:]), theirs[:1] + sorted(theirs[1:])
        assert ours == theirs, args


def test_tag_inspect_rmi(daemon: Daemon) -> None:
    dockyard(daemon, "tag", BUSYBOX, "dyt-cli/tagged:v2")
    doc = json.loads(dockyard(daemon, "image", "inspect", "dyt-cli/tagged:v2").stdout)
    assert "dyt-cli/tagged:v2" in doc[0]["RepoTags"]
    ids = dockyard(daemon, "inspect", "-f", "{{.Id}}", "dyt-cli/tagged:v2").stdout.strip()
    assert ids == doc[0]["Id"]
    out = dockyard(daemon, "rmi", "dyt-cli/tagged:v2").stdout
    assert out == "Untagged: dyt-cli/tagged:v2\n"
    res = dockyard(daemon, "rmi", "dyt-cli/tagged:v2", check=False)
    assert res.returncode == 1
    assert res.stderr.startswith("Error response from daemon: ")


def test_save_load_import_prune(daemon: Daemon, tmp_path: Path) -> None:
    tar = tmp_path / "bb.tar"
    dockyard(daemon, "save", "-o", str(tar), BUSYBOX)
    assert tarfile.is_tarfile(tar)
    out = dockyard(daemon, "load", "-i", str(tar)).stdout
    assert "Loaded image: busybox:latest" in out

    src = tmp_path / "rootfs.tar"
    src.write_bytes(rootfs_tar())
    out = dockyard(
        daemon, "import", "-c", 'CMD ["/hello"]', "-m", "from the cli", str(src), "dyt-cli/imp:v1"
    ).stdout.strip()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", out)
    doc = json.loads(dockyard(daemon, "image", "inspect", "dyt-cli/imp:v1").stdout)[0]
    assert doc["Id"] == out
    assert doc["Config"]["Cmd"] == ["/hello"]
    hist = dockyard(daemon, "history", "--format", "{{.Comment}}", "dyt-cli/imp:v1").stdout
    assert "from the cli" in hist

    pruned = dockyard(daemon, "image", "prune", "-f").stdout
    assert pruned.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
