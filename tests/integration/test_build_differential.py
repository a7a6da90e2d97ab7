"""Differential builds: the same Dockerfile built by Dockyard and by Docker's legacy
builder (dockerd 20.10 from Debian), compared as a user would compare the images: the
image config fields a Dockerfile sets, and the file tree (paths, types, modes, owners,
contents, link targets; not times).

Both start from the same busybox image (Dockyard's built-in one, loaded into dockerd).
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dockyard.build.builder import BuildOptions
from dockyard.images import archive
from dockyard.images.base import ensure_base_image
from dockyard.images.imagestore import ImageStore
from dockyard.testing.dockerd import Dockerd
from dockyard.testing.names import unique

from .builds import build
from .imagetrees import image_tree

pytestmark = pytest.mark.requires("root", "overlay")

COMPARED = (
    "Cmd",
    "Entrypoint",
    "Env",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "OnBuild",
    "Shell",
)


def _targz(files: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(data), 0o640, 12, 34
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    dockerfile: str
    files: Mapping[str, bytes | str | None] = field(default_factory=dict)
    modes: Mapping[str, int] = field(default_factory=dict)
    build_args: Mapping[str, str] = field(default_factory=dict)


TXT = {"a.txt": b"alpha\n", "b.txt": b"beta\n", "c.md": b"# c\n"}
TREE = {"dir": None, "dir/sub": None, "dir/sub/x": b"x\n", "dir/run.sh": b"#!/bin/sh\n"}
TREE_MODES = {"dir": 0o750, "dir/sub": 0o700, "dir/run.sh": 0o755}

CASES = [
    Case(
        "env_forms",
        'FROM busybox\nENV A=1 B="two words"\nENV C 3 4\nENV D=$A-${B} E=${NOPE:-dflt}\n',
    ),
    Case(
        "env_same_instruction", "FROM busybox\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n"
    ),
    Case("labels", 'FROM busybox\nLABEL a=b "c d"="e f"\nLABEL legacy value with spaces\n'),
    Case("cmd_exec", 'FROM busybox\nCMD ["echo", "hi there"]\n'),
    Case("cmd_shell", "FROM busybox\nCMD echo $HOME\n"),
    Case("entrypoint_resets_cmd", 'FROM busybox\nENTRYPOINT ["echo"]\n'),
    Case("entrypoint_and_cmd", 'FROM busybox\nCMD ["x"]\nENTRYPOINT ["echo"]\n'),
    Case("workdir", "FROM busybox\nWORKDIR /a\nWORKDIR b\nWORKDIR ../c\nRUN pwd > /pwd\n"),
    Case("user_stopsignal", "FROM busybox\nUSER nobody\nSTOPSIGNAL SIGUSR1\nRUN id > /tmp/id\n"),
    Case("expose", "FROM busybox\nEXPOSE 80 443/tcp 53/udp 8000-8002\n"),
    Case("volumes", 'FROM busybox\nVOLUME ["/data"]\nVOLUME /a /b\n'),
    Case(
        "healthcheck",
        "FROM busybox\nHEALTHCHECK --interval=5s --timeout=3s --retries=2 "
        "CMD wget -q localhost || exit 1\n",
    ),
    Case(
        "healthcheck_exec_then_none", 'FROM busybox\nHEALTHCHECK CMD ["true"]\nHEALTHCHECK NONE\n'
    ),
    Case("onbuild", "FROM busybox\nONBUILD RUN echo hi\nONBUILD COPY . /x\n"),
    Case("shell", 'FROM busybox\nSHELL ["/bin/sh", "-ec"]\nRUN echo $0 > /shell\nCMD echo x\n'),
    Case(
        "run_files",
        "FROM busybox\nRUN mkdir -p /d/e && echo x > /d/e/f && chmod 600 /d/e/f "
        "&& ln -s /d/e/f /lnk && touch /empty && mkfifo /fifo\n",
    ),
    Case("run_deletes", "FROM busybox\nRUN rm /etc/group && rm -r /home && echo y > /etc/new\n"),
    Case("run_exec_form", 'FROM busybox\nRUN ["/bin/sh", "-c", "echo exec > /exec"]\n'),
    Case("copy_file_to_dir", "FROM busybox\nCOPY a.txt /dst/\n", TXT),
    Case("copy_file_rename", "FROM busybox\nCOPY a.txt /dst/b.txt\n", TXT),
    Case("copy_to_existing_dir", "FROM busybox\nCOPY a.txt /etc\n", TXT),
    Case("copy_dir_contents", "FROM busybox\nCOPY dir /dst\nCOPY dir /dst2/\n", TREE, TREE_MODES),
    Case("copy_glob", "FROM busybox\nCOPY *.txt /g/\n", TXT),
    Case("copy_many", "FROM busybox\nCOPY a.txt dir /multi/\n", {**TXT, **TREE}, TREE_MODES),
    Case(
        "copy_chown",
        "FROM busybox\nCOPY --chown=1000:1000 a.txt /o/\nCOPY --chown=nobody:nogroup dir /p/\n"
        "COPY --chown=daemon b.txt /q/\n",
        {**TXT, **TREE},
        TREE_MODES,
    ),
    Case(
        "copy_symlinks",
        "FROM busybox\nCOPY link /followed\nCOPY withlink /kept/\n",
        {
            "target.txt": b"t\n",
            "link": "target.txt",
            "withlink": None,
            "withlink/l": "../target.txt",
        },
    ),
    Case("copy_workdir_relative", "FROM busybox\nWORKDIR /w\nCOPY a.txt rel/\nCOPY b.txt .\n", TXT),
    Case("copy_env_dest", "FROM busybox\nENV D=/envdst\nCOPY a.txt $D/\n", TXT),
    Case(
        "copy_modes",
        "FROM busybox\nCOPY run.sh sg /bin/\nCOPY sticky /sticky\n",
        {"run.sh": b"#!/bin/sh\n", "sg": b"g", "sticky": None, "sticky/in": None},
        {"run.sh": 0o4755, "sg": 0o2711, "sticky/in": 0o1777},
    ),
    Case(
        "add_archive",
        "FROM busybox\nADD arch.tar.gz /ex/\nADD a.txt /add.txt\n",
        {**TXT, "arch.tar.gz": _targz({"in/one": b"1", "two": b"2"})},
    ),
    Case("arg_scoping", "ARG V=1\nFROM busybox\nARG V\nRUN echo $V > /v\nENV E=$V\n"),
    Case(
        "build_args",
        "FROM busybox\nARG X\nARG Y=dflt\nRUN echo $X $Y > /x\n",
        {},
        build_args={"X": "given"},
    ),
    Case(
        "multistage",
        "FROM busybox AS one\nRUN echo 1 > /one\nFROM busybox\n"
        "COPY --from=one /one /two\nCOPY --from=0 /one /three\n",
    ),
    Case(
        "dockerignore",
        "FROM busybox\nCOPY . /ctx/\n",
        {**TXT, ".dockerignore": b"*.md\n!c.md\nb.txt\n"},
    ),
    Case(
        "escape_and_continuations",
        "# escape=`\nFROM busybox\nRUN echo a `\n  # comment\n  b > /ab\nLABEL x=`$notvar\n",
    ),
    Case("maintainer", "FROM busybox\nMAINTAINER someone <s@example.org>\n"),
]


def _write_context(root: Path, case: Case) -> None:
    root.mkdir(parents=True)
    (root / "Dockerfile").write_text(case.dockerfile)
    for name, data in case.files.items():
        path = root / name
        if data is None:
            path.mkdir(parents=True, exist_ok=True)
        elif isinstance(data, str):
            os.symlink(data, path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for name, mode in case.modes.items():
        os.chmod(root / name, mode)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImageStore]:
    with ImageStore(tmp_path_factory.mktemp("diff") / unique("store")) as s:
        ensure_base_image(s)
        yield s


@pytest.fixture(scope="module")
def reference(dockerd: Dockerd, store: ImageStore) -> Dockerd:
    out = io.BytesIO()
    archive.save(store, ["busybox:latest"], out)
    dockerd.cli("load", input=out.getvalue())
    return dockerd


def _ours(store: ImageStore, tmp: Path, case: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    files = {"Dockerfile": case.dockerfile.encode(), **case.files}
    options = BuildOptions(build_args=dict(case.build_args))
    built = build(store, tmp, files, options, modes=case.modes)
    out = io.BytesIO()
    archive.save(store, [built.image_id], out)
    return image_tree(out.getvalue())


def _theirs(docker: Dockerd, tmp: Path, case: Case) -> tuple[dict[str, Any], dict[str, Any]]:
    root = tmp / "docker-context"
    _write_context(root, case)
    args = [a for k, v in case.build_args.items() for a in ("--build-arg", f"{k}={v}")]
    image = docker.cli("build", "-q", *args, str(root)).stdout.decode().strip()
    try:
        return image_tree(docker.cli("save", image).stdout)
    finally:
        docker.cli("rmi", image, check=False)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_image_as_docker(
    case: Case, store: ImageStore, reference: Dockerd, tmp_path: Path
) -> None:
    ours_config, ours_tree = _ours(store, tmp_path, case)
    theirs_config, theirs_tree = _theirs(reference, tmp_path, case)
    for key in COMPARED:  # docker writes every field, empty ones too
        ours, theirs = ours_config["config"].get(key), theirs_config["config"].get(key)
        assert (ours or None) == (theirs or None), key
    assert ours_config.get("author") == theirs_config.get("author")
    differ = {
        p: (ours_tree.get(p), theirs_tree.get(p))
        for p in set(ours_tree) | set(theirs_tree)
        if ours_tree.get(p) != theirs_tree.get(p)
    }
    assert differ == {}
