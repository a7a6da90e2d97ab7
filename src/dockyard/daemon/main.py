"""``dockyardd``: flags, logging, the pidfile, the sockets, and serving until a signal.

Start-up order: config (flags over daemon.json) -> pidfile lock -> group -> dirs ->
image store and services -> sockets (0660 root:<group>) -> serve. SIGTERM/SIGINT stop
the listeners, let requests in flight finish (bounded by --shutdown-timeout), then
remove the sockets and the pidfile. Exit status: 0 after a signal, 1 when the daemon
cannot start (one line on stderr says why), 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import grp
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from dockyard import __version__
from dockyard.api.server import Server, bind_unix
from dockyard.errors import DockyardError, SystemFault

from . import config as daemon_config
from . import listeners, wiring
from .config import DaemonConfig
from .pidfile import PidFile

log = logging.getLogger("dockyardd")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockyardd", description="The Dockyard container engine.")
    p.add_argument("-v", "--version", action="store_true", help="print the version and exit")
    p.add_argument(
        "-H",
        "--host",
        action="append",
        dest="hosts",
        metavar="HOST",
        help="socket to listen on, unix:///path (repeatable)",
    )
    p.add_argument("--data-root", type=Path, help="root of persistent state")
    p.add_argument("--exec-root", type=Path, help="root of runtime state")
    p.add_argument("-s", "--storage-driver", help="overlay, btrfs or vfs")
    p.add_argument("--cgroup-parent", help="cgroup the containers' cgroups go under")
    p.add_argument("--default-runtime", help="OCI runtime for containers")
    p.add_argument("--init-path", help="the init binary of --init (default: docker-init, tini)")
    p.add_argument(
        "--add-runtime",
        action="append",
        dest="runtimes",
        metavar="NAME=PATH",
        help="register an OCI runtime (repeatable)",
    )
    p.add_argument("-p", "--pidfile", type=Path, help="path of the pid file")
    p.add_argument("-l", "--log-level", choices=daemon_config.LOG_LEVELS)
    p.add_argument("-D", "--debug", action="store_true", default=None, help="debug logging")
    p.add_argument("--config-file", type=Path, help="daemon.json to read")
    p.add_argument("-G", "--group", help="group that may use the unix sockets")
    p.add_argument("--dns", action="append", help="DNS server for containers (repeatable)")
    p.add_argument("--shutdown-timeout", type=float, help="seconds to finish requests on stop")
    p.add_argument("--tls", action="store_true", default=None, help="use TLS on tcp:// hosts")
    p.add_argument(
        "--tlsverify", action="store_true", default=None, help="TLS with client certificates"
    )
    p.add_argument("--tlscacert", type=Path, help="CA that signs the client certificates")
    p.add_argument("--tlscert", type=Path, help="the daemon's TLS certificate")
    p.add_argument("--tlskey", type=Path, help="the daemon's TLS key")
    p.add_argument("-b", "--bridge", help="Linux bridge of the default network (none: no bridge)")
    p.add_argument("--bip", help="address and prefix of the default bridge, e.g. 172.30.0.1/16")
    p.add_argument("--fixed-cidr", help="subnet of the default bridge containers' addresses")
    p.add_argument("--mtu", type=int, help="MTU of the default bridge's links (default: automatic)")
    p.add_argument(
        "--firewall-backend",
        choices=("iptables", "nftables"),
        help="NAT and filter rules through iptables or nftables (default: iptables if installed)",
    )
    for flag, what in (
        ("--iptables", "NAT and filter rules for bridge networks (--iptables=false: none)"),
        ("--icc", "containers of the default bridge reach each other"),
        ("--ip-masq", "masquerade what leaves the default bridge"),
    ):
        p.add_argument(flag, type=_go_bool, nargs="?", const=True, metavar="BOOL", help=what)
    p.add_argument("--ip", help="host address -p publishes on by default (0.0.0.0)")
    p.add_argument(
        "--insecure-registry",
        action="append",
        help="registry (host:port or CIDR) reached over plain HTTP (repeatable)",
    )
    p.add_argument(
        "--registry-mirror", action="append", help="mirror of docker.io, a URL (repeatable)"
    )
    return p


def _go_bool(text: str) -> bool:
    """A flag value as Go's ParseBool reads it (dockerd's ``--iptables=false``)."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}: use true or false")


