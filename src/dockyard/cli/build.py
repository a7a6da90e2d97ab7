"""``build`` (``image build``) and ``builder prune``: Dockerfile builds on the daemon.

``build PATH`` tars the directory (symlinks stay symlinks, owners become 0:0, as the
docker CLI sends them; ``.dockerignore`` is applied by the daemon) and posts it to the
legacy builder's ``/build``; the output (steps, RUN output) is printed as it arrives.
A ``-f`` Dockerfile outside PATH goes into the tar under a unique name, which the
``.dockerignore`` sent along then hides from COPY, as docker's CLI does. ``build -``
reads a tar (maybe compressed) from stdin, or a bare Dockerfile (no context).
"""

from __future__ import annotations

import os
import sys

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed
from dockyard.cli.flags import LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Iterable, Iterator, Mapping
    from typing import IO, Any

    from dockyard.cli.context import Context

BUILD = Command(
    "build",
    "[OPTIONS] PATH | -",
    "Build an image from a Dockerfile",
    [
        Flag("build-arg", kind=LIST, help="Set build-time variables"),
        Flag("cache-from", kind=LIST, help="Images to consider as cache sources"),
        Flag("file", "f", STRING, "Name of the Dockerfile (Default is 'PATH/Dockerfile')"),
        Flag("iidfile", kind=STRING, help="Write the image ID to the file"),
        Flag("label", kind=LIST, help="Set metadata for an image"),
        Flag("network", kind=STRING, help="Set the networking mode for the RUN instructions"),
        Flag("no-cache", help="Do not use cache when building the image"),
        Flag("platform", kind=STRING, help="Set platform if server is multi-platform capable"),
        Flag("pull", help="Always attempt to pull a newer version of the image (ignored)"),
        Flag("quiet", "q", help="Suppress the build output and print image ID on success"),
        Flag("rm", help="Remove intermediate containers after a successful build (always)"),
        Flag("force-rm", help="Always remove intermediate containers (always)"),
        Flag("squash", help="Squash newly built layers into a single new layer"),
        Flag("tag", "t", LIST, "Name and optionally a tag in the 'name:tag' format"),
        Flag("target", kind=STRING, help="Set the target build stage to build"),
    ],
    min_args=1,
    max_args=1,
    aliases=("dockyard image build", "dockyard build", "dockyard builder build"),
)

