"""A private ``dockyardd`` for tests: its own socket, data root, exec root and pidfile.

``Daemon.start()`` runs ``python -m dockyard.daemon.main`` (the code under test, not
whatever is installed) with everything under one ``dyt-daemon-*`` temp dir and the socket
``<dir>/dyt-<hex>.sock``, and waits until ``/_ping`` answers. ``docker(...)`` runs the real
docker CLI against it with a private ``DOCKER_CONFIG``. ``stop()`` sends SIGTERM and
checks the daemon exited 0 and removed its socket and pidfile; ``cleanup()`` removes the
dir (the fixtures call both). ``kill9()`` crashes it (SIGKILL, the shims live on) and
``restart()`` starts it again on the same dirs and socket.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard.cgroups import manager_for

from .dockerd import unmount_under
from .names import SESSION, unique

DOCKER = "/usr/local/bin/docker"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class DaemonFailed(Exception):
    """dockyardd did not start or stop as expected; the message has its log's tail."""


def ping(sock: Path, timeout: float = 1.0) -> bool:
    """Whether a daemon answers ``GET /_ping`` with 200 on ``sock``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(sock))
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
            head = s.recv(64)
    except OSError:
        return False
    return head.startswith(b"HTTP/1.1 200")


@dataclass
class Daemon:
    """One running dockyardd (see the module docstring)."""

    dir: Path
    sock: Path
    proc: subprocess.Popen[bytes] | None = None
    args: tuple[str, ...] = ()
    stopped_rc: int | None = field(default=None)
    # a command the daemon runs under, e.g. ``unshare -m ...`` to hide host programs
    prefix: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"unix://{self.sock}"

    @property
    def data_root(self) -> Path:
        return self.dir / "data"

    @property
    def exec_root(self) -> Path:
        return self.dir / "exec"

    @property
    def pidfile(self) -> Path:
        return self.dir / "dockyardd.pid"

    @property
    def config_file(self) -> Path:
        return self.dir / "daemon.json"

    @property
    def log(self) -> Path:
        return self.dir / "dockyardd.log"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def cgroup_parent(self) -> str:
        """Its containers' cgroups go under this ``dyt-`` cgroup, so leaks are visible."""
        return "/" + self.dir.name

    def argv(self, *extra: str) -> list[str]:
        return [
            *self.prefix,
            sys.executable, "-m", "dockyard.daemon.main",
            "-H", self.url,
            "--data-root", str(self.data_root),
            "--exec-root", str(self.exec_root),
            "--pidfile", str(self.pidfile),
            "--config-file", str(self.config_file),
            "--cgroup-parent", self.cgroup_parent,
            *self._no_default_bridge(extra),
            *extra,
        ]  # fmt: skip

    def _no_default_bridge(self, extra: tuple[str, ...]) -> list[str]:
        """``--bridge none`` unless the test names a bridge (flag or daemon.json): daemons
        of parallel tests would otherwise share ``dockyard0`` with clashing addresses, and
        every container would make host links. Tests of the default bridge pass
        ``config={"bridge": "dyt-...", "bip": "10.x.y.1/24"}``."""
        if any(a in ("-b", "--bridge") or a.startswith("--bridge=") for a in extra):
            return []
        try:
            configured = "bridge" in json.loads(self.config_file.read_text() or "{}")
        except (OSError, ValueError):
            configured = False
        return [] if configured else ["--bridge", "none"]

    @classmethod
    def prepare(cls, config: Mapping[str, Any] | None = None, base: Path | None = None) -> Daemon:
        """Make the dirs and daemon.json, but start nothing (``run`` / ``launch`` do)."""
        top = Path(tempfile.mkdtemp(prefix=f"{SESSION}-daemon-", dir=base))
        top.chmod(0o711)
        daemon = cls(top, top / f"{unique()}.sock")
        daemon.config_file.write_text(json.dumps(dict(config or {})))
        manager_for(daemon.cgroup_parent).create()
        return daemon

    @classmethod
    def start(
        cls,
        *args: str,
        config: Mapping[str, Any] | None = None,
        storage_driver: str | None = None,
        base: Path | None = None,
    ) -> Daemon:
        """Start a daemon and wait for ``_ping``; ``args`` are extra dockyardd flags.

        ``storage_driver`` None keeps the daemon's default (overlay).
        """
        daemon = cls.prepare(config, base)
        extra = list(args)
        if storage_driver and "storage-driver" not in (config or {}):
            extra += ["--storage-driver", storage_driver]
        try:
            daemon.launch(*extra)
            daemon.wait_ready()
        except BaseException:
            daemon.kill()
            daemon.cleanup()
            raise
        return daemon

    def launch(self, *extra: str) -> None:
        self.args = tuple(extra)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv(*extra),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def run(self, *extra: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run a dockyardd with this daemon's dirs to completion (for failing start-ups)."""
        return subprocess.run(
            self.argv(*extra), capture_output=True, text=True, timeout=timeout, check=False
        )

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not ping(self.sock):
            if self.proc.poll() is not None:
                raise DaemonFailed(
                    f"dockyardd exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise DaemonFailed(f"dockyardd did not answer in {timeout}s:\n{self.log_tail()}")
            time.sleep(0.05)

    def dockyard(
        self, *args: str, check: bool = True, timeout: float = 120.0
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``dockyard`` CLI (the code under test) against this daemon, with no
        DOCKER_/DOCKYARD_ variables of the caller; AssertionError when it fails."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKYARD_"))}
        res = subprocess.run(
            [sys.executable, "-m", "dockyard.cli.main", "-H", self.url, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
        if check and res.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)}: exit {res.returncode}: {res.stderr}")
        return res

    def docker(
        self,
        *args: str,
        check: bool = True,
        input: bytes | None = None,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run the real docker CLI against this daemon; RuntimeError when it fails."""
        conf = self.dir / "docker-config"
        conf.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_CONFIG=str(conf), DOCKER_CLI_HINTS="false")
        res = subprocess.run(
            [DOCKER, "-H", self.url, *args],
            input=input.decode() if input is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
        if check and res.returncode != 0:
            raise RuntimeError(
                f"docker {' '.join(args)}: exit {res.returncode}: {res.stderr.strip()}"
            )
        return res

    def client_env(self) -> dict[str, str]:
        """An environment for docker-py (``docker.from_env()``) pointing at this daemon."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.url
        return env

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the daemon, wait, and check it exited 0 and removed socket and pidfile."""
        if self.proc is None or self.proc.poll() is not None:
            rc = self.proc.returncode if self.proc is not None else 0
        else:
            self.proc.send_signal(sig)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise DaemonFailed(
                    f"dockyardd did not stop within {timeout}s:\n{self.log_tail()}"
                ) from None
        self.stopped_rc = rc
        if rc != 0:
            raise DaemonFailed(f"dockyardd exited with {rc}:\n{self.log_tail()}")
        for left in (self.sock, self.pidfile):
            if left.exists():
                raise DaemonFailed(f"dockyardd left {left} behind")
        return rc

    def kill9(self) -> None:
        """SIGKILL the daemon process alone, as a crash would: its containers' shims (in
        their own sessions) and the socket and pidfile stay behind."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self, *extra: str) -> None:
        """Start the daemon again on the same dirs and socket (after ``stop`` or
        ``kill9``), with ``extra`` flags or those of the last launch."""
        if self.proc is not None and self.proc.poll() is None:
            raise DaemonFailed("dockyardd is still running: stop or kill9 it first")
        self.launch(*(extra or self.args))
        self.wait_ready()

    def _kill_leftovers(self) -> None:
        """SIGKILL what a failed test left running: containers' processes (in cgroups
        under ``cgroup_parent``) and shims (their arguments name this daemon's dirs)."""
        marker = f"{self.cgroup_parent}/"
        found: list[int] = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cgroup") as f:
                    groups = f.read()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().decode(errors="replace")
            except OSError:
                continue
            if marker in groups or str(self.dir) in argv:
                found.append(int(entry))
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while found and time.monotonic() < deadline:
            found = [pid for pid in found if _alive(pid)]
            time.sleep(0.02)

    def _delete_bridges(self) -> None:
        """The Linux bridges of this daemon's networks, which a test that failed before
        its ``network rm`` leaves on the host."""
        for record in (self.data_root / "networks").glob("*/network.json"):
            try:
                name = str(json.loads(record.read_text()).get("bridge") or "")
            except (OSError, ValueError):
                continue
            if name and os.path.isdir(f"/sys/class/net/{name}/bridge"):
                subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def cleanup(self) -> None:
        """Kill whatever still runs and remove every file of this daemon."""
        self.kill()
        with contextlib.suppress(FileNotFoundError):
            self.sock.unlink()
        self._kill_leftovers()
        self._delete_bridges()
        manager_for(self.cgroup_parent).destroy()
        unmount_under(self.dir)  # rootfs and volume mounts their shims did not undo
        shutil.rmtree(self.dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie (one waits for its parent, not for us)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@contextlib.contextmanager
def own_bridge(octet: int) -> Iterator[dict[str, str]]:
    """daemon.json settings for a default bridge of the caller's own: a ``dyt…`` bridge on
    10.<octet>.x.0/24 (x random). Afterwards the bridge is deleted if it was made and the
    host's IPv4 forwarding is put back (a daemon turns it on, as dockerd)."""
    name = "dyt" + secrets.token_hex(4)
    forwarding = Path("/proc/sys/net/ipv4/ip_forward")
    before = forwarding.read_text()
    try:
        yield {"bridge": name, "bip": f"10.{octet}.{secrets.randbelow(250)}.1/24"}
    finally:
        if os.path.exists(f"/sys/class/net/{name}"):
            subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
        forwarding.write_text(before)


@contextlib.contextmanager
def running(*args: str, config: Mapping[str, Any] | None = None, **kw: Any) -> Iterator[Daemon]:
    """A daemon for the ``with`` block: stopped (checked) and removed on the way out."""
    daemon = Daemon.start(*args, config=config, **kw)
    try:
        yield daemon
        daemon.stop()
    finally:
        daemon.cleanup()
