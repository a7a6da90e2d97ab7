"""The build core against a real store and runtime: steps, cache, stages, squash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.build.builder import BuildFailed, BuildOptions
from dockyard.errors import InvalidArgument, NotFound
from dockyard.images.base import ensure_base_image
from dockyard.images.imagestore import ImageStore
from dockyard.images.rootfs import (
    mount_container,
    prepare_container,
    remove_container,
    unmount_container,
)
from dockyard.testing.buildrunner import RuntimeRunner
from dockyard.testing.names import unique

from .builds import build

pytestmark = pytest.mark.requires("root", "overlay")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageStore]:
    with ImageStore(tmp_path / unique("store")) as s:
        ensure_base_image(s)
        yield s


def read_file(store: ImageStore, image: str, path: str, tmp: Path) -> bytes:
    cid = unique("probe")
    prepare_container(store, cid, image)
    mnt = tmp / cid
    mnt.mkdir()
    try:
        mount_container(store, cid, mnt)
        try:
            return (mnt / path.lstrip("/")).read_bytes()
        finally:
            unmount_container(mnt)
    finally:
        remove_container(store, cid)


SIMPLE = """FROM busybox
ENV GREETING=hello
WORKDIR /app
COPY a.txt .
RUN echo "$GREETING from $(pwd)" > out.txt
CMD ["cat", "/app/out.txt"]
"""


def test_steps_make_images_and_the_cache_reuses_them(store: ImageStore, tmp_path: Path) -> None:
    files = {"Dockerfile": SIMPLE.encode(), "a.txt": b"A\n"}
    first = build(store, tmp_path, files, BuildOptions(tags=("app:1",)))
    assert "Step 1/6 : FROM busybox" in first.output
    assert "Step 6/6 : CMD" in first.output
    assert first.runs == 1
    cfg = first.config["config"]
    assert cfg["Cmd"] == ["cat", "/app/out.txt"]
    assert cfg["WorkingDir"] == "/app"
    assert "GREETING=hello" in cfg["Env"]
    assert read_file(store, first.image_id, "/app/out.txt", tmp_path) == b"hello from /app\n"
    assert read_file(store, first.image_id, "/app/a.txt", tmp_path) == b"A\n"
    assert str(store.image("app:1").id) == first.image_id
    again = build(store, tmp_path, files)
    assert again.image_id == first.image_id
    assert again.runs == 0
    assert again.output.count("Using cache") == 5
    changed = build(store, tmp_path, {**files, "a.txt": b"B\n"})
    assert changed.output.count("Using cache") == 2  # ENV and WORKDIR; COPY changed
    assert changed.runs == 1
    fresh = build(store, tmp_path, files, BuildOptions(no_cache=True))
    assert "Using cache" not in fresh.output and fresh.runs == 1


def test_multi_stage_target_and_copy_from(store: ImageStore, tmp_path: Path) -> None:
    dockerfile = """FROM busybox AS base
RUN echo base > /base.txt
FROM busybox AS unused
RUN echo never > /never.txt
FROM base AS build
RUN echo built > /built.txt
FROM busybox
COPY --from=build /built.txt /base.txt /out/
"""
    b = build(store, tmp_path, {"Dockerfile": dockerfile.encode()})
    assert "never" not in b.output.replace("echo never", "")
    assert "RUN echo never" not in b.output  # the unused stage is skipped
    assert read_file(store, b.image_id, "/out/built.txt", tmp_path) == b"built\n"
    assert read_file(store, b.image_id, "/out/base.txt", tmp_path) == b"base\n"
    t = build(store, tmp_path, {"Dockerfile": dockerfile.encode()}, BuildOptions(target="base"))
    assert read_file(store, t.image_id, "/base.txt", tmp_path) == b"base\n"
    with pytest.raises(InvalidArgument, match="failed to reach build target nope"):
        build(store, tmp_path, {"Dockerfile": dockerfile.encode()}, BuildOptions(target="nope"))


def test_args_onbuild_and_labels(store: ImageStore, tmp_path: Path) -> None:
    parent = """ARG BASE=busybox
