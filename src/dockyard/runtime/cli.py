"""Entry point of ``dockyard-runtime``: a runc-compatible command line.

Errors print one line, ``dockyard-runtime: <what went wrong>``, and exit 1; with
``--log FILE --log-format json`` they are also appended as runc-style JSON records.
"""

from __future__ import annotations

import os
import sys

from dockyard.errors import DockyardError

from .args import Parsed, parse

USAGE = """dockyard-runtime: an OCI runtime (runc-compatible command line)

usage: dockyard-runtime [--root DIR] [--log FILE] [--log-format text|json] [--debug]
                        COMMAND [FLAGS] ARGS

commands:
  create   ID   create a container from --bundle (default: current directory)
  start    ID   run the user process of a created container
  run      ID   create and start; waits unless --detach
  state    ID   print the container's state as JSON
  kill     ID [SIGNAL]   signal the init (or --all processes); default TERM
  delete   ID   remove a stopped container (--force: kill it first)
  exec     ID COMMAND...   run a process in a running container (or --process FILE)
  ps       ID [PS ARGS]    list its processes (--format table|json)
  pause    ID / resume ID  freeze / thaw every process
  list          list containers (--format table|json, -q)
  spec          write a default config.json (--rootless, --bundle)
  features      print what this runtime supports
"""


def _log_error(parsed: Parsed | None, message: str) -> None:
    path = parsed.globals.get("log") if parsed else None
    if not isinstance(path, str):
        return
    fmt = parsed.globals.get("log-format") if parsed else None
    from .state import now_rfc3339

    if fmt == "json":
        from dockyard._internal import fastjson

        line = fastjson.dumps({"level": "error", "msg": message, "time": now_rfc3339()})
    else:
        line = f'time="{now_rfc3339()}" level=error msg="{message}"'
    try:
        with open(path, "a") as f:
            f.write(line + "\n")
    except OSError:
        pass


def _setup_logging(parsed: Parsed) -> None:
    if not (parsed.globals.get("debug") or parsed.globals.get("log")):
        return
    import logging

    from dockyard._internal import lazylog

    level = logging.DEBUG if parsed.globals.get("debug") else logging.WARNING
    log_path = parsed.globals.get("log")
    handler: logging.Handler = (
        logging.FileHandler(log_path) if isinstance(log_path, str) else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    lazylog.enable()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    parsed = None
    try:
        parsed = parse(args)
        if parsed.globals.get("version") or parsed.globals.get("v"):
            from dockyard import __version__

            print(f"dockyard-runtime version {__version__}\nspec: 1.1.0")
            return 0
        if not parsed.command or parsed.globals.get("help") or parsed.globals.get("h"):
            sys.stdout.write(USAGE)
            return 0 if parsed.command or args else 2
        _setup_logging(parsed)
        if parsed.globals.get("systemd-cgroup"):
            from dockyard.errors import NotSupported

            raise NotSupported("--systemd-cgroup: only the cgroupfs driver is supported")
        from . import commands

        return int(getattr(commands, "cmd_" + parsed.command.replace("-", "_"))(parsed))
    except DockyardError as e:
        message = str(e)
    except OSError as e:
        from .init import describe

        message = describe(e)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: still one line, the traceback only with --debug
        if parsed is not None and parsed.globals.get("debug"):
            raise
        message = f"internal error: {type(e).__name__}: {e} (rerun with --debug for details)"
    _log_error(parsed, message)
    sys.stderr.write(f"dockyard-runtime: {message}\n")
    return 1


def run_and_exit() -> None:
    """The installed command: main(), then leave without interpreter finalisation, which
    costs milliseconds of module teardown on every container start."""
    import gc

    # a run lasts milliseconds and leaves with os._exit: collections only cost time,
    # and a full one in a forked child copies the whole inherited heap (copy-on-write)
    gc.disable()
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_and_exit()
