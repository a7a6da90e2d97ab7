"""The container commands: ``run``, ``create``, ``start``, ``stop``, ``kill``, ``restart``,
``rm``, ``ps``, ``logs``, ``wait``, ``inspect``, ``rename``, ``pause``, ``unpause``,
``top``, ``attach`` and ``container prune``.

A foreground ``run`` talks to the daemon as the docker CLI does: create (a 404 pulls the
image and creates again), attach (upgraded connection) *before* start, wait for the next
exit, start; the output is copied until the stream ends, and the exit status is the
container's, from the body of the wait.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.flags import BOOL, LIST, STRING, Command, Flag
from dockyard.cli.images import familiar, parse_filters, split_repo_tag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context
    from dockyard.client.api import APIClient
    from dockyard.client.transport import Response

FORMAT_HELP = "Format output using a custom template ('table', 'table TEMPLATE', 'json')"

PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "RunningFor": "CREATED",
    "CreatedAt": "CREATED AT",
    "Status": "STATUS",
    "State": "STATE",
    "Ports": "PORTS",
    "Names": "NAMES",
    "Size": "SIZE",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}
PS_TABLE = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
PS_TABLE_SIZE = PS_TABLE + "\t{{.Size}}"

# -- create/run options ----------------------------------------------------------------------

_CREATE_FLAGS = [
    Flag("attach", "a", LIST, "Attach to STDIN, STDOUT or STDERR"),
    Flag("cap-add", kind=LIST, help="Add Linux capabilities"),
    Flag("cap-drop", kind=LIST, help="Drop Linux capabilities"),
    Flag("cpus", kind=STRING, help="Number of CPUs"),
    Flag("entrypoint", kind=STRING, help="Overwrite the default ENTRYPOINT of the image"),
    Flag("env", "e", LIST, "Set environment variables"),
    Flag("env-file", kind=LIST, help="Read in a file of environment variables"),
    Flag("hostname", "h", STRING, "Container host name"),
    Flag("init", help="Run an init inside the container that forwards signals and reaps"),
    Flag("interactive", "i", help="Keep STDIN open even if not attached"),
    Flag("label", "l", LIST, "Set meta data on a container"),
    Flag("memory", "m", STRING, "Memory limit"),
    Flag("name", kind=STRING, help="Assign a name to the container"),
    Flag("network", kind=STRING, help="Connect a container to a network (none, host)"),
    Flag("net", kind=STRING, help="Connect a container to a network (none, host)"),
    Flag("pids-limit", kind=STRING, help="Tune container pids limit (set -1 for unlimited)"),
    Flag("platform", kind=STRING, help="Set platform if server is multi-platform capable"),
    Flag("privileged", help="Give extended privileges to this container"),
    Flag("pull", kind=STRING, help='Pull image before running ("always", "missing", "never")'),
    Flag("quiet", "q", help="Suppress the pull output"),
    Flag("read-only", help="Mount the container's root filesystem as read only"),
    Flag("restart", kind=STRING, help="Restart policy to apply when a container exits"),
    Flag("rm", help="Automatically remove the container and its volumes when it exits"),
    Flag("stop-signal", kind=STRING, help="Signal to stop the container"),
    Flag("stop-timeout", kind=STRING, help="Timeout (in seconds) to stop a container"),
    Flag("tty", "t", help="Allocate a pseudo-TTY"),
    Flag("user", "u", STRING, "Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("volume", "v", LIST, "Bind mount a volume"),
    Flag("workdir", "w", STRING, "Working directory inside the container"),
]

CREATE = Command(
    "create",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create a new container",
    _CREATE_FLAGS,
    min_args=1,
    aliases=("dockyard container create", "dockyard create"),
    interspersed=False,
)

RUN = Command(
    "run",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create and run a new container from an image",
    [
        Flag("detach", "d", help="Run container in background and print container ID"),
        Flag("detach-keys", kind=STRING, help="Override the key sequence for detaching"),
        Flag("sig-proxy", kind=BOOL, help="Proxy received signals to the process", default=True),
        *_CREATE_FLAGS,
    ],
    min_args=1,
    aliases=("dockyard container run", "dockyard run"),
    interspersed=False,
)

_BINARY_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def ram_in_bytes(text: str) -> int:
    """go-units ``RAMInBytes``: "512m", "1g", "100k", "1024" (binary units)."""
    s = text.strip().lower()
    for suffix in ("ib", "b"):
        if len(s) > 1 and s.endswith(suffix) and s[: -len(suffix)][-1:] in _BINARY_UNITS:
            s = s[: -len(suffix)]
            break
    mult = 1
    if s and s[-1] in _BINARY_UNITS:
        mult = _BINARY_UNITS[s[-1]]
        s = s[:-1]
    try:
        value = float(s)
    except ValueError:
        raise UsageError(f"invalid size: '{text}'", "run") from None
    if value < 0:
        raise UsageError(f"invalid size: '{text}'", "run")
    return int(value * mult)


def _env(specs: list[str], files: list[str]) -> list[str]:
    import os

    lines: list[str] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                for raw in f:
                    line = raw.strip()
                    if line and not line.startswith("#"):
                        lines.append(line)
        except OSError as e:
            raise CommandFailed(f"open {path}: {e.strerror}") from None
    out = []
    for spec in lines + specs:
        key, eq, _ = spec.partition("=")
        if not key:
            raise UsageError(f"invalid environment variable: {spec}", "run")
        if eq:
            out.append(spec)
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def container_config(opts: dict[str, Any], args: list[str], *, detach: bool) -> dict[str, Any]:
    """The ``POST /containers/create`` body of ``run``/``create`` options."""
    image, cmd = args[0], args[1:]
    interactive, tty = bool(opts["interactive"]), bool(opts["tty"])
    attach = [a.lower() for a in opts.get("attach") or []]
    for a in attach:
        if a not in ("stdin", "stdout", "stderr"):
            raise UsageError(f"invalid argument {a!r} for -a: use stdin, stdout or stderr", "run")
    if detach:
        attach_stdin = attach_stdout = attach_stderr = False
    elif attach:
        attach_stdin, attach_stdout, attach_stderr = (
            "stdin" in attach,
            "stdout" in attach,
            "stderr" in attach,
        )
    else:
        attach_stdin, attach_stdout, attach_stderr = interactive, True, True
    config: dict[str, Any] = {
        "Hostname": opts["hostname"] or "",
        "User": opts["user"] or "",
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
        "Tty": tty,
        "OpenStdin": interactive,
        "StdinOnce": interactive and attach_stdin,
        "Env": _env(opts["env"], opts["env_file"]),
        "Cmd": cmd or None,
        "Image": image,
        "WorkingDir": opts["workdir"] or "",
        "Labels": dict(_split_label(s) for s in opts["label"]),
    }
    if opts["entrypoint"] is not None:
        config["Entrypoint"] = [opts["entrypoint"]] if opts["entrypoint"] else [""]
    if opts["stop_signal"]:
        config["StopSignal"] = opts["stop_signal"]
    if opts["stop_timeout"]:
        config["StopTimeout"] = _int(opts["stop_timeout"], "--stop-timeout")
    binds: list[str] = []
    volumes: dict[str, dict[str, Any]] = {}
    for spec in opts["volume"]:
        parts = spec.split(":")
        if len(parts) == 1:
            volumes[parts[0]] = {}
        elif len(parts) in (2, 3) and parts[0] and parts[1]:
            binds.append(spec)
        else:
            raise UsageError(f"invalid volume specification: '{spec}'", "run")
    if volumes:
        config["Volumes"] = volumes
    host: dict[str, Any] = {
        "Binds": binds or None,
        "AutoRemove": bool(opts["rm"]),
        "NetworkMode": opts["network"] or opts["net"] or "default",
        "Privileged": bool(opts["privileged"]),
        "CapAdd": opts["cap_add"] or None,
        "CapDrop": opts["cap_drop"] or None,
        "ReadonlyRootfs": bool(opts["read_only"]),
    }
    if opts["memory"]:
        host["Memory"] = ram_in_bytes(opts["memory"])
    if opts["cpus"]:
        try:
            host["NanoCpus"] = round(float(opts["cpus"]) * 1e9)
        except ValueError:
            raise UsageError(
                f'invalid argument "{opts["cpus"]}" for "--cpus" flag', "run"
            ) from None
    if opts["pids_limit"]:
        host["PidsLimit"] = _int(opts["pids_limit"], "--pids-limit")
    if opts["init"]:
        host["Init"] = True
    if opts["restart"]:
        name, _, count = opts["restart"].partition(":")
        host["RestartPolicy"] = {
            "Name": name,
            "MaximumRetryCount": _int(count, "--restart") if count else 0,
        }
    config["HostConfig"] = host
    return config


def _int(text: str, flag: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "{flag}" flag', "run") from None


def _split_label(spec: str) -> tuple[str, str]:
    key, _, value = spec.partition("=")
    return key, value


def _image_ref(image: str) -> tuple[str, str]:
    """(repository, tag) to pull; "latest" unless a tag or digest is given."""
    if "@" in image:
        repo, _, digest = image.partition("@")
        return repo, digest
    repo, tag = split_repo_tag(image)
    return repo, tag or "latest"


def create_container(
    client: APIClient, config: dict[str, Any], name: str | None, quiet: bool = False
) -> str:
    """Create; on a 404 pull the image (as docker: "Unable to find image") and retry."""
    from dockyard.client.errors import APIError

    try:
        doc = client.create_container(config, name)
    except APIError as e:
        if not e.not_found:
            raise
        repo, tag = _image_ref(str(config["Image"]))
        sep = "@" if tag.startswith("sha256:") else ":"
        output.err(f"Unable to find image '{familiar(repo)}{sep}{tag}' locally")
        for message in client.pull(repo, tag):
            if message.get("error"):
                raise APIError(500, str(message["error"])) from None
            if not quiet and message.get("status"):
                ident = f"{message['id']}: " if message.get("id") else ""
                output.out(f"{ident}{message['status']}")
        doc = client.create_container(config, name)
    for warning in doc.get("Warnings") or []:
        output.err(f"WARNING: {warning}")
    return str(doc.get("Id", ""))


def _run_error(e: Exception) -> CommandFailed:
    """docker run's statuses: 126 not executable, 127 not found, else 125."""
    message = str(e)
    status = 125
    low = message.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        status = 127
    elif "permission denied" in low:
        status = 126
    return CommandFailed(f"dockyard: Error response from daemon: {message}", status)


