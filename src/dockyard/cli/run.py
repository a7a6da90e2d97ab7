"""The commands that create, start and attach to a container: ``run``, ``create``,
``start`` and ``attach``.

A foreground ``run`` talks to the daemon as the docker CLI does: create (a 404 pulls the
image and creates again), attach (upgraded connection) *before* start, wait for the next
exit, start; the output is copied until the stream ends, and the exit status is the
container's, from the body of the wait.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.containerconfig import CREATE_FLAGS, container_config
from dockyard.cli.containers import for_each_container
from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.flags import BOOL, STRING, Command, Flag
from dockyard.cli.images import familiar, split_repo_tag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.context import Context
    from dockyard.client.api import APIClient
    from dockyard.client.transport import Response


# -- create, run --------------------------------------------------------------------------

CREATE = Command(
    "create",
    "[OPTIONS] IMAGE [COMMAND] [ARG...]",
    "Create a new container",
    CREATE_FLAGS,
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
        *CREATE_FLAGS,
    ],
    min_args=1,
    aliases=("dockyard container run", "dockyard run"),
    interspersed=False,
)


def _image_ref(image: str) -> tuple[str, str]:
    """(repository, tag) to pull; "latest" unless a tag or digest is given."""
    if "@" in image:
        repo, _, digest = image.partition("@")
        return repo, digest
    repo, tag = split_repo_tag(image)
    return repo, tag or "latest"


def create_container(
    client: APIClient,
    config: dict[str, Any],
    name: str | None,
    quiet: bool = False,
    pull: str | None = None,
    cidfile: str | None = None,
) -> str:
    """Create; ``--pull``: "missing" (default) pulls on a 404 ("Unable to find image")
    and creates again, "always" pulls first, "never" does not pull. ``--cidfile``: the
    file must not exist; it gets the id, and goes again when the create fails."""
    if cidfile:
        import os

        if os.path.exists(cidfile):
            raise CommandFailed(
                f"dockyard: container ID file found, make sure the other container isn't "
                f"running or delete {cidfile}",
                125,
            )
        try:
            with open(cidfile, "x"):
                pass
        except OSError as e:
            raise CommandFailed(
                f"dockyard: failed to create the container ID file: {e}", 125
            ) from None
        try:
            container_id = create_container(client, config, name, quiet, pull)
        except BaseException:
            os.unlink(cidfile)
            raise
        with open(cidfile, "w") as f:
            f.write(container_id)
        return container_id
    from dockyard.cli.distribution import check_pull_policy, pull_for_run
    from dockyard.client.errors import APIError

    policy = check_pull_policy(pull)
    if policy == "always":
        pull_for_run(client, str(config["Image"]), quiet)
    try:
        doc = client.create_container(config, name)
    except APIError as e:
        if not e.not_found or policy != "missing":
            raise
        repo, tag = _image_ref(str(config["Image"]))
        sep = "@" if tag.startswith("sha256:") else ":"
        output.err(f"Unable to find image '{familiar(repo)}{sep}{tag}' locally")
        pull_for_run(client, str(config["Image"]), quiet)
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
    return CommandFailed(f"dockyard: Error response from daemon: {message}{RUN_HINT}", status)


#: docker 28 ends run's own errors with this hint
RUN_HINT = "\n\nRun 'dockyard run --help' for more information"


def create(ctx: Context, argv: list[str]) -> int:
    from dockyard.client.errors import APIError

    opts, args = CREATE.parse(argv)
    config = container_config(opts, args, detach=True)
    try:
        container_id = create_container(
            ctx.client(), config, opts["name"], opts["quiet"], opts["pull"], opts["cidfile"]
        )
    except APIError as e:  # docker create: a daemon error exits 1
        raise CommandFailed(f"Error response from daemon: {e.message}", 1) from None
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
        container_id = create_container(
            client, config, opts["name"], opts["quiet"], opts["pull"], opts["cidfile"]
        )
    except APIError as e:
        raise CommandFailed(
            f"dockyard: Error response from daemon: {e.message}{RUN_HINT}", 125
        ) from None
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
    escape_fails: bool = False,
) -> int:
    """Attach (then wait and start, for run/start -a), copy the streams, return the exit
    status (0 after a detach; ``escape_fails``: docker attach's "read escape sequence"
    and status 1)."""
    from dockyard._internal.detachkeys import DEFAULT_DETACH_KEYS, parse_detach_keys
    from dockyard.cli.session import copy_session
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

    restore = None
    if sig_proxy and not tty:  # every signal to the container (cli/sigproxy.py)
        from dockyard.cli import sigproxy

        restore = sigproxy.install(client, container_id)
    try:
        detached = copy_session(
            conn,
            stdin=stdin,
            tty=tty,
            detach_keys=keys,
            resize=lambda h, w: client.resize(container_id, h, w),
        )
    finally:
        if restore is not None:
            restore()
    if detached:
        if waiter is not None:
            waiter.close()
        if escape_fails:
            raise CommandFailed("read escape sequence", 1)
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
    return for_each_container(args, client.start, summary="Error: failed to start containers: {}")


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
        escape_fails=True,
    )
