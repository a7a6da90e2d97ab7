"""A container's files from the command line: ``cp``, ``export``, ``diff``, ``commit``.

``cp`` follows the docker CLI step by step (``cli/command/container/cp.go``): stat the
container side (``HEAD .../archive``), decide with docker's rules (``copying.py``)
where the archive goes, stream it (``GET``/``PUT .../archive``); ``-`` stands for a
tar on stdin or stdout. A trailing ``/`` or ``/.`` asserts a directory, ``dir/.``
copies the directory's contents.
"""

from __future__ import annotations

import os
import sys

from dockyard.cli import output
from dockyard.cli.copying import (
    GO_DIR,
    GO_SYMLINK,
    ChunkReader,
    LocalExtract,
    copy_info_destination,
    go_base,
    prepare_copy,
    rebase,
    resolve_local_path,
    source_path,
    split_cp_arg,
    split_path_dir_entry,
    walk_entries,
)
from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.flags import LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from dockyard.cli.context import Context

STAT_HEADER = "x-docker-container-path-stat"

# -- cp ---------------------------------------------------------------------------------

CP = Command(
    "cp",
    "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
    "\tdockyard cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
    "Copy files/folders between a container and the local filesystem",
    [
        Flag("archive", "a", help="Archive mode (copy all uid/gid information)"),
        Flag("follow-link", "L", help="Always follow symbol link in SRC_PATH"),
        Flag("quiet", "q", help="Suppress progress output during copy"),
    ],
    min_args=2,
    max_args=2,
    aliases=("dockyard container cp", "dockyard cp"),
)


def cp(ctx: Context, argv: list[str]) -> int:
    opts, (src, dst) = CP.parse(argv)
    src_ctr, src_path = split_cp_arg(src)
    dst_ctr, dst_path = split_cp_arg(dst)
    if src_ctr and dst_ctr:
        raise CommandFailed("copying between containers is not supported")
    if not src_ctr and not dst_ctr:
        raise CommandFailed("must specify at least one container source")
    if not (src_ctr or src_path) or not (dst_ctr or dst_path):
        raise UsageError("filepath can not be empty", "cp")
    if src_ctr:
        _copy_from(ctx, src_ctr, src_path, dst_path, opts["follow_link"])
    else:
        _copy_to(ctx, src_path, dst_ctr, dst_path, opts["archive"], opts["follow_link"])
    return 0


def stat_path(ctx: Context, container: str, path: str) -> dict[str, Any]:
    """``HEAD /containers/{id}/archive``: the decoded stat header."""
    import base64
    import json

    from dockyard.client.transport import quote_name

    resp = ctx.client().transport.request(
        "HEAD", f"/containers/{quote_name(container)}/archive", query={"path": path}
    )
    resp.read()
    return _decode_stat(resp.headers.get(STAT_HEADER, ""), base64, json)


def _decode_stat(value: str, base64: Any, json: Any) -> dict[str, Any]:
    try:
        doc = json.loads(base64.b64decode(value))
    except ValueError as e:
        raise CommandFailed(f"unable to decode container path stat header: {e}") from e
    return doc if isinstance(doc, dict) else {}


def _copy_from(ctx: Context, ctr: str, src: str, dst: str, follow: bool) -> None:
    import base64
    import json
    import posixpath
    import tarfile

    from dockyard.client.transport import quote_name

    if dst != "-":
        dst = resolve_local_path(dst)
        parent = os.path.dirname(dst.rstrip("/") or "/")
        if not os.path.isdir(parent):
            raise CommandFailed(f'invalid output path: directory "{parent}" does not exist')
    rebase_name = ""
    if follow:
        st = stat_path(ctx, ctr, src)
        if int(st.get("mode", 0)) & GO_SYMLINK:
            target = str(st.get("linkTarget") or "")
            if not target.startswith("/"):
                target = posixpath.join(split_path_dir_entry(src)[0], target)
            if go_base(src) != go_base(target):
                rebase_name = go_base(src)
            src = target
    resp = ctx.client().transport.request(
        "GET", f"/containers/{quote_name(ctr)}/archive", query={"path": src}
    )
    chunks = resp.chunks()
    if dst == "-":
        output.write_stream(chunks)
        return
    st = _decode_stat(resp.headers.get(STAT_HEADER, ""), base64, json)
    dst_path, exists, is_dir = copy_info_destination(dst)
    dst_dir, change = prepare_copy(
        src, bool(int(st.get("mode", 0)) & GO_DIR), dst_path, exists, is_dir, rebase_name
    )
    with tarfile.open(fileobj=ChunkReader(chunks), mode="r|") as tar:  # type: ignore[call-overload]
        LocalExtract(dst_dir).run(tar, change)
    _done(f"Successfully copied to {dst}")


