"""``pull``, ``push``, ``login``, ``logout``: registries, through the daemon.

Credentials are the docker CLI's: ``auths.<registry>.auth`` (base64 ``user:password``)
in ``$DOCKER_CONFIG/config.json`` (``~/.docker/config.json``), sent to the daemon as
``X-Registry-Auth``; ``login`` checks them with the daemon (``POST /auth``) and stores
them there (file mode 0600, no credential helpers), ``logout`` removes them. Output
is Docker's non-terminal form: one line per status, no progress bars.
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.archives import show_messages
from dockyard.cli.errors import CommandFailed
from dockyard.cli.flags import STRING, Command, Flag
from dockyard.cli.progress import display_messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.context import Context
    from dockyard.client.api import APIClient

DOCKER_HUB = "https://index.docker.io/v1/"  # the key docker login uses for Docker Hub

PULL = Command(
    "pull",
    "[OPTIONS] NAME[:TAG|@DIGEST]",
    "Download an image from a registry",
    [
        Flag("all-tags", "a", help="Download all tagged images in the repository"),
        Flag("platform", kind=STRING, help="Set platform if server is multi-platform capable"),
        Flag("quiet", "q", help="Suppress verbose output"),
    ],
    min_args=1,
    max_args=1,
    aliases=("dockyard image pull", "dockyard pull"),
)

PUSH = Command(
    "push",
    "[OPTIONS] NAME[:TAG]",
    "Upload an image to a registry",
    [
        Flag("all-tags", "a", help="Push all tags of an image to the repository"),
        Flag("quiet", "q", help="Suppress verbose output"),
    ],
    min_args=1,
    max_args=1,
    aliases=("dockyard image push", "dockyard push"),
)


def registry_of(name: str) -> str:
    """The registry part of an image name as the docker CLI keys its credentials."""
    first, sep, _ = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def config_path() -> str:
    import os

    folder = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    return os.path.join(folder, "config.json")


def registry_auth(name: str) -> str | None:
    """The ``X-Registry-Auth`` value for ``name`` from the docker CLI's config, if any."""
    import base64
    import json

    try:
        with open(config_path(), "rb") as f:
            doc = json.load(f)
        entry = doc.get("auths", {}).get(registry_of(name), {})
        user, _, password = base64.b64decode(entry.get("auth", "")).decode().partition(":")
    except (OSError, ValueError, AttributeError):
        return None
    if not user:
        return None
    raw = json.dumps({"username": user, "password": password, "serveraddress": registry_of(name)})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _split_tag(name: str) -> tuple[str, str | None]:
    if "@" in name:
        return name, None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, None


def pull(ctx: Context, argv: list[str]) -> int:
    opts, [name] = PULL.parse(argv)
    repo, tag = _split_tag(name)
    if opts["all_tags"]:
        if tag is not None or "@" in name:
            raise CommandFailed("tag can't be used with --all-tags/-a")
    elif tag is None and "@" not in name:
        output.out("Using default tag: latest")
        tag = "latest"
    messages = ctx.client().pull(
        repo, tag, platform=opts["platform"], registry_auth=registry_auth(name)
    )
    if opts["quiet"]:
        show_messages(m for m in messages if "error" in m or "errorDetail" in m)
    else:
        display_messages(messages)
    output.out(_qualified(name if "@" in name or tag is None else f"{repo}:{tag}"))
    return 0


def _qualified(name: str) -> str:
    """The name with its registry, as docker pull's last line shows it."""
    if registry_of(name) != DOCKER_HUB:
        return name
    repo = name.partition("@")[0]
    return f"docker.io/{name}" if "/" in repo else f"docker.io/library/{name}"


PULL_POLICIES = ("always", "missing", "never")


