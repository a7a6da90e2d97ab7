"""A private Docker daemon (Debian's ``docker.io``, dockerd 20.10) for differential tests.

``Dockerd.start()`` installs ``docker.io`` with apt when ``dockerd`` is missing, then runs
it on its own socket (``/run/dyt-docker-<hex>.sock``) with its own data-root, exec-root
and pidfile under a ``dyt-`` temp dir, and with nothing that touches the host network:
no iptables, no masquerading, no bridge. ``start(bridge_ip="10.231.0.1/24")`` gives it a
default bridge of its own: a ``dyt…`` Linux bridge with that address, made before the
daemon starts and deleted by ``stop()`` (still no iptables rules, no forwarding).
``stop()`` ends it (SIGTERM, then SIGKILL), unmounts whatever it left under its dirs and
removes them. The test fixture and the
benchmark cases share this helper.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from dockyard.kernel import mount as km

from .names import SESSION, unique

CLIENTS = ("/usr/bin/docker", "/usr/local/bin/docker")
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


class DockerdUnavailable(Exception):
    """dockerd cannot be installed or started here; the message says why."""


def ensure_installed() -> str:
    """The path of ``dockerd``, installing Debian's docker.io first if it is missing."""
    found = shutil.which("dockerd")
    if found:
        return found
    if os.geteuid() != 0:
        raise DockerdUnavailable("dockerd is not installed and installing it needs root")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker.io"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:  # the package lists may be stale or missing
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    found = shutil.which("dockerd")
    if res.returncode != 0 or not found:
        raise DockerdUnavailable(f"cannot install docker.io: {res.stderr.strip()[-300:]}")
    return found


def client_binary() -> str:
    """The docker CLI: Debian's 20.10 client (matches the daemon) or any other one."""
    for path in CLIENTS:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which("docker")
    if not found:
        raise DockerdUnavailable("no docker CLI found")
    return found


@dataclass
class Dockerd:
    """One running private dockerd; ``cli(...)`` runs the docker CLI against it."""

    proc: subprocess.Popen[bytes]
    dir: Path
    sock: Path
    client: str
    bridge: str = ""  # the private bridge made for it ("" with --bridge=none)

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    @property
    def log(self) -> Path:
        return self.dir / "dockerd.log"

    def argv(self, *args: str) -> list[str]:
        return [self.client, "-H", self.host, *args]

    def cli(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
        timeout: float = 300.0,
        stdout: int | None = subprocess.PIPE,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``docker -H <sock> args...``; RuntimeError with stderr when it fails."""
        res = subprocess.run(
            self.argv(*args),
            input=input,
            stdout=stdout,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
            env=_client_env(self.host),
        )
        if check and res.returncode != 0:
            raise RuntimeError(
                f"docker {' '.join(args)}: exit {res.returncode}: "
                f"{res.stderr.decode(errors='replace').strip()}"
            )
        return res

    def up(self) -> bool:
        try:
            res = self.cli("version", "--format", "{{.Server.Version}}", check=False, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return res.returncode == 0

    @classmethod
    def start(cls, base: Path | None = None, bridge_ip: str = "") -> Dockerd:
        """Install if needed, start, and wait until the daemon answers.

        ``base`` holds the daemon's dirs (default: the system temp dir); keep it short,
        containerd's sockets live under the exec-root (108-byte socket path limit).
        ``bridge_ip`` (address/prefix): a private default bridge with that address.
        """
        binary = ensure_installed()
        client = client_binary()
        top = Path(tempfile.mkdtemp(prefix=f"{SESSION}-dockerd-", dir=base))
        top.chmod(0o711)
        name = unique("docker")  # also the containerd namespace: [A-Za-z0-9._-] only
        sock = Path(f"/run/{name}.sock")
        data, execroot = top / "data", top / "exec"
        data.mkdir()
        execroot.mkdir()
        bridge = _make_bridge(bridge_ip) if bridge_ip else ""
        argv: Sequence[str] = [
            binary,
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            f"--bridge={bridge or 'none'}",
            "--storage-driver=overlay2",
            "--data-root", str(data),
            "--exec-root", str(execroot),
            "--pidfile", str(top / "dockerd.pid"),
            "--host", f"unix://{sock}",
            "--containerd-namespace", name,
            "--containerd-plugins-namespace", name + "-plugins",
        ]  # fmt: skip
        try:
            with open(top / "dockerd.log", "ab") as log:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
                )
        except BaseException:
            _delete_bridge(bridge)
            raise
        daemon = cls(proc, top, sock, client, bridge)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while not daemon.up():
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = daemon.log.read_text(errors="replace").splitlines()[-15:]
                    raise DockerdUnavailable("dockerd did not come up:\n" + "\n".join(tail))
                time.sleep(0.2)
        except BaseException:
            daemon.stop()
            raise
        return daemon

    def stop(self) -> None:
        """End the daemon and remove everything it had (mounts, dirs, socket)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        unmount_under(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.sock.unlink()
        _delete_bridge(self.bridge)


def _make_bridge(address: str) -> str:
    """A ``dyt…`` Linux bridge with ``address`` (a/prefix), up; its name."""
    name = "dyt" + os.urandom(4).hex()
    steps = (
        ["ip", "link", "add", name, "type", "bridge"],
        ["ip", "addr", "add", address, "dev", name],
        ["ip", "link", "set", name, "up"],
    )
    for i, step in enumerate(steps):
        res = subprocess.run(step, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            if i:
                _delete_bridge(name)
            raise DockerdUnavailable(f"{' '.join(step)}: {res.stderr.strip()}")
    return name


def _delete_bridge(name: str) -> None:
    if name:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


def _client_env(host: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_HOST"] = host
    env["DOCKER_CLI_HINTS"] = "false"
    env["DOCKER_BUILDKIT"] = "0"  # builds go to the legacy builder, the reference
    return env


def unmount_under(top: Path) -> None:
    """Detach every mount on or below ``top``, deepest first."""
    prefix = str(top) + "/"
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split(" ", 5)[4]
            if point == str(top) or point.startswith(prefix):
                points.append(point)
    for point in sorted(points, key=len, reverse=True):
        with contextlib.suppress(OSError):
            km.umount(point, km.MNT_DETACH)


@contextlib.contextmanager
def running(base: Path | None = None) -> Iterator[Dockerd]:
    """A private dockerd for the ``with`` block; stopped and removed on the way out."""
    daemon = Dockerd.start(base)
    try:
        yield daemon
    finally:
        daemon.stop()
