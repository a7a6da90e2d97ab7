"""Entry point of ``dockyard``: global flags, then the one command module that runs.

Start-up time is part of the interface: this module imports nothing beyond ``sys`` at
the top, ``--version`` answers without importing more, and a command imports only its
own module (which imports the HTTP client only when it talks to the daemon).
"""

from __future__ import annotations

import sys

from dockyard import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.cli.context import Context

    Runner = Callable[[Context, list[str]], int]

#: command -> (module under dockyard.cli, function); groups map sub-commands the same way
COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("system", "version"),
    "info": ("system", "info"),
    "images": ("images", "images"),
    "rmi": ("images", "rmi"),
    "tag": ("images", "tag"),
    "history": ("images", "history"),
    "inspect": ("containers", "inspect"),
    "load": ("archives", "load"),
    "save": ("archives", "save"),
    "import": ("archives", "import_"),
    "pull": ("distribution", "pull"),
    "push": ("distribution", "push"),
    "login": ("distribution", "login"),
    "logout": ("distribution", "logout"),
    "search": ("search", "search"),
    "build": ("build", "build"),
    "run": ("run", "run"),
    "create": ("run", "create"),
    "start": ("run", "start"),
    "stop": ("containers", "stop"),
    "kill": ("containers", "kill"),
    "restart": ("containers", "restart"),
    "rm": ("containers", "rm"),
    "ps": ("containers", "ps"),
    "logs": ("containers", "logs"),
    "wait": ("containers", "wait"),
    "rename": ("containers", "rename"),
    "pause": ("containers", "pause"),
    "unpause": ("containers", "unpause"),
    "top": ("containers", "top"),
    "attach": ("run", "attach"),
    "exec": ("execs", "exec_"),
    "events": ("events", "events"),
    "cp": ("files", "cp"),
    "export": ("files", "export"),
    "diff": ("files", "diff"),
    "commit": ("files", "commit"),
    "stats": ("stats", "stats"),
    "update": ("containerresources", "update"),
    "port": ("containerresources", "port"),
}
GROUPS: dict[str, dict[str, tuple[str, str]]] = {
    "image": {
        "ls": ("images", "images"),
        "list": ("images", "images"),
        "rm": ("images", "rmi"),
        "remove": ("images", "rmi"),
        "tag": ("images", "tag"),
        "history": ("images", "history"),
        "inspect": ("images", "inspect"),
        "prune": ("images", "prune"),
        "load": ("archives", "load"),
        "save": ("archives", "save"),
        "import": ("archives", "import_"),
        "pull": ("distribution", "pull"),
        "push": ("distribution", "push"),
        "build": ("build", "build"),
    },
    "builder": {
        "build": ("build", "build"),
        "prune": ("build", "prune"),
    },
    "container": {
        "run": ("run", "run"),
        "create": ("run", "create"),
        "start": ("run", "start"),
        "stop": ("containers", "stop"),
        "kill": ("containers", "kill"),
        "restart": ("containers", "restart"),
        "rm": ("containers", "rm"),
        "remove": ("containers", "rm"),
        "ls": ("containers", "ps"),
        "list": ("containers", "ps"),
        "ps": ("containers", "ps"),
        "logs": ("containers", "logs"),
        "wait": ("containers", "wait"),
        "inspect": ("containers", "container_inspect"),
        "rename": ("containers", "rename"),
        "pause": ("containers", "pause"),
        "unpause": ("containers", "unpause"),
        "top": ("containers", "top"),
        "attach": ("run", "attach"),
        "exec": ("execs", "exec_"),
        "prune": ("containers", "prune"),
        "cp": ("files", "cp"),
        "export": ("files", "export"),
        "diff": ("files", "diff"),
        "commit": ("files", "commit"),
        "stats": ("stats", "stats"),
        "update": ("containerresources", "update"),
        "port": ("containerresources", "port"),
    },
    "system": {
        "df": ("system", "df"),
        "events": ("events", "events"),
        "info": ("system", "info"),
        "prune": ("prune", "prune"),
    },
    "network": {
        "create": ("networks", "create"),
        "ls": ("networks", "ls"),
        "list": ("networks", "ls"),
        "inspect": ("networks", "inspect"),
        "rm": ("networks", "rm"),
        "remove": ("networks", "rm"),
        "prune": ("networks", "prune"),
        "connect": ("networks", "connect"),
        "disconnect": ("networks", "disconnect"),
    },
    "volume": {
        "create": ("volumes", "create"),
        "ls": ("volumes", "ls"),
        "list": ("volumes", "ls"),
        "inspect": ("volumes", "inspect"),
        "rm": ("volumes", "rm"),
        "remove": ("volumes", "rm"),
        "prune": ("volumes", "prune"),
    },
}
GROUP_HELP = {
    "builder": "Manage builds",
    "container": "Manage containers",
    "image": "Manage images",
    "network": "Manage networks",
    "system": "Manage Dockyard",
    "volume": "Manage volumes",
}