def check_pull_policy(value: str | None) -> str:
    """``run``/``create --pull``: one of PULL_POLICIES ("missing" when not given)."""
    policy = value or "missing"
    if policy not in PULL_POLICIES:
        raise CommandFailed(
            f'invalid pull option: \'{policy}\': must be one of "always", "missing" or "never"',
            125,
        )
    return policy


def pull_for_run(client: APIClient, image: str, quiet: bool) -> None:
    """Pull ``image`` for ``run``/``create`` with the stored credentials, showing the
    statuses (unless ``quiet``); an error in the stream is an APIError, as from create."""
    from dockyard.client.errors import APIError

    repo, tag = _split_tag(image)
    if "@" in repo:
        repo, _, tag = repo.partition("@")
    for message in client.pull(repo, tag or "latest", registry_auth=registry_auth(image)):
        if message.get("error") or message.get("errorDetail"):
            detail = message.get("errorDetail") or {}
            raise APIError(500, str(message.get("error") or detail.get("message")))
        if not quiet and message.get("status"):
            ident = f"{message['id']}: " if message.get("id") else ""
            output.out(f"{ident}{message['status']}")


def push(ctx: Context, argv: list[str]) -> int:
    opts, [name] = PUSH.parse(argv)
    repo, tag = _split_tag(name)
    if opts["all_tags"]:
        if tag is not None:
            raise CommandFailed("tag can't be used with --all-tags/-a")
    elif tag is None:
        output.out("Using default tag: latest")
        tag = "latest"
    messages = ctx.client().push(repo, tag, registry_auth=registry_auth(name))
    if opts["quiet"]:
        show_messages(m for m in messages if "error" in m or "errorDetail" in m)
        output.out(repo if tag is None else f"{repo}:{tag}")
    else:
        display_messages(messages)
    return 0


LOGIN = Command(
    "login",
    "[OPTIONS] [SERVER]",
    "Authenticate to a registry",
    [
        Flag("username", "u", STRING, "Username"),
        Flag("password", "p", STRING, "Password"),
        Flag("password-stdin", help="Take the password from stdin"),
    ],
    max_args=1,
)

LOGOUT = Command("logout", "[SERVER]", "Log out from a registry", [], max_args=1)


def _server(args: list[str]) -> str:
    if not args:  # no default registry: Dockyard talks only to the registries it is told
        raise CommandFailed("name the registry: dockyard login|logout HOST[:PORT]")
    return args[0].split("://", 1)[-1].rstrip("/")


def _update_config(server: str, auth: str | None) -> bool:
    """Set (or with None remove) ``auths.<server>.auth``; answer whether it was there."""
    import json
    import os

    path = config_path()
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        doc = {}
    except (OSError, ValueError) as e:
        raise CommandFailed(f"cannot read {path}: {e}") from e
    auths = doc.setdefault("auths", {})
    had = server in auths
    if auth is None:
        auths.pop(server, None)
    else:
        auths[server] = {"auth": auth}
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    temp = f"{path}.tmp{os.getpid()}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f, indent="\t")
    os.replace(temp, path)
    return had


def login(ctx: Context, argv: list[str]) -> int:
    import base64
    import sys

    opts, args = LOGIN.parse(argv)
    server = _server(args)
    user, password = opts["username"], opts["password"]
    if opts["password_stdin"]:
        if password:
            raise CommandFailed("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.readline().rstrip("\r\n")
    if not user or not password:
        raise CommandFailed(
            "give the user name and password: -u USER and -p PASSWORD or --password-stdin"
        )
    if opts["password"]:
        output.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    answer = ctx.client().login(user, password, server)
    _update_config(server, base64.b64encode(f"{user}:{password}".encode()).decode())
    output.out(str(answer.get("Status") or "Login Succeeded"))
    return 0


def logout(ctx: Context, argv: list[str]) -> int:
    _, args = LOGOUT.parse(argv)
    server = _server(args)
    if _update_config(server, None):
        output.out(f"Removing login credentials for {server}")
    else:
        output.out(f"Not logged in to {server}")
    return 0
