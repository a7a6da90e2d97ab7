"""A thin wrapper over a runc-compatible OCI runtime CLI: ours, runc or crun.

Every call passes ``--root`` to a private state directory, so state never mixes with the
host's; every container id the wrapper was asked to create is remembered, and
``cleanup()`` force-deletes them all and removes the state directory.
"""

from __future__ import annotations

import builtins
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

NAMES = ("dockyard", "runc", "crun")
BINARIES = {"dockyard": "dockyard-runtime", "runc": "runc", "crun": "crun"}
TIMEOUT = 10.0

Result = subprocess.CompletedProcess[str]


def binary_of(name: str) -> str:
    """The runtime's executable: on PATH, else (ours) next to the running interpreter."""
    exe = BINARIES.get(name, name)
    found = shutil.which(exe)
    if found:
        return found
    beside = Path(sys.executable).parent / exe
    return str(beside) if beside.exists() else exe


def _with_fds(cmd: list[str], files: Sequence[Path]) -> list[str]:
    """Wrap ``cmd`` in a shell that opens ``files`` for appending as fds 3, 4, ..."""
    if not files:
        return cmd
    redirs = " ".join(f'{3 + i}>>"${i + 1}"' for i in range(len(files)))
    n = len(files)
    script = f'exec {redirs} && shift {n} && exec "$@"'
    return ["/bin/sh", "-c", script, "sh", *map(str, files), *cmd]


@dataclass
class Runtime:
    name: str
    binary: str
    root: Path
    created: list[str] = field(default_factory=list)

    @classmethod
    def named(cls, name: str, root: Path) -> Runtime:
        return cls(name, binary_of(name), root)

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.root), *args]

    def call(
        self,
        *args: str,
        timeout: float = TIMEOUT,
        input: str | None = None,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        fds: Sequence[Path] = (),
    ) -> Result:
        """Run one runtime command and answer its exit status and output."""
        self.root.mkdir(parents=True, exist_ok=True)
        return subprocess.run(
            _with_fds(self.argv(*args), fds),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE if stdout == subprocess.PIPE else subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )

    # -------------------------------------------------------------- lifecycle verbs
    def _remember(self, cid: str) -> None:
        if cid not in self.created:
            self.created.append(cid)

    def _create_opts(
        self, pid_file: Path | None, console_socket: Path | None, fds: Sequence[Path]
    ) -> list[str]:
        opts = []
        if pid_file is not None:
            opts += ["--pid-file", str(pid_file)]
        if console_socket is not None:
            opts += ["--console-socket", str(console_socket)]
        if fds:
            opts += ["--preserve-fds", str(len(fds))]
        return opts

    def run(
        self,
        cid: str,
        bundle: Path,
        *,
        detach: bool = False,
        pid_file: Path | None = None,
        console_socket: Path | None = None,
        fds: Sequence[Path] = (),
        stdio: Path | None = None,
        timeout: float = TIMEOUT,
    ) -> Result:
        """``run``: foreground output is captured; ``stdio`` sends it to a file instead
        (needed with ``detach``, or the container would hold our pipe open)."""
        self._remember(cid)
        opts = ["-b", str(bundle), *self._create_opts(pid_file, console_socket, fds)]
        if detach:
            opts.append("--detach")
        if stdio is None:
            return self.call("run", *opts, cid, timeout=timeout, fds=fds)
        with open(stdio, "a") as out:
            return self.call("run", *opts, cid, timeout=timeout, fds=fds, stdout=out)

    def popen_run(self, cid: str, bundle: Path) -> subprocess.Popen[str]:
        """``run`` in the background (for signalling the container while it runs)."""
        self._remember(cid)
        self.root.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(
            self.argv("run", "-b", str(bundle), cid),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def create(
        self,
        cid: str,
        bundle: Path,
        *,
        stdio: Path | None = None,
        pid_file: Path | None = None,
        console_socket: Path | None = None,
        fds: Sequence[Path] = (),
    ) -> Result:
        """``create``: the container's stdout/stderr (and the runtime's) go to ``stdio``
        (default ``<root>/<cid>.out``), never to a pipe that the container would hold.
        The result's stdout is the whole file; its stderr is what this call appended
        (where the runtime's own error lands)."""
        self._remember(cid)
        self.root.mkdir(parents=True, exist_ok=True)
        out_path = stdio or self.root / f"{cid}.out"
        opts = ["-b", str(bundle), *self._create_opts(pid_file, console_socket, fds)]
        before = out_path.stat().st_size if out_path.exists() else 0
        with open(out_path, "a") as out:
            res = self.call("create", *opts, cid, stdout=out, fds=fds)
        text = out_path.read_text()
        return subprocess.CompletedProcess(res.args, res.returncode, text, text[before:])

    def start(self, cid: str) -> Result:
        return self.call("start", cid)

    def state(self, cid: str) -> Result:
        return self.call("state", cid)

    def state_json(self, cid: str) -> dict[str, Any]:
        res = self.state(cid)
        if res.returncode != 0:
            raise AssertionError(f"{self.name} state {cid} failed: {res.stderr.strip()}")
        state: dict[str, Any] = json.loads(res.stdout)
        return state

    def wait_status(self, cid: str, status: str, timeout: float = 3.0) -> dict[str, Any]:
        """Poll ``state`` until it reports ``status``; answer the last state seen."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.state_json(cid)
            if state.get("status") == status or time.monotonic() > deadline:
                return state
            time.sleep(0.02)

    def kill(self, cid: str, sig: str | int = "TERM", all_procs: bool = False) -> Result:
        sig_name = signal.Signals(sig).name[3:] if isinstance(sig, int) else sig
        return self.call("kill", *(["--all"] if all_procs else []), cid, sig_name)

    def delete(self, cid: str, force: bool = False) -> Result:
        return self.call("delete", *(["--force"] if force else []), cid)

    def exec(
        self,
        cid: str,
        args: Sequence[str] = (),
        *,
        env: Sequence[str] = (),
        cwd: str | None = None,
        process: Path | None = None,
        detach: bool = False,
    ) -> Result:
        opts: list[str] = []
        for e in env:
            opts += ["--env", e]
        if cwd is not None:
            opts += ["--cwd", cwd]
        if process is not None:
            opts += ["--process", str(process)]
        if detach:
            opts.append("--detach")
        return self.call("exec", *opts, cid, *args)

    def ps(self, cid: str, fmt: str = "json") -> Result:
        return self.call("ps", "--format", fmt, cid)

    def pause(self, cid: str) -> Result:
        return self.call("pause", cid)

    def resume(self, cid: str) -> Result:
        return self.call("resume", cid)

    def list(self, fmt: str = "json") -> Result:
        return self.call("list", "--format", fmt)

    # -------------------------------------------------------------- cleanup
    def cleanup(self) -> builtins.list[str]:
        """Force-delete every container this wrapper created; remove the state dir.

        Answers the ids that ``state`` still knows after a failed ``delete --force``.
        """
        stuck = []
        for cid in self.created:
            try:
                deleted = self.delete(cid, force=True).returncode == 0
                if not deleted and self.state(cid).returncode == 0:
                    stuck.append(cid)
            except subprocess.TimeoutExpired:
                stuck.append(cid)
        self.created.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        return stuck
