"""``dockyard build``'s query and context tar (no daemon)."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import IO

import pytest

from dockyard.cli.build import BUILD, TarContext, build_query
from dockyard.cli.errors import CommandFailed


def query(*argv: str, env: dict[str, str] | None = None) -> dict[str, object]:
    opts, _ = BUILD.parse([*argv, "."])
    return build_query(opts, env or {})


def test_flags_become_the_query() -> None:
    q = query(
        "-t",
        "a",
        "-t",
        "b:v1",
        "--build-arg",
        "X=1",
        "--build-arg",
        "FROM_ENV",
        "--build-arg",
        "MISSING",
        "--label",
        "k=v",
        "--target",
        "final",
        "--no-cache",
        "--cache-from",
        "old",
        "--network",
        "host",
        "-q",
        env={"FROM_ENV": "env-value"},
    )
    assert q["t"] == ["a", "b:v1"]
    assert json.loads(str(q["buildargs"])) == {"X": "1", "FROM_ENV": "env-value", "MISSING": None}
    assert json.loads(str(q["labels"])) == {"k": "v"}
    assert json.loads(str(q["cachefrom"])) == ["old"]
    assert (q["target"], q["nocache"], q["networkmode"], q["q"]) == ("final", True, "host", True)


def test_unset_flags_are_left_out() -> None:
    q = query()
    assert {k for k, v in q.items() if v is not None} == {"rm", "version"}


def members(f: IO[bytes]) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=f, mode="r") as tar:
        return {m.name: m for m in tar.getmembers()}


def test_directory_tar_keeps_symlinks_and_zeroes_owners(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM busybox\n")
    (ctx / "sub" / "file").write_text("x")
    os.symlink("sub/file", ctx / "link")
    os.symlink("sub", ctx / "dirlink")
    if os.geteuid() == 0:
        os.chown(ctx / "sub" / "file", 1234, 1234)
    q: dict[str, object] = {}
    with TarContext(str(ctx), None, q) as f:
        found = members(f)
    assert set(found) == {"Dockerfile", "sub", "sub/file", "link", "dirlink"}
    assert found["link"].issym() and found["link"].linkname == "sub/file"
    assert found["dirlink"].issym()
    assert all(m.uid == 0 and m.gid == 0 and not m.uname for m in found.values())
    assert "dockerfile" not in q


def test_dockerfile_inside_is_named_relative(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "docker").mkdir(parents=True)
    (ctx / "docker" / "Dockerfile.dev").write_text("FROM busybox\n")
    q: dict[str, object] = {}
    with TarContext(str(ctx), str(ctx / "docker" / "Dockerfile.dev"), q):
        pass
    assert q["dockerfile"] == "docker/Dockerfile.dev"


def test_dockerfile_outside_goes_in_under_a_hidden_name(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / ".dockerignore").write_text("*.log")
    (ctx / "a.txt").write_text("a")
    outside = tmp_path / "other.Dockerfile"
    outside.write_text("FROM scratch\n")
    q: dict[str, object] = {}
    with TarContext(str(ctx), str(outside), q) as f, tarfile.open(fileobj=f, mode="r") as tar:
        name = str(q["dockerfile"])
        assert name.startswith(".dockerfile.")
        assert tar.extractfile(name).read() == b"FROM scratch\n"
        ignore = tar.extractfile(".dockerignore").read().decode()
        assert ignore.splitlines() == ["*.log", name]
        assert [m.name for m in tar.getmembers()].count(".dockerignore") == 1


def test_missing_context_or_dockerfile_fails(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="not found"), TarContext(str(tmp_path / "x"), None, {}):
        pass
    with pytest.raises(CommandFailed, match="no such file"), TarContext(str(tmp_path), None, {}):
        pass


def test_proxies_of_the_docker_config_become_build_args(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text(
        '{"proxies": {"default": {"httpProxy": "http://proxy.test:3128", "noProxy": "x"}}}'
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    args = json.loads(query("--build-arg", "NO_PROXY=mine")["buildargs"])
    assert args["HTTP_PROXY"] == args["http_proxy"] == "http://proxy.test:3128"
    assert args["NO_PROXY"] == "mine" and "no_proxy" not in args  # a given one stays