def _copy_to(ctx: Context, src: str, ctr: str, dst: str, archive: bool, follow: bool) -> None:
    import posixpath

    from dockyard.client.errors import APIError
    from dockyard.client.transport import quote_name

    dst_exists = dst_is_dir = False
    dst_info = dst
    try:
        st = stat_path(ctx, ctr, dst)
        if int(st.get("mode", 0)) & GO_SYMLINK:
            target = str(st.get("linkTarget") or "")
            if not target.startswith("/"):
                target = posixpath.join(split_path_dir_entry(dst)[0], target)
            dst_info = target
            st = stat_path(ctx, ctr, target)
        dst_exists, dst_is_dir = True, bool(int(st.get("mode", 0)) & GO_DIR)
    except APIError as e:
        if not e.not_found:
            raise
    body: Any
    if src == "-":
        if not dst_is_dir:
            raise CommandFailed(f'destination "{ctr}:{dst}" must be a directory')
        target_dir, body = dst_info, sys.stdin.buffer
    else:
        src = resolve_local_path(src)
        src_path, rebase_name = source_path(src, follow)
        if not os.path.lexists(src_path):
            raise CommandFailed(f"stat {src}: no such file or directory")
        src_is_dir = os.path.isdir(src_path) and not os.path.islink(src_path)
        target_dir, change = prepare_copy(
            src_path, src_is_dir, dst_info, dst_exists, dst_is_dir, rebase_name
        )
        body = tar_chunks(src_path, rebase_name, change)
    query: dict[str, str | bool | None] = {
        "path": target_dir,
        "noOverwriteDirNonDir": True,
        "copyUIDGID": archive or None,
    }
    ctx.client().transport.request(
        "PUT",
        f"/containers/{quote_name(ctr)}/archive",
        query=query,
        body=body,
        headers={"Content-Type": "application/x-tar"},
    ).read()
    _done(f"Successfully copied to {ctr}:{dst}")


def tar_chunks(path: str, rebase_name: str, change: tuple[str, str] | None) -> Iterator[bytes]:
    """Docker's ``TarResource`` of local ``path``, entries renamed as ``change`` says,
    produced by a thread while the request sends it."""
    import queue
    import tarfile
    import threading

    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)

    class Sink:
        def write(self, data: bytes) -> int:
            chunks.put(bytes(data))
            return len(data)

    def produce() -> None:
        try:
            with tarfile.open(fileobj=Sink(), mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                src_dir, src_base = split_path_dir_entry(path)
                for host, name in walk_entries(src_dir, src_base):
                    if rebase_name:
                        name = name.replace(src_base, rebase_name, 1)
                    info = tar.gettarinfo(host, rebase(name, change))
                    if info is None:
                        continue  # a socket: docker's archives leave them out too
                    info.uname = info.gname = ""
                    if info.isreg():
                        with open(host, "rb") as f:
                            tar.addfile(info, f)
                    else:
                        tar.addfile(info)
        except BaseException as e:
            chunks.put(e)
            return
        chunks.put(None)

    threading.Thread(target=produce, daemon=True).start()
    while (item := chunks.get()) is not None:
        if isinstance(item, BaseException):
            raise CommandFailed(f"cannot read {path}: {item}")
        yield item


def _done(message: str) -> None:
    if sys.stderr.isatty():
        output.err(message)


# -- export, diff, commit -----------------------------------------------------------------

EXPORT = Command(
    "export",
    "[OPTIONS] CONTAINER",
    "Export a container's filesystem as a tar archive",
    [Flag("output", "o", STRING, "Write to a file, instead of STDOUT")],
    min_args=1,
    max_args=1,
    aliases=("dockyard container export", "dockyard export"),
)


def export(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.transport import quote_name

    opts, (ref,) = EXPORT.parse(argv)
    path = opts["output"]
    if path is None and output.stdout_is_terminal():
        raise CommandFailed("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    resp = ctx.client().transport.request("GET", f"/containers/{quote_name(ref)}/export")
    output.write_stream(resp.chunks(), path)
    return 0


DIFF = Command(
    "diff",
    "CONTAINER",
    "Inspect changes to files or directories on a container's filesystem",
    [],
    min_args=1,
    max_args=1,
    aliases=("dockyard container diff", "dockyard diff"),
)
KINDS = {0: "C", 1: "A", 2: "D"}


def diff(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.transport import quote_name

    _, (ref,) = DIFF.parse(argv)
    found = ctx.client().transport.request("GET", f"/containers/{quote_name(ref)}/changes").json()
    for change in found or []:
        output.out(f"{KINDS.get(int(change.get('Kind', 0)), '?')} {change.get('Path')}")
    return 0


COMMIT = Command(
    "commit",
    "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    "Create a new image from a container's changes",
    [
        Flag("author", "a", STRING, 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
        Flag("change", "c", LIST, "Apply Dockerfile instruction to the created image"),
        Flag("message", "m", STRING, "Commit message"),
        Flag("pause", "p", help="Pause container during commit", default=True),
    ],
    min_args=1,
    max_args=2,
    aliases=("dockyard container commit", "dockyard commit"),
)


def commit(ctx: Context, argv: list[str]) -> int:
    opts, args = COMMIT.parse(argv)
    repo = tag = None
    if len(args) > 1:
        repo, tag = split_reference(args[1])
    query: dict[str, Any] = {
        "container": args[0],
        "repo": repo,
        "tag": tag,
        "comment": opts["message"] or None,
        "author": opts["author"] or None,
        "pause": bool(opts["pause"]),
        "changes": list(opts["change"]) or None,
    }
    resp = ctx.client().transport.request("POST", "/commit", query=query, json_body={})
    doc = resp.json()
    output.out(str(doc.get("Id", "")) if isinstance(doc, dict) else "")
    return 0


def split_reference(ref: str) -> tuple[str, str | None]:
    """``repo[:tag]`` -> (repo, tag); a ``:`` inside a registry's host:port is not a tag."""
    if "@" in ref:
        raise CommandFailed(f"invalid reference format: {ref}: commit takes REPOSITORY[:TAG]")
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, None
    return name, tag