def create(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import APIError

    opts, args = CREATE.parse(argv)
    config = container_config(opts, args, detach=True)
    try:
        container_id = create_container(ctx.client(), config, opts["name"], opts["quiet"])
    except APIError as e:
        raise CommandFailed(f"Error response from daemon: {e.message}", 125) from None
    output.out(container_id)
    return 0


def run(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import APIError

    opts, args = RUN.parse(argv)
    detach = bool(opts["detach"])
    if detach and opts["attach"]:
        raise UsageError("conflicting options: cannot specify both --attach and --detach", "run")
    if opts["tty"] and opts["interactive"] and not detach and not output.stdin_is_terminal():
        raise CommandFailed("the input device is not a TTY", 1)
    config = container_config(opts, args, detach=detach)
    client = ctx.client()
    try:
        container_id = create_container(client, config, opts["name"], opts["quiet"])
    except APIError as e:
        raise CommandFailed(f"dockyard: Error response from daemon: {e.message}", 125) from None
    if detach:
        try:
            client.start(container_id)
        except APIError as e:
            raise _run_error(e) from None
        output.out(container_id)
        return 0
    return attach_session(
        client,
        container_id,
        stdin=bool(config["AttachStdin"]),
        stdout=bool(config["AttachStdout"]),
        stderr=bool(config["AttachStderr"]),
        tty=bool(opts["tty"]),
        detach_keys=opts["detach_keys"],
        start=True,
        sig_proxy=bool(opts["sig_proxy"]) and not opts["tty"],
        auto_remove=bool(opts["rm"]),
    )


def attach_session(
    client: APIClient,
    container_id: str,
    *,
    stdin: bool,
    stdout: bool = True,
    stderr: bool = True,
    tty: bool,
    detach_keys: str | None,
    start: bool,
    sig_proxy: bool = True,
    auto_remove: bool = False,
) -> int:
    """Attach (then wait and start, for run/start -a), copy the streams, return the exit
    status (0 after a detach)."""
    import contextlib
    import signal
    import socket
    import threading

    from dockyard._internal.detachkeys import (
        DEFAULT_DETACH_KEYS,
        EscapeScanner,
        parse_detach_keys,
    )
    from dockyard.cli import terminal
    from dockyard.client.errors import APIError

    try:
        keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
    except ValueError as e:
        raise CommandFailed(str(e), 125) from None
    conn = client.attach(
        container_id,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        detach_keys=detach_keys,
    )
    waiter: Response | None = None
    try:
        if start:
            waiter = client.wait_start(container_id, "next-exit")
            try:
                client.start(container_id)
            except APIError as e:
                if auto_remove:
                    _remove_quietly(client, container_id)
                raise _run_error(e) from None
    except BaseException:
        conn.close()
        if waiter is not None:
            waiter.close()
        raise

    detached = threading.Event()

    def pump_stdin() -> None:
        scanner = EscapeScanner(keys) if tty else None
        try:
            for data in terminal.read_stdin():
                hit = False
                if scanner is not None:
                    data, hit = scanner.feed(data)
                if data:
                    conn.sendall(data)
                if hit:
                    detached.set()
                    with contextlib.suppress(OSError):
                        conn.sock.shutdown(socket.SHUT_RDWR)
                    return
        except OSError:
            return
        conn.close_write()

    raw_terminal = tty and stdin and output.stdin_is_terminal()
    restore: list[Any] = []
    if sig_proxy and not tty:

        def forward(signum: int, _frame: Any) -> None:
            name = signal.Signals(signum).name

            def send() -> None:
                try:
                    client.kill(container_id, name)
                except Exception:
                    pass

            threading.Thread(target=send, daemon=True).start()

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            restore.append((sig, signal.signal(sig, forward)))
    try:
        with contextlib.ExitStack() as stack:
            if raw_terminal:
                stack.enter_context(terminal.RawMode(0))
            if tty and (raw_terminal or output.stdout_is_terminal()):
                stack.enter_context(
                    terminal.OnResize(lambda h, w: client.resize(container_id, h, w))
                )
            if stdin:
                threading.Thread(target=pump_stdin, daemon=True).start()
            try:
                for stream, data in conn.frames():
                    output.write_bytes(data, stream)
            except OSError:
                pass
    finally:
        conn.close()
        for sig, previous in restore:
            signal.signal(sig, previous)
    if detached.is_set():
        if waiter is not None:
            waiter.close()
        return 0
    if waiter is None:
        try:
            result = client.wait(container_id)
        except APIError as e:
            if e.not_found:
                return 0
            raise
    else:
        result = client.wait_result(waiter)
    error = result.get("Error")
    if isinstance(error, dict) and error.get("Message"):
        output.err(f"dockyard: {error['Message']}")
    if auto_remove:
        _remove_quietly(client, container_id)
    return int(result.get("StatusCode", 0) or 0)


def _remove_quietly(client: APIClient, container_id: str) -> None:
    from dockyard.client.errors import APIError

    try:
        client.remove_container(container_id, force=True)
    except APIError:
        pass  # removed by the daemon already (AutoRemove), or going


# -- start, attach ------------------------------------------------------------------------

START = Command(
    "start",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Start one or more stopped containers",
    [
        Flag("attach", "a", help="Attach STDOUT/STDERR and forward signals"),
        Flag("detach-keys", kind=STRING, help="Override the key sequence for detaching"),
        Flag("interactive", "i", help="Attach container's STDIN"),
    ],
    min_args=1,
    aliases=("dockyard container start", "dockyard start"),
)


def start(ctx: Context, argv: list[str]) -> int:
    opts, args = START.parse(argv)
    client = ctx.client()
    if opts["attach"] or opts["interactive"]:
        if len(args) > 1:
            raise CommandFailed("you cannot start and attach multiple containers at once")
        doc = client.inspect_container(args[0])
        config = doc.get("Config") or {}
        tty = bool(config.get("Tty"))
        stdin = bool(opts["interactive"]) and bool(config.get("OpenStdin"))
        if tty and stdin and not output.stdin_is_terminal():
            raise CommandFailed("the input device is not a TTY", 1)
        return attach_session(
            client,
            str(doc.get("Id", args[0])),
            stdin=stdin,
            tty=tty,
            detach_keys=opts["detach_keys"],
            start=True,
            sig_proxy=not tty,
            auto_remove=bool((doc.get("HostConfig") or {}).get("AutoRemove")),
        )
    return _each(args, client.start, "Error response from daemon: ")


ATTACH = Command(
    "attach",
    "[OPTIONS] CONTAINER",
    "Attach local standard input, output, and error streams to a running container",
    [
        Flag("detach-keys", kind=STRING, help="Override the key sequence for detaching"),
        Flag("no-stdin", help="Do not attach STDIN"),
        Flag("sig-proxy", kind=BOOL, help="Proxy received signals to the process", default=True),
    ],
    min_args=1,
    max_args=1,
    aliases=("dockyard container attach", "dockyard attach"),
)


def attach(ctx: Context, argv: list[str]) -> int:
    opts, (ref,) = ATTACH.parse(argv)
    client = ctx.client()
    doc = client.inspect_container(ref)
    state = doc.get("State") or {}
    if not state.get("Running"):
        raise CommandFailed("You cannot attach to a stopped container, start it first")
    if state.get("Paused"):
        raise CommandFailed("You cannot attach to a paused container, unpause it first")
    config = doc.get("Config") or {}
    tty = bool(config.get("Tty"))
    stdin = bool(config.get("OpenStdin")) and not opts["no_stdin"]
    if tty and stdin and not output.stdin_is_terminal():
        raise CommandFailed("the input device is not a TTY", 1)
    return attach_session(
        client,
        str(doc.get("Id", ref)),
        stdin=stdin,
        tty=tty,
        detach_keys=opts["detach_keys"],
        start=False,
        sig_proxy=bool(opts["sig_proxy"]) and not tty,
    )


# -- simple verbs ------------------------------------------------------------------------


def _each(args: list[str], call: Any, prefix: str = "Error response from daemon: ") -> int:
    """``call(name)`` for each argument; print the name on success, collect the errors."""
    from dockyard.client.errors import APIError

    errors = []
    for name in args:
        try:
            call(name)
        except APIError as e:
            errors.append(f"{prefix}{e.message}")
            continue
        output.out(name)
    if errors:
        raise CommandFailed("\n".join(errors))
    return 0


STOP = Command(
    "stop",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Stop one or more running containers",
    [
        Flag("signal", "s", STRING, "Signal to send to the container"),
        Flag("time", "t", STRING, "Seconds to wait before killing the container"),
        Flag("timeout", kind=STRING, help="Seconds to wait before killing the container"),
    ],
    min_args=1,
    aliases=("dockyard container stop", "dockyard stop"),
)


def stop(ctx: Context, argv: list[str]) -> int:
    opts, args = STOP.parse(argv)
    t = opts["time"] if opts["time"] is not None else opts["timeout"]
    timeout = _int(t, "--time") if t is not None else None
    client = ctx.client()
    return _each(args, lambda n: client.stop(n, timeout, opts["signal"]))


RESTART = Command(
    "restart",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Restart one or more containers",
    [
        Flag("signal", "s", STRING, "Signal to send to the container"),
        Flag("time", "t", STRING, "Seconds to wait before killing the container"),
    ],
    min_args=1,
    aliases=("dockyard container restart", "dockyard restart"),
)


def restart(ctx: Context, argv: list[str]) -> int:
    opts, args = RESTART.parse(argv)
    timeout = _int(opts["time"], "--time") if opts["time"] is not None else None
    client = ctx.client()
    return _each(args, lambda n: client.restart(n, timeout))


KILL = Command(
    "kill",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Kill one or more running containers",
    [Flag("signal", "s", STRING, "Signal to send to the container")],
    min_args=1,
    aliases=("dockyard container kill", "dockyard kill"),
)


def kill(ctx: Context, argv: list[str]) -> int:
    opts, args = KILL.parse(argv)
    client = ctx.client()
    return _each(args, lambda n: client.kill(n, opts["signal"]))


RM = Command(
    "rm",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Remove one or more containers",
    [
        Flag("force", "f", help="Force the removal of a running container (uses SIGKILL)"),
        Flag("link", "l", help="Remove the specified link"),
        Flag("volumes", "v", help="Remove anonymous volumes associated with the container"),
    ],
    min_args=1,
    aliases=("dockyard container rm", "dockyard container remove", "dockyard rm"),
)


def rm(ctx: Context, argv: list[str]) -> int:
    opts, args = RM.parse(argv)
    client = ctx.client()
    return _each(
        args, lambda n: client.remove_container(n, force=opts["force"], volumes=opts["volumes"])
    )


PAUSE = Command(
    "pause",
    "CONTAINER [CONTAINER...]",
    "Pause all processes within one or more containers",
    [],
    min_args=1,
    aliases=("dockyard container pause", "dockyard pause"),
)
UNPAUSE = Command(
    "unpause",
    "CONTAINER [CONTAINER...]",
    "Unpause all processes within one or more containers",
    [],
    min_args=1,
    aliases=("dockyard container unpause", "dockyard unpause"),
)


def pause(ctx: Context, argv: list[str]) -> int:
    _, args = PAUSE.parse(argv)
    return _each(args, ctx.client().pause)


def unpause(ctx: Context, argv: list[str]) -> int:
    _, args = UNPAUSE.parse(argv)
    return _each(args, ctx.client().unpause)


RENAME = Command(
    "rename",
    "CONTAINER NEW_NAME",
    "Rename a container",
    [],
    min_args=2,
    max_args=2,
    aliases=("dockyard container rename", "dockyard rename"),
)


def rename(ctx: Context, argv: list[str]) -> int:
    _, (old, new) = RENAME.parse(argv)
    if not new.strip():
        raise CommandFailed("Error: Neither old nor new names may be empty")
    ctx.client().rename(old, new)
    return 0


WAIT = Command(
    "wait",
    "CONTAINER [CONTAINER...]",
    "Block until one or more containers stop, then print their exit codes",
    [],
    min_args=1,
    aliases=("dockyard container wait", "dockyard wait"),
)


def wait(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import APIError

    _, args = WAIT.parse(argv)
    client = ctx.client()
    errors = []
    for name in args:
        try:
            result = client.wait(name)
        except APIError as e:
            errors.append(f"Error response from daemon: {e.message}")
            continue
        output.out(str(result.get("StatusCode", 0)))
    if errors:
        raise CommandFailed("\n".join(errors))
    return 0


TOP = Command(
    "top",
    "CONTAINER [ps OPTIONS]",
    "Display the running processes of a container",
    [],
    min_args=1,
    aliases=("dockyard container top", "dockyard top"),
    interspersed=False,
)


def top(ctx: Context, argv: list[str]) -> int:
    _, args = TOP.parse(argv)
    doc = ctx.client().top(args[0], " ".join(args[1:]) or None)
    titles = [str(t) for t in doc.get("Titles") or []]
    rows = [[str(c) for c in p] for p in doc.get("Processes") or []]
    output.print_tabbed(
        "\n".join("\t".join(r) for r in [titles, *rows]) + "\n", minwidth=0, padding=1
    )
    return 0


# -- logs ---------------------------------------------------------------------------------

LOGS = Command(
    "logs",
    "[OPTIONS] CONTAINER",
    "Fetch the logs of a container",
    [
        Flag("details", help="Show extra details provided to logs"),
        Flag("follow", "f", help="Follow log output"),
        Flag("since", kind=STRING, help="Show logs since timestamp or relative (e.g. 42m)"),
        Flag("tail", "n", STRING, 'Number of lines to show from the end of the logs (or "all")'),
        Flag("timestamps", "t", help="Show timestamps"),
        Flag("until", kind=STRING, help="Show logs before a timestamp or relative (e.g. 42m)"),
    ],
    min_args=1,
    max_args=1,
    aliases=("dockyard container logs", "dockyard logs"),
)


def time_arg(value: str | None, now: float | None = None) -> str | None:
    """docker's ``GetTimestamp``: a duration ago ("10m", "1h30m") or a time, as unix
    seconds ("1700000000.000000000")."""
    import re
    import time

    if not value:
        return None
    now = time.time() if now is None else now
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return value
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value)
    if parts and "".join(n + u for n, u in parts) == value:
        scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        seconds = sum(float(n) * scale[u] for n, u in parts)
        return f"{now - seconds:.9f}"
    from datetime import datetime

    text = value.replace("Z", "+00:00")
    for candidate in (text, text + "T00:00:00"):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            return f"{parsed.timestamp():.9f}"  # local time, as docker
        return f"{parsed.timestamp():.9f}"
    raise UsageError(f'invalid value for "since"/"until": {value}', "logs")


def logs(ctx: Context, argv: list[str]) -> int:
    opts, (ref,) = LOGS.parse(argv)
    chunks = ctx.client().logs(
        ref,
        follow=opts["follow"],
        timestamps=opts["timestamps"],
        tail=opts["tail"],
        since=time_arg(opts["since"]),
        until=time_arg(opts["until"]),
    )
    for stream, data in chunks:
        output.write_bytes(data, stream)
    return 0


# -- ps -----------------------------------------------------------------------------------

PS = Command(
    "ps",
    "[OPTIONS]",
    "List containers",
    [
        Flag("all", "a", help="Show all containers (default shows just running)"),
        Flag("filter", "f", LIST, "Filter output based on conditions provided"),
        Flag("format", kind=STRING, help=FORMAT_HELP),
        Flag("last", "n", STRING, "Show n last created containers (includes all states)"),
        Flag("latest", "l", help="Show the latest created container (includes all states)"),
        Flag("no-trunc", help="Don't truncate output"),
        Flag("quiet", "q", help="Only display container IDs"),
        Flag("size", "s", help="Display total file sizes"),
    ],
    max_args=0,
    aliases=("dockyard container ls", "dockyard container list", "dockyard container ps"),
)


def container_rows(
    summaries: list[dict[str, Any]], trunc: bool, now: float | None = None
) -> list[dict[str, str]]:
    """The ``ps`` fields of each container, as docker's ContainerContext renders them."""
    rows = []
    for c in summaries:
        cid = str(c.get("Id", ""))
        image = str(c.get("Image", ""))
        if trunc:
            if image.startswith("sha256:"):
                image = output.truncate_id(image)
            image = image.partition("@")[0] or image
        command = str(c.get("Command", ""))
        if trunc:
            command = output.ellipsis(command, 20)
        names = [str(n).lstrip("/") for n in c.get("Names") or []]
        if trunc:
            names = [n for n in names if "/" not in n][:1] or names[:1]
        created = int(c.get("Created") or 0)
        size_rw = int(c.get("SizeRw") or 0)
        size_root = int(c.get("SizeRootFs") or 0)
        size = output.human_size(size_rw, 3)
        if size_root:
            size += f" (virtual {output.human_size(size_root, 3)})"
        labels = c.get("Labels") or {}
        networks = sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys())
        mounts = [
            str(m.get("Name") or m.get("Source") or "")
            for m in c.get("Mounts") or []
            if isinstance(m, dict)
        ]
        rows.append(
            {
                "ID": output.truncate_id(cid) if trunc else cid,
                "Image": image,
                "Command": _go_quote(command),
                "RunningFor": output.since(created, now),
                "CreatedAt": output.local_time(created),
                "Status": str(c.get("Status", "")),
                "State": str(c.get("State", "")),
                "Ports": "",
                "Names": ",".join(names),
                "Size": size,
                "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                "Mounts": ",".join(output.ellipsis(m, 15) if trunc else m for m in mounts),
                "Networks": ",".join(networks),
                "LocalVolumes": str(sum(1 for m in c.get("Mounts") or [] if m.get("Name"))),
            }
        )
    return rows


def _go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` for the common cases (docker quotes the COMMAND column)."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def ps(ctx: Context, argv: list[str]) -> int:
    opts, _ = PS.parse(argv)
    filters = parse_filters(opts["filter"], PS.name)
    limit = -1
    if opts["last"] is not None:
        limit = _int(opts["last"], "--last")
    if opts["latest"]:
        limit = 1
    show_all = opts["all"] or limit > 0
    summaries = ctx.client().containers(
        all=show_all, filters=filters, limit=limit, size=opts["size"]
    )
    rows = container_rows(summaries, trunc=not opts["no_trunc"])
    if opts["quiet"]:
        fmt = "{{.ID}}"
    elif opts["format"] and opts["format"] != "table":
        fmt = opts["format"]
    else:
        fmt = PS_TABLE_SIZE if opts["size"] else PS_TABLE
    output.print_rows(fmt, rows, PS_HEADERS)
    return 0


# -- inspect ------------------------------------------------------------------------------

INSPECT = Command(
    "inspect",
    "[OPTIONS] NAME|ID [NAME|ID...]",
    "Return low-level information on Dockyard objects",
    [
        Flag("format", "f", STRING, FORMAT_HELP),
        Flag("size", "s", help="Display total file sizes if the type is container"),
        Flag("type", kind=STRING, help="Only inspect objects of the given type"),
    ],
    min_args=1,
)
CONTAINER_INSPECT = Command(
    "container inspect",
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Display detailed information on one or more containers",
    [
        Flag("format", "f", STRING, FORMAT_HELP),
        Flag("size", "s", help="Display total file sizes"),
    ],
    min_args=1,
)


def inspect(ctx: Context, argv: list[str]) -> int:
    """Containers first, then images (docker's order for an untyped inspect)."""
    opts, args = INSPECT.parse(argv)
    kind = opts["type"] or ""
    if kind not in ("", "container", "image"):
        raise CommandFailed(f'"{kind}" is not a valid value for --type')
    kinds = [kind] if kind else ["container", "image"]
    return _inspect(ctx, args, kinds, opts["format"], opts["size"])


def container_inspect(ctx: Context, argv: list[str]) -> int:
    opts, args = CONTAINER_INSPECT.parse(argv)
    return _inspect(ctx, args, ["container"], opts["format"], opts["size"])


def _inspect(ctx: Context, args: list[str], kinds: list[str], fmt: str | None, size: bool) -> int:
    from dockyard.client.errors import APIError

    client = ctx.client()
    found: list[Any] = []
    errors: list[str] = []
    for name in args:
        for i, kind in enumerate(kinds):
            try:
                if kind == "container":
                    found.append(client.inspect_container(name, size=size))
                else:
                    found.append(client.inspect_image(name))
                break
            except APIError as e:
                if not e.not_found:
                    raise
                if i == len(kinds) - 1:
                    if len(kinds) > 1:
                        errors.append(f"Error: No such object: {name}")
                    else:
                        errors.append(f"Error response from daemon: {e.message}")
    if found or not fmt:
        output.print_objects(fmt, found)
    if errors:
        raise CommandFailed("\n".join(errors))
    return 0


# -- prune --------------------------------------------------------------------------------

PRUNE = Command(
    "container prune",
    "[OPTIONS]",
    "Remove all stopped containers",
    [
        Flag("filter", kind=LIST, help="Provide filter values (e.g. 'until=<timestamp>')"),
        Flag("force", "f", help="Do not prompt for confirmation"),
    ],
    max_args=0,
)
PRUNE_WARNING = "WARNING! This will remove all stopped containers."


def prune(ctx: Context, argv: list[str]) -> int:
    opts, _ = PRUNE.parse(argv)
    filters = parse_filters(opts["filter"], PRUNE.name)
    if not opts["force"] and not output.confirm(
        f"{PRUNE_WARNING}\nAre you sure you want to continue?"
    ):
        return 0
    report = ctx.client().prune_containers(filters)
    deleted = report.get("ContainersDeleted") or []
    if deleted:
        output.out("Deleted Containers:\n" + "\n".join(str(d) for d in deleted) + "\n")
    reclaimed = int(report.get("SpaceReclaimed") or 0)
    output.out(f"Total reclaimed space: {output.human_size(reclaimed, 4)}")
    return 0