def config_from_args(args: argparse.Namespace) -> DaemonConfig:
    flags: dict[str, Any] = {}
    for name in (
        "data_root",
        "exec_root",
        "storage_driver",
        "cgroup_parent",
        "init_path",
        "default_runtime",
        "pidfile",
        "log_level",
        "debug",
        "group",
        "shutdown_timeout",
        "tls",
        "tlsverify",
        "tlscacert",
        "tlscert",
        "tlskey",
        "bridge",
        "bip",
        "fixed_cidr",
        "mtu",
        "firewall_backend",
        "iptables",
        "icc",
        "ip_masq",
        "ip",
    ):
        value = getattr(args, name)
        if value is not None:
            flags[name] = value
    if args.hosts:
        flags["hosts"] = tuple(args.hosts)
    if args.dns:
        flags["dns"] = tuple(args.dns)
    if args.insecure_registry:
        flags["insecure_registries"] = tuple(args.insecure_registry)
    if args.registry_mirror:
        flags["registry_mirrors"] = tuple(args.registry_mirror)
    if args.runtimes:
        flags["runtimes"] = dict(daemon_config.parse_runtime(r) for r in args.runtimes)
    return daemon_config.build(flags, args.config_file)


def setup_logging(config: DaemonConfig) -> None:
    level = "debug" if config.debug else config.log_level
    levels = {
        "debug": logging.DEBUG,
        "info": logging.INFO,
        "warn": logging.WARNING,
        "error": logging.ERROR,
        "fatal": logging.CRITICAL,
    }
    logging.basicConfig(
        stream=sys.stderr,
        level=levels[level],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def socket_group(name: str) -> int:
    """The gid of ``name``, creating it as a system group when it is missing."""
    with contextlib.suppress(KeyError):
        return grp.getgrnam(name).gr_gid
    if os.geteuid() != 0:
        raise SystemFault(f"group {name!r} does not exist and creating it needs root")
    res = subprocess.run(
        ["groupadd", "--system", name], capture_output=True, text=True, check=False
    )
    if res.returncode not in (0, 9):  # 9: created meanwhile by someone else
        raise SystemFault(f"cannot create group {name!r}: {res.stderr.strip()}")
    log.info("created group %s", name)
    return grp.getgrnam(name).gr_gid


async def serve(config: DaemonConfig) -> None:
    planned = listeners.plan(config)  # refuse a bad host before touching anything
    paths = [p.path for p in planned if isinstance(p, listeners.UnixListener)]
    tcp = [p for p in planned if isinstance(p, listeners.TcpListener)]
    tls = listeners.server_context(config) if tcp else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    gid = socket_group(config.group)
    config.data_root.mkdir(parents=True, exist_ok=True, mode=0o711)
    config.exec_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = await asyncio.to_thread(wiring.build, config)
    server = Server(engine.router)
    bound: list[Path] = []
    try:
        # the built-in busybox:latest is in the store before the first request is answered
        await engine.images.start()
        await engine.containers.start_service()
        for path in paths:
            await server.add_socket(bind_unix(path, mode=0o660, gid=gid))
            bound.append(path)
            log.info("API listen on %s", path)
        for listener in tcp:
            assert tls is not None
            await server.add_tcp(listener.address, listener.port, tls)
            log.info("API listen on %s:%d (TLS, client certificates verified)",
                     listener.address, listener.port)  # fmt: skip
        log.info(
            "Dockyard daemon %s started (data root %s, storage driver %s)",
            __version__,
            config.data_root,
            config.storage_driver,
        )
        await stop.wait()
        log.info(
            "shutting down: finishing requests in flight (up to %.0fs)", config.shutdown_timeout
        )
    finally:
        engine.events.close()  # live event streams end instead of holding the stop up
        await server.close(config.shutdown_timeout)
        with contextlib.suppress(Exception):
            await engine.containers.close()
        for path in bound:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        engine.close()
    log.info("daemon stopped")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.version:
        print(f"Dockyard daemon version {__version__}")
        return 0
    try:
        config = config_from_args(args)
    except DockyardError as e:
        print(f"dockyardd: {e}", file=sys.stderr)
        return 1
    setup_logging(config)
    pidfile = PidFile(config.pidfile)
    try:
        pidfile.acquire()
    except DockyardError as e:
        print(f"dockyardd: {e}", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(config))
    except DockyardError as e:
        log.error("%s", e)
        print(f"dockyardd: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"dockyardd: {e}", file=sys.stderr)
        return 1
    finally:
        pidfile.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