PRUNE = Command(
    "builder prune",
    "[OPTIONS]",
    "Remove build cache",
    [
        Flag("all", "a", help="Remove all unused build cache, not just dangling ones"),
        Flag("filter", kind=LIST, help="Provide filter values (e.g. 'until=24h')"),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)

DANGLING_WARNING = "WARNING! This will remove all dangling build cache."
ALL_WARNING = "WARNING! This will remove all build cache."
TAR_MAGIC = b"ustar"
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
SPOOL = 16 << 20  # a context up to this size is tarred in memory


def build(ctx: Context, argv: list[str]) -> int:
    opts, args = BUILD.parse(argv)
    source = args[0]
    query = build_query(opts, os.environ)
    if "://" in source or source.startswith("git@"):
        raise CommandFailed(
            f"building from a URL ({source}) is not supported: clone or download it and "
            "build the directory"
        )
    if source == "-":
        if opts["file"]:
            raise CommandFailed("-f cannot be used with a context on stdin: name it in the tar")
        body: Any = stdin_context()
        messages = ctx.client().build(body, query)
        image_id = show(messages, opts["quiet"])
    else:
        with TarContext(source, opts["file"], query) as body:
            messages = ctx.client().build(body, query)
            image_id = show(messages, opts["quiet"])
    if opts["quiet"]:
        output.out(image_id)
    if opts["iidfile"]:
        try:
            with open(opts["iidfile"], "w") as f:
                f.write(image_id)
        except OSError as e:
            raise CommandFailed(f"failed to write image ID to {opts['iidfile']}: {e}") from e
    return 0


def build_query(opts: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``/build`` query of the command's flags."""
    import json

    from dockyard.cli.netflags import with_proxy_env

    args: dict[str, str | None] = {}
    for item in opts["build_arg"]:
        key, eq, value = item.partition("=")
        args[key] = value if eq else environ.get(key)  # unset: the ARG's default
    # as the docker CLI: the proxies of its config.json become build args (unless given)
    given = [f"{k}={v}" for k, v in args.items()]
    for item in with_proxy_env(given)[len(given) :]:
        key, _, value = item.partition("=")
        args.setdefault(key, value)
    labels = {}
    for item in opts["label"]:
        key, _, value = item.partition("=")
        labels[key] = value
    return {
        "t": list(opts["tag"]) or None,
        "buildargs": json.dumps(args) if args else None,
        "labels": json.dumps(labels) if labels else None,
        "cachefrom": json.dumps(opts["cache_from"]) if opts["cache_from"] else None,
        "target": opts["target"] or None,
        "nocache": opts["no_cache"] or None,
        "networkmode": opts["network"] or None,
        "squash": opts["squash"] or None,
        "platform": opts["platform"] or None,
        "q": opts["quiet"] or None,
        "rm": True,
        "forcerm": opts["force_rm"] or None,
        "pull": opts["pull"] or None,
        "version": "1",
    }


def show(messages: Iterable[dict[str, Any]], quiet: bool) -> str:
    """Print the build's output as it comes; answer the image id; fail on an error."""
    image_id = ""
    kept: list[str] = []  # quiet: what the daemon sent, shown (on stderr) if it fails
    for msg in messages:
        if msg.get("error") or msg.get("errorDetail"):
            detail = msg.get("errorDetail") or {}
            text = str(msg.get("error") or detail.get("message") or detail)
            code = detail.get("code") if isinstance(detail, dict) else None
            if kept:
                sys.stderr.write("".join(kept))
            raise CommandFailed(text, code if isinstance(code, int) and code > 0 else 1)
        aux = msg.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            image_id = str(aux["ID"])
        elif "stream" in msg and quiet:
            kept.append(str(msg["stream"]))
        elif "stream" in msg:
            output.write(str(msg["stream"]))
            output.flush()
    if not image_id:
        raise CommandFailed("the daemon ended the build without an image id")
    return image_id


# -- the context --------------------------------------------------------------------


class TarContext:
    """The directory ``path`` as a tar in a temporary file (see the module doc)."""

    def __init__(self, path: str, dockerfile: str | None, query: dict[str, Any]) -> None:
        self.path = path
        self.dockerfile = dockerfile
        self.query = query
        self.file: IO[bytes] | None = None

    def __enter__(self) -> IO[bytes]:
        import tarfile
        import tempfile

        if not os.path.isdir(self.path):
            raise CommandFailed(f'unable to prepare context: path "{self.path}" not found')
        root = os.path.abspath(self.path)
        dockerfile = self.dockerfile or os.path.join(self.path, "Dockerfile")
        full = os.path.abspath(dockerfile)
        outside = not (full + os.sep).startswith(root + os.sep) or full == root
        rel = os.path.relpath(full, root)
        if not os.path.isfile(full):
            raise CommandFailed(
                f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                f"lstat {full}: no such file or directory"
            )
        f = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # closed in __exit__
        self.file = f
        extra = f".dockerfile.{os.urandom(10).hex()}" if outside else ""
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add_tree(tar, root, skip=".dockerignore" if extra else "")
            if extra:
                _add_bytes(tar, extra, _read(full), 0o600)
                ignore = os.path.join(root, ".dockerignore")
                text = _read(ignore) if os.path.isfile(ignore) else b".dockerignore"
                _add_bytes(tar, ".dockerignore", text + f"\n{extra}\n".encode(), 0o644)
        f.seek(0)
        if extra:
            self.query["dockerfile"] = extra
        elif self.dockerfile:
            self.query["dockerfile"] = rel.replace(os.sep, "/")
        return f

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add_tree(tar: tarfile.TarFile, root: str, skip: str = "") -> None:
    def fail(e: OSError) -> None:
        raise CommandFailed(f"error checking context: {e}")

    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(f"{dirpath}/{d}")]:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if rel == skip:
                continue
            _add(tar, os.path.join(dirpath, name), rel)
        for name in dirnames:
            if not os.path.islink(os.path.join(dirpath, name)):
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                _add(tar, os.path.join(dirpath, name), rel)


def _add(tar: tarfile.TarFile, path: str, arcname: str) -> None:
    try:
        tar.add(path, arcname, recursive=False, filter=_reset)
    except OSError as e:
        raise CommandFailed(f"error checking context: can't stat '{path}': {e.strerror}") from e


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    import io
    import tarfile
    import time

    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CommandFailed(f"unable to read {path}: {e.strerror}") from e


def stdin_context() -> Iterator[bytes]:
    """stdin as the context: a tar (maybe compressed), or a Dockerfile alone."""
    head = sys.stdin.buffer.read(512)
    is_tar = len(head) >= 262 and head[257:262] == TAR_MAGIC
    if is_tar or head.startswith(COMPRESSED_MAGIC):
        return _chain(head, sys.stdin.buffer)
    import io
    import tarfile

    data = head + sys.stdin.buffer.read()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add_bytes(tar, "Dockerfile", data, 0o644)
    return iter([buf.getvalue()])


def _chain(head: bytes, rest: IO[bytes]) -> Iterator[bytes]:
    yield head
    while chunk := rest.read(1 << 16):
        yield chunk


# -- builder prune --------------------------------------------------------------------


def prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = PRUNE.parse(argv)
    filters: dict[str, list[str]] = {}
    for spec in opts["filter"]:
        key, eq, value = spec.partition("=")
        if not eq:
            raise CommandFailed(f"bad format of filter (expected name=value): {spec}")
        filters.setdefault(key, []).append(value)
    if not opts["force"]:
        warning = ALL_WARNING if opts["all"] else DANGLING_WARNING
        if not output.confirm(f"{warning}\nAre you sure you want to continue?"):
            return 0
    report = ctx.client().prune_builds(all=opts["all"], filters=filters or None)
    deleted = [str(i) for i in report.get("CachesDeleted") or []]
    if deleted:
        output.out("Deleted build cache objects:\n" + "\n".join(deleted) + "\n")
    reclaimed = int(report.get("SpaceReclaimed") or 0)
    output.out(f"Total reclaimed space: {output.human_size(reclaimed, 4)}")
    return 0
