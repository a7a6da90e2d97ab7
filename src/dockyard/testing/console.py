"""A console-socket receiver: what ``--console-socket`` of an OCI runtime talks to.

The runtime connects to the unix socket and sends the pty master as SCM_RIGHTS; the
receiver keeps it and collects whatever the container writes to its terminal.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType


class ConsoleSocket:
    """Listen on a fresh socket path; a thread receives the master and reads it to EOF."""

    def __init__(self, directory: Path | None = None) -> None:
        # sun_path is at most 107 bytes: keep the socket in a short private directory.
        self._dir = Path(tempfile.mkdtemp(prefix="console-", dir=directory or "/tmp"))
        self.path = self._dir / "sock"
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(1)
        self._server.settimeout(10)
        self.master: int | None = None
        self._output = bytearray()
        self._got_master = threading.Event()
        self._done = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self._server.accept()
            with conn:
                _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
            if not fds:
                raise RuntimeError("console socket: no file descriptor received")
            self.master = fds[0]
            self._got_master.set()
            while True:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: every slave end is closed
                    break
                if not chunk:
                    break
                self._output += chunk
        except BaseException as e:  # reported to the test through .error
            self.error = e
        finally:
            self._got_master.set()
            self._done.set()

    def write(self, data: bytes) -> None:
        if not self._got_master.wait(5) or self.master is None:
            raise RuntimeError(f"console socket: no pty master received ({self.error})")
        os.write(self.master, data)

    def output(self, timeout: float = 5.0) -> str:
        """Everything the container wrote, once the terminal is closed (or ``timeout``)."""
        self._done.wait(timeout)
        return self._output.decode(errors="replace")

    def wait_for(self, text: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while text.encode() not in self._output and time.monotonic() < deadline:
            if self._done.is_set():
                break
            time.sleep(0.02)
        return self._output.decode(errors="replace")

    def close(self) -> None:
        self._server.close()
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
        self._thread.join(2)
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self._dir.rmdir()

    def __enter__(self) -> ConsoleSocket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