USAGE = """\
Usage:  dockyard [OPTIONS] COMMAND

A docker-compatible client for the Dockyard container engine

Common Commands:
  run         Create and run a new container from an image
  build       Build an image from a Dockerfile
  ps          List containers
  images      List images
  pull        Download an image from a registry
  push        Upload an image to a registry
  version     Show the Dockyard version information
  info        Display system-wide information

Management Commands:
  builder     Manage builds
  container   Manage containers
  image       Manage images
  network     Manage networks
  system      Manage Dockyard
  volume      Manage volumes

Commands:
  attach      Attach local standard input, output, and error streams to a running container
  commit      Create a new image from a container's changes
  cp          Copy files/folders between a container and the local filesystem
  create      Create a new container
  diff        Inspect changes to files or directories on a container's filesystem
  events      Get real time events from the server
  exec        Execute a command in a running container
  export      Export a container's filesystem as a tar archive
  history     Show the history of an image
  import      Import the contents from a tarball to create a filesystem image
  inspect     Return low-level information on Dockyard objects
  kill        Kill one or more running containers
  load        Load an image from a tar archive or STDIN
  login       Authenticate to a registry
  logout      Log out from a registry
  logs        Fetch the logs of a container
  pause       Pause all processes within one or more containers
  port        List port mappings or a specific mapping for the container
  rename      Rename a container
  restart     Restart one or more containers
  rm          Remove one or more containers
  rmi         Remove one or more images
  save        Save one or more images to a tar archive (streamed to STDOUT by default)
  search      Search a registry for images
  start       Start one or more stopped containers
  stats       Display a live stream of container(s) resource usage statistics
  stop        Stop one or more running containers
  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
  top         Display the running processes of a container
  unpause     Unpause all processes within one or more containers
  update      Update configuration of one or more containers
  wait        Block until one or more containers stop, then print their exit codes

Global Options:
  -D, --debug          Enable debug mode
  -H, --host string    Daemon socket to connect to (unix:///run/dockyard.sock; env
                       DOCKYARD_HOST, then DOCKER_HOST)
      --tls            Use TLS; implied by --tlsverify
      --tlscacert string
                       Trust certs signed only by this CA (default ~/.dockyard/ca.pem)
      --tlscert string Path to TLS certificate file (default ~/.dockyard/cert.pem)
      --tlskey string  Path to TLS key file (default ~/.dockyard/key.pem)
      --tlsverify      Use TLS and verify the remote (env DOCKYARD_TLS_VERIFY)
  -v, --version        Print version information and quit

Run 'dockyard COMMAND --help' for more information on a command."""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130