FROM $BASE
ARG WHO=world
ENV WHO_ENV=$WHO
ONBUILD RUN echo triggered > /trigger.txt
"""
    p = build(
        store,
        tmp_path,
        {"Dockerfile": parent.encode()},
        BuildOptions(tags=("parent:1",), build_args={"WHO": "you", "UNUSED": "x"}),
    )
    assert "WHO_ENV=you" in p.config["config"]["Env"]
    assert p.config["config"]["OnBuild"] == ["RUN echo triggered > /trigger.txt"]
    assert "[Warning] One or more build-args ['UNUSED'] were not consumed" in p.output
    child = build(
        store, tmp_path, {"Dockerfile": b"FROM parent:1\n"}, BuildOptions(labels={"k": "v"})
    )
    assert read_file(store, child.image_id, "/trigger.txt", tmp_path) == b"triggered\n"
    assert child.config["config"]["Labels"] == {"k": "v"}
    assert not child.config["config"].get("OnBuild")


def test_a_failing_run_tags_nothing(store: ImageStore, tmp_path: Path) -> None:
    files = {"Dockerfile": b"FROM busybox\nRUN exit 3\n"}
    with pytest.raises(BuildFailed, match="returned a non-zero code: 3") as info:
        build(store, tmp_path, files, BuildOptions(tags=("broken:1",)))
    assert info.value.code == 3
    with pytest.raises(NotFound):
        store.image("broken:1")
    assert store.metadata.list_containers() == []


def test_bad_input(store: ImageStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="file not found in build context"):
        build(store, tmp_path, {"Dockerfile": b"FROM busybox\nCOPY missing /x\n"})
    with pytest.raises(InvalidArgument, match="forbidden path outside the build context"):
        build(store, tmp_path, {"Dockerfile": b"FROM busybox\nCOPY ../../etc/passwd /x\n"})
    with pytest.raises(InvalidArgument, match="outside"):
        build(
            store,
            tmp_path,
            {"Dockerfile": b"FROM busybox\nCOPY up/etc/passwd /x\n", "up": "../../.."},
        )
    with pytest.raises(NotFound, match="pull access denied for nosuch"):
        build(store, tmp_path, {"Dockerfile": b"FROM nosuch\n"})
    with pytest.raises(InvalidArgument, match="Dockerfile:2: unknown instruction: BOGUS"):
        build(store, tmp_path, {"Dockerfile": b"FROM busybox\nBOGUS x\n"})
    assert store.metadata.list_containers() == []


def test_squash_merges_the_build_layers(store: ImageStore, tmp_path: Path) -> None:
    files = {"Dockerfile": b"FROM busybox\nRUN echo 1 > /a\nRUN echo 2 > /b\nRUN rm /a\n"}
    plain = build(store, tmp_path, files)
    squashed = build(store, tmp_path, files, BuildOptions(squash=True))
    base_layers = len(store.image("busybox").layers)
    assert len(store.image(plain.image_id).layers) == base_layers + 3
    assert len(store.image(squashed.image_id).layers) == base_layers + 1
    assert len(squashed.config["history"]) == len(plain.config["history"])
    assert read_file(store, squashed.image_id, "/b", tmp_path) == b"2\n"
    with pytest.raises(FileNotFoundError):
        read_file(store, squashed.image_id, "/a", tmp_path)


def test_dockerignore_and_symlinks(store: ImageStore, tmp_path: Path) -> None:
    files = {
        "Dockerfile": b"FROM busybox\nCOPY . /ctx/\n",
        ".dockerignore": b"secret*\n!secret-ok\n",
        "secret.key": b"no",
        "secret-ok": b"yes",
        "link": "secret-ok",
    }
    b = build(store, tmp_path, files)
    assert read_file(store, b.image_id, "/ctx/secret-ok", tmp_path) == b"yes"
    assert read_file(store, b.image_id, "/ctx/link", tmp_path) == b"yes"
    with pytest.raises(FileNotFoundError):
        read_file(store, b.image_id, "/ctx/secret.key", tmp_path)


@pytest.mark.parametrize(
    ("dockerfile", "files", "message"),
    [
        (
            'FROM busybox\nENV a="unterminated\n',
            {},
            r"Dockerfile:2: ENV a=\"unterminated: .*"
            "double-quote",
        ),
        ("FROM busybox\nRUN <<EOF\necho never ends\n", {}, "Dockerfile:2: unterminated heredoc"),
        (
            "FROM busybox\nCOPY loop /x\n",
            {"loop": "loop"},
            "Dockerfile:2: COPY loop /x: .*too many levels of symlinks",
        ),
        ("FROM busybox\nWORKDIR ${X:?is required}\n", {}, "Dockerfile:2: .*X: is required"),
    ],
)
def test_bad_values_name_the_line(
    store: ImageStore, tmp_path: Path, dockerfile: str, files: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        build(store, tmp_path, {"Dockerfile": dockerfile.encode(), **files})
    assert store.metadata.list_containers() == []


def test_300_run_steps_build_and_the_image_runs(store: ImageStore, tmp_path: Path) -> None:
    """Docker stops at 125 layers; a build of 300 RUN steps works and its image runs."""
    steps = "".join(f"RUN echo {i} > /step-{i % 10}\n" for i in range(300))
    b = build(store, tmp_path, {"Dockerfile": f"FROM busybox\n{steps}".encode()})
    assert len(store.image(b.image_id).layers) == len(store.image("busybox").layers) + 300
    assert read_file(store, b.image_id, "/step-9", tmp_path) == b"299\n"
    lines: list[str] = []
    runner = RuntimeRunner(store, tmp_path)
    runner.run(
        b.image_id,
        ["/bin/sh", "-c", "cat /step-*"],
        env=["PATH=/bin"],
        user="",
        workdir="/",
        network="none",
        created_by="probe",
        output=lines.append,
    )
    assert "".join(lines).split() == [str(n) for n in range(290, 300)]


def test_add_of_a_url(store: ImageStore, tmp_path: Path) -> None:
    """ADD fetches a URL (here a server on loopback): named after the URL, mode 0600."""
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "file.txt").write_text("from the web\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, directory=str(served), **k)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/file.txt"
    try:
        b = build(
            store,
            tmp_path,
            {
                "Dockerfile": f"FROM busybox\nADD {url} /dl/\nADD {url} /named\n"
                f"RUN stat -c %a /dl/file.txt > /mode\n".encode()
            },
        )
        assert read_file(store, b.image_id, "/dl/file.txt", tmp_path) == b"from the web\n"
        assert read_file(store, b.image_id, "/named", tmp_path) == b"from the web\n"
        assert read_file(store, b.image_id, "/mode", tmp_path) == b"600\n"
        with pytest.raises(BuildFailed, match=r"ADD failed: cannot download .*/missing"):
            build(
                store,
                tmp_path,
                {"Dockerfile": f"FROM busybox\nADD {url[:-8]}missing /x\n".encode()},
            )
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(BuildFailed, match=r"cannot download http://127\.0\.0\.1:1/x"):
        build(store, tmp_path, {"Dockerfile": b"FROM busybox\nADD http://127.0.0.1:1/x /x\n"})


def test_independent_stages_build_side_by_side(store: ImageStore, tmp_path: Path) -> None:
    """Two stages that need nothing of each other run at once (the legacy builder runs
    them one after the other): each RUN waits 2 s, the whole build takes well under 4 s."""
    import time

    dockerfile = (
        "FROM busybox AS a\nRUN sleep 2 && echo a > /a\n"
        "FROM busybox AS b\nRUN sleep 2 && echo b > /b\n"
        "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
    )
    began = time.monotonic()
    b = build(store, tmp_path, {"Dockerfile": dockerfile.encode()})
    took = time.monotonic() - began
    assert read_file(store, b.image_id, "/a", tmp_path) == b"a\n"
    assert read_file(store, b.image_id, "/b", tmp_path) == b"b\n"
    assert took < 3.6, f"the stages ran one after the other ({took:.1f} s)"
