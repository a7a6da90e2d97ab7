"""The options of ``create`` and ``run`` and the ``POST /containers/create`` body they
make: environment (``-e``, ``--env-file``), labels, volumes, limits, restart policy.
"""

from __future__ import annotations

from dockyard.cli.errors import CommandFailed, UsageError
from dockyard.cli.flags import LIST, STRING, Flag, parse_int
from dockyard.cli.healthflags import HEALTH_FLAGS, health_settings
from dockyard.cli.hostflags import HOST_FLAGS, host_settings
from dockyard.cli.netflags import NET_FLAGS, net_settings, with_proxy_env
from dockyard.cli.runtimeflags import RUNTIME_FLAGS, runtime_settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_CREATE_FLAGS = [
    Flag("attach", "a", LIST, "Attach to STDIN, STDOUT or STDERR"),
    Flag("cap-add", kind=LIST, help="Add Linux capabilities"),
    Flag("cidfile", kind=STRING, help="Write the container ID to the file"),
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
    Flag("mount", kind=LIST, help="Attach a filesystem mount to the container"),
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
    Flag("tmpfs", kind=LIST, help="Mount a tmpfs directory"),
    Flag("tty", "t", help="Allocate a pseudo-TTY"),
    Flag("user", "u", STRING, "Username or UID (format: <name|uid>[:<group|gid>])"),
    Flag("volume", "v", LIST, "Bind mount a volume"),
    Flag("volumes-from", kind=LIST, help="Mount volumes from the specified container(s)"),
    Flag("workdir", "w", STRING, "Working directory inside the container"),
    Flag("label-file", kind=LIST, help="Read in a line delimited file of labels"),
]
CREATE_FLAGS = sorted(
    [*_CREATE_FLAGS, *HOST_FLAGS, *NET_FLAGS, *RUNTIME_FLAGS, *HEALTH_FLAGS], key=lambda f: f.long
)

_BINARY_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def ram_in_bytes(text: str, flag: str = "") -> int:
    """go-units ``RAMInBytes``: "512m", "1g", "100k", "1024" (binary units). ``flag``
    ("-m, --memory") makes a bad value docker's usage error for that flag."""
    if flag:
        try:
            return ram_in_bytes(text)
        except UsageError as e:
            message = f'invalid argument "{text}" for "{flag}" flag: {e.message}'
            raise UsageError(message, "run") from None
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


def _lines(files: list[str]) -> list[str]:
    """The lines of --env-file / --label-file files, without blanks and comments."""
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
    return lines


def _env(specs: list[str], files: list[str]) -> list[str]:
    import os

    out = []
    for spec in _lines(files) + specs:
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
        "Env": with_proxy_env(_env(opts["env"], opts["env_file"])),  # config.json proxies
        "Cmd": cmd or None,
        "Image": image,
        "WorkingDir": opts["workdir"] or "",
        "Labels": dict(_split_label(s) for s in _lines(opts["label_file"]) + opts["label"]),
    }
    if opts["entrypoint"] is not None:
        config["Entrypoint"] = [opts["entrypoint"]] if opts["entrypoint"] else [""]
    if opts["domainname"]:
        config["Domainname"] = opts["domainname"]
    if opts["stop_signal"]:
        config["StopSignal"] = opts["stop_signal"]
    if opts["stop_timeout"]:
        config["StopTimeout"] = parse_int(opts["stop_timeout"], "--stop-timeout")
    config.update(health_settings(opts))  # --health-*, --no-healthcheck (healthflags.py)
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
    if opts["mount"] or opts["tmpfs"] or opts["volumes_from"]:
        host.update(_mounts(opts["mount"], opts["tmpfs"]))
        host["VolumesFrom"] = opts["volumes_from"] or None
    if opts["memory"]:
        host["Memory"] = ram_in_bytes(opts["memory"], "-m, --memory")
    if opts["cpus"]:
        try:
            host["NanoCpus"] = round(float(opts["cpus"]) * 1e9)
        except ValueError:
            raise UsageError(
                f'invalid argument "{opts["cpus"]}" for "--cpus" flag', "run"
            ) from None
    if opts["pids_limit"]:
        host["PidsLimit"] = parse_int(opts["pids_limit"], "--pids-limit")
    if opts["init"]:
        host["Init"] = True
    host.update(host_settings(opts, ram_in_bytes))
    host.update(runtime_settings(opts))  # --runtime, --device-cgroup-rule, --oom-kill-disable
    net_config, net_host, networking = net_settings(opts, host["NetworkMode"])
    config.update(net_config)  # -p, -P, --dns, --add-host, --ip, ... (cli/netflags.py)
    host.update(net_host)
    if networking:
        config["NetworkingConfig"] = networking
    if opts["restart"]:
        name, _, count = opts["restart"].partition(":")
        host["RestartPolicy"] = {
            "Name": name,
            "MaximumRetryCount": parse_int(count, "--restart") if count else 0,
        }
    config["HostConfig"] = host
    return config


def _mounts(mounts: list[str], tmpfs: list[str]) -> dict[str, Any]:
    """``--mount`` and ``--tmpfs`` as ``HostConfig.Mounts`` and ``.Tmpfs`` (cli/volumes.py)."""
    from dockyard.cli.volumes import mount_flag, tmpfs_flag

    out: dict[str, Any] = {}
    for spec in mounts:
        try:
            out.setdefault("Mounts", []).append(mount_flag(spec))
        except ValueError as e:
            raise UsageError(f'invalid argument "{spec}" for "--mount" flag: {e}', "run") from None
    if tmpfs:
        out["Tmpfs"] = tmpfs_flag(tmpfs)
    return out


def _split_label(spec: str) -> tuple[str, str]:
    key, _, value = spec.partition("=")
    return key, value