def _run(args: list[str]) -> int:
    from dockyard.cli import output

    host: str | None = None
    debug = False
    tls: dict[str, str | bool | None] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-v", "--version"):
            output.out(f"Dockyard version {__version__}")
            return 0
        if arg in ("-h", "--help"):
            output.out(USAGE)
            return 0
        if arg in ("-D", "--debug"):
            debug = True
        elif arg in ("--tls", "--tlsverify"):
            tls[arg[2:]] = True
        elif arg in ("--tlscacert", "--tlscert", "--tlskey"):
            if i + 1 >= len(args):
                return _usage_error(_needs_argument(arg))
            tls[arg[2:]] = args[i + 1]
            i += 1
        elif arg.startswith(("--tlscacert=", "--tlscert=", "--tlskey=", "--tls=", "--tlsverify=")):
            key, _, value = arg[2:].partition("=")
            tls[key] = (
                value if key.startswith("tlsc") or key == "tlskey" else value in ("1", "true")
            )
        elif arg in ("-H", "--host", "-l", "--log-level"):
            if i + 1 >= len(args):
                return _usage_error(_needs_argument(arg))
            if arg in ("-H", "--host"):
                host = args[i + 1]
            i += 1
        elif arg.startswith("--host="):
            host = arg[len("--host=") :]
        elif arg.startswith("-H"):
            host = arg[2:]
        elif arg.startswith("--log-level="):
            pass
        elif arg == "--":
            i += 1
            break
        elif arg.startswith("-") and arg != "-":
            return _usage_error(f"unknown flag: {arg}")
        else:
            break
        i += 1
    if i >= len(args):
        output.out(USAGE)
        return 0
    name, rest = args[i], args[i + 1 :]
    if name in GROUPS:
        if not rest or rest[0] in ("-h", "--help"):
            # docker prints a bare management command's help on stderr, --help on stdout
            (output.out if rest else output.err)(_group_usage(name))
            return 0
        target = GROUPS[name].get(rest[0])
        if target is None:
            return _unknown_command(f"{name} {rest[0]}", name)
        name, rest = f"{name} {rest[0]}", rest[1:]
    else:
        target = COMMANDS.get(name)
        if target is None:
            return _unknown_command(name)
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="DEBU[%(name)s] %(message)s")
    module = __import__(f"dockyard.cli.{target[0]}", fromlist=[target[1]])
    runner: Runner = getattr(module, target[1])
    return _dispatch(runner, name, rest, host, debug, tls)


def _dispatch(
    runner: Runner,
    name: str,
    rest: list[str],
    host: str | None,
    debug: bool,
    tls: dict[str, str | bool | None] | None = None,
) -> int:
    import os

    from dockyard.cli import output
    from dockyard.cli.context import Context
    from dockyard.cli.errors import CommandFailed, HelpRequested, UsageError
    from dockyard.client.errors import APIError, ClientError

    try:
        from dockyard.client.transport import resolve_host

        ctx = Context(resolve_host(host, os.environ), debug, tls or {})
        return runner(ctx, rest)
    except HelpRequested as e:
        output.out(e.named(name))
        return 0
    except UsageError as e:
        if e.command is not None:
            from dockyard.cli.flags import usage_of

            if e.usage is None:
                e.usage = usage_of(e.command) or usage_of(name)
            e.command = name  # "image ls", not the shared command's "images"
        output.err(str(e))
        return e.status
    except APIError as e:
        _trace(debug)
        output.err(f"Error response from daemon: {e.message}")
        return 1
    except (ClientError, CommandFailed) as e:
        _trace(debug)
        output.err(str(e))
        return e.status if isinstance(e, CommandFailed) else 1
    except BrokenPipeError:
        # `dockyard images | head`: the reader left; say nothing, like docker
        sys.stderr.close()
        return 1
    except OSError as e:
        _trace(debug)
        output.err(f"dockyard {name}: {e}")
        return 1


def _trace(debug: bool) -> None:
    if debug:
        from dockyard.cli import output

        output.traceback()


def _usage_error(message: str) -> int:
    """A mistake in the global flags (docker: exit 125)."""
    from dockyard.cli import output
    from dockyard.cli.errors import UsageError

    error = UsageError(message, "", "[OPTIONS] COMMAND [ARG...]")
    output.err(str(error))
    return error.status


def _needs_argument(flag: str) -> str:
    """pflag's words: "--host" as it is, "-H" as "'H' in -H"."""
    if flag.startswith("--"):
        return f"flag needs an argument: {flag}"
    return f"flag needs an argument: '{flag[1:]}' in {flag}"


def _unknown_command(name: str, group: str = "") -> int:
    """docker 28's words and status (1) for a command it does not know."""
    from dockyard.cli import output

    usage = f"\n\nUsage:  dockyard {group}" if group else ""
    hint = f"dockyard {group}".rstrip()
    output.err(
        f"dockyard: unknown command: dockyard {name}{usage}\n\n"
        f"Run '{hint} --help' for more information"
    )
    return 1


def _group_usage(group: str) -> str:
    from dockyard.cli.commandhelp import group_usage

    return group_usage(group)


if __name__ == "__main__":
    sys.exit(main())
