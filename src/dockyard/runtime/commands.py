"""One function per command of dockyard-runtime: read the flags, call the verb, print."""

from __future__ import annotations

import os
import sys

from dockyard._internal import fastjson

from . import state as statemod

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket

    from .args import Parsed


def _root(p: Parsed) -> str:
    root = p.globals.get("root")
    return os.path.abspath(root) if isinstance(root, str) else statemod.DEFAULT_ROOT


def _str(p: Parsed, name: str) -> str | None:
    v = p.flags.get(name)
    return v if isinstance(v, str) else None


def _int(p: Parsed, name: str) -> int:
    v = p.flags.get(name)
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _console(p: Parsed) -> socket.socket | None:
    path = _str(p, "console-socket")
    if not path:
        return None
    from .console import connect

    return connect(path)


def _load_spec(p: Parsed):  # type: ignore[no-untyped-def]
    from .spec import load

    return load(_str(p, "bundle") or os.getcwd())


def cmd_create(p: Parsed) -> int:
    from .create import create

    spec = _load_spec(p)
    create(
        _root(p),
        p.positional[0],
        spec,
        _console(p),
        _str(p, "pid-file"),
        _int(p, "preserve-fds"),
        bool(p.flags.get("no-pivot")),
    )
    return 0


def cmd_run(p: Parsed) -> int:
    from .run import run

    spec = _load_spec(p)
    return run(
        _root(p),
        p.positional[0],
        spec,
        _console(p),
        _str(p, "pid-file"),
        _int(p, "preserve-fds"),
        bool(p.flags.get("no-pivot")),
        bool(p.flags.get("detach")),
    )


def cmd_start(p: Parsed) -> int:
    from .lifecycle import start

    start(statemod.load(_root(p), p.positional[0]))
    return 0


def cmd_state(p: Parsed) -> int:
    c = statemod.load(_root(p), p.positional[0])
    sys.stdout.write(_pretty(c.oci_state()) + "\n")
    return 0


def _pretty(obj: object) -> str:
    import json

    return json.dumps(obj, indent=2)


def cmd_kill(p: Parsed) -> int:
    from .lifecycle import kill, parse_signal

    c = statemod.load(_root(p), p.positional[0])
    sig = parse_signal(p.positional[1]) if len(p.positional) > 1 else 15
    kill(c, sig, bool(p.flags.get("all")))
    return 0


def cmd_delete(p: Parsed) -> int:
    from .lifecycle import delete

    force = bool(p.flags.get("force"))
    try:
        c = statemod.load(_root(p), p.positional[0])
    except Exception:
        if force:
            # --force of an unknown id succeeds, as with runc; a damaged record goes
            statemod.remove_dir(os.path.join(_root(p), p.positional[0]))
            return 0
        raise
    delete(c, force)
    return 0


def cmd_pause(p: Parsed) -> int:
    from .lifecycle import pause

    pause(statemod.load(_root(p), p.positional[0]))
    return 0


def cmd_resume(p: Parsed) -> int:
    from .lifecycle import resume

    resume(statemod.load(_root(p), p.positional[0]))
    return 0


def cmd_exec(p: Parsed) -> int:
    from .exec import build_process, execute

    c = statemod.load(_root(p), p.positional[0])
    gids = []
    for g in p.flags.get("additional-gids") or []:  # type: ignore[attr-defined]
        try:
            gids.append(int(g))
        except ValueError:
            from dockyard.errors import InvalidArgument

            raise InvalidArgument(f"--additional-gids {g!r}: expected a number") from None
    proc = build_process(
        c,
        _str(p, "process"),
        p.positional[1:],
        list(p.flags.get("env") or []),  # type: ignore[call-overload]
        _str(p, "cwd"),
        _str(p, "user"),
        gids,
        bool(p.flags.get("tty")),
        list(p.flags.get("cap") or []),  # type: ignore[call-overload]
        bool(p.flags.get("no-new-privs")),
    )
    return execute(
        c,
        proc,
        _console(p),
        bool(p.flags.get("detach")),
        _str(p, "pid-file"),
        _int(p, "preserve-fds"),
    )


def cmd_ps(p: Parsed) -> int:
    from .lifecycle import pids

    c = statemod.load(_root(p), p.positional[0])
    found = pids(c)
    fmt = _str(p, "format") or "table"
    if fmt == "json":
        sys.stdout.write(fastjson.dumps(found) + "\n")
        return 0
    import subprocess

    ps_args = p.positional[1:] or ["-ef"]
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        return 1
    lines = out.stdout.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    col = header.index("PID") if "PID" in header else 1
    sys.stdout.write(lines[0] + "\n")
    wanted = set(found)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            sys.stdout.write(line + "\n")
    return 0


def cmd_list(p: Parsed) -> int:
    root = _root(p)
    containers = [statemod.load(root, cid) for cid in statemod.list_ids(root)]
    states = [c.oci_state() for c in containers]
    if p.flags.get("quiet"):
        for st in states:
            sys.stdout.write(st["id"] + "\n")
        return 0
    if (_str(p, "format") or "table") == "json":
        sys.stdout.write(fastjson.dumps(states) + "\n")
        return 0
    rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    for st in states:
        rows.append([st["id"], str(st["pid"]), st["status"], st["bundle"], st["created"], "root"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write(
            "   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n"
        )
    return 0


def cmd_spec(p: Parsed) -> int:
    from dockyard.errors import Conflict

    from .specgen import default_spec

    bundle = _str(p, "bundle") or os.getcwd()
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise Conflict(f"{path} exists: remove it first")
    spec = default_spec(bool(p.flags.get("rootless")), os.getuid(), os.getgid())
    with open(path, "w") as f:
        f.write(_pretty(spec) + "\n")
    return 0


def cmd_features(p: Parsed) -> int:
    from .features import features

    sys.stdout.write(_pretty(features()) + "\n")
    return 0
