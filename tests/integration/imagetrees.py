"""An image's file tree from a docker-archive (``docker save``), for comparing images.

Layers are applied in order with whiteouts and opaque dirs as overlayfs would; each
path maps to what a user can observe of it: type, mode, owner, content digest, link
target (no times: two builds never agree on those).
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import tarfile
from typing import Any

Entry = tuple[str, int, int, int, str]  # type, mode, uid, gid, content digest or link


def _kind(m: tarfile.TarInfo) -> str:
    if m.isdir():
        return "dir"
    if m.issym():
        return "symlink"
    if m.islnk():
        return "hardlink"
    if m.isfifo():
        return "fifo"
    return "file" if m.isreg() else f"type-{m.type!r}"


def image_tree(archive: bytes) -> tuple[dict[str, Any], dict[str, Entry]]:
    """The config and the flattened tree of the (only) image in a docker-archive."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as outer:

        def read(name: str) -> bytes:
            f = outer.extractfile(name)
            assert f is not None, name
            return f.read()

        manifest = json.loads(read("manifest.json"))[0]
        config = json.loads(read(manifest["Config"]))
        tree: dict[str, Entry] = {}
        for layer in manifest["Layers"]:
            with tarfile.open(fileobj=io.BytesIO(read(layer))) as tar:
                _apply(tar, tree)
    return config, tree


def _apply(tar: tarfile.TarFile, tree: dict[str, Entry]) -> None:
    for m in tar.getmembers():
        path = posixpath.normpath("/" + m.name)
        parent, base = posixpath.split(path)
        if base == ".wh..wh..opq":
            for p in [p for p in tree if p.startswith(parent.rstrip("/") + "/")]:
                del tree[p]
            continue
        if base.startswith(".wh."):
            gone = posixpath.join(parent, base[4:])
            for p in [p for p in tree if p == gone or p.startswith(gone + "/")]:
                del tree[p]
            continue
        if path in tree and tree[path][0] == "dir" and not m.isdir():
            for p in [p for p in tree if p.startswith(path + "/")]:
                del tree[p]
        if m.isreg():
            f = tar.extractfile(m)
            assert f is not None
            what = hashlib.sha256(f.read()).hexdigest()[:16]
        elif m.issym() or m.islnk():
            what = m.linkname
        else:
            what = ""
        tree[path] = (_kind(m), m.mode & 0o7777, m.uid, m.gid, what)
