"""The line protocol between the runtime and the container's init while it is set up.

Messages are ``<tag> <payload>\\n`` on a pair of pipes; payloads are one line.
"""

from __future__ import annotations

import os


class Channel:
    __slots__ = ("_buf", "rfd", "wfd")

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self._buf = b""

    def send(self, tag: str, payload: str = "") -> None:
        line = f"{tag} {payload}".replace("\n", " ") + "\n"
        os.write(self.wfd, line.encode())

    def recv(self) -> tuple[str, str]:
        """The next message, or ("eof", "") once every writer has gone."""
        while b"\n" not in self._buf:
            chunk = os.read(self.rfd, 4096)
            if not chunk:
                return "eof", ""
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        tag, _, payload = line.decode().partition(" ")
        return tag, payload

    def expect(self, tag: str) -> str:
        got, payload = self.recv()
        if got != tag:
            raise ChannelError(got, payload)
        return payload

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            try:
                os.close(fd)
            except OSError:
                pass


class ChannelError(Exception):
    """The other side said something else than expected (usually 'error <why>')."""

    def __init__(self, tag: str, payload: str) -> None:
        super().__init__(payload if tag == "error" else f"unexpected {tag!r} from init")
        self.tag = tag
