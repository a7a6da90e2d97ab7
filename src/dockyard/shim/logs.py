"""The json-file log driver, compatible with Docker's ``<id>-json.log``.

Each line of the file is one entry ``{"log": "...", "stream": "stdout", "time":
"<RFC 3339 with nanoseconds>"}``; output is cut at newlines (a line longer than
``MAX_LINE`` is written in pieces, the last piece carries the newline). Rotation, as
Docker's ``max-size``/``max-file``: when the file reaches ``max_size`` it becomes
``<file>.1``, older ones shift up and the one beyond ``max_file - 1`` is dropped. The
writer is used by the shim, ``read_entries``/``LogTail`` by the engine.
"""

from __future__ import annotations

import calendar
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_LINE = 16 * 1024
STREAMS = {1: "stdout", 2: "stderr"}
STREAM_IDS = {"stdout": 1, "stderr": 2}


def rfc3339_nano(ns: int) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{frac:09d}Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of a UTC RFC 3339 time (as the writer writes them)."""
    head, _, frac = text.rstrip("Z").partition(".")
    base = calendar.timegm(time.strptime(head[:19], "%Y-%m-%dT%H:%M:%S"))
    return base + (int(frac[:9].ljust(9, "0")) / 1e9 if frac else 0.0)


def parse_size(text: str) -> int:
    """Docker's ``max-size`` (``10m``, ``512k``, ``1g``, plain bytes); 0 for none."""
    value = text.strip().lower().rstrip("b")
    if not value or value == "-1":
        return 0
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    if value[-1] in units:
        return int(float(value[:-1]) * units[value[-1]])
    return int(value)


class JsonFileWriter:
    """Appends entries to the log file; whole lines only, except at ``flush``."""

    def __init__(self, path: Path, max_size: int = 0, max_file: int = 1) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self._pending: dict[int, bytes] = {1: b"", 2: b""}
        self._file: IO[bytes] = open(path, "ab")  # noqa: SIM115 - kept open for appends
        self._size = self._file.tell()

    def write(self, stream: int, data: bytes) -> None:
        buf = self._pending[stream] + data
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            self._entry(stream, buf[: nl + 1])
            buf = buf[nl + 1 :]
        while len(buf) >= MAX_LINE:
            self._entry(stream, buf[:MAX_LINE])
            buf = buf[MAX_LINE:]
        self._pending[stream] = buf
        self._file.flush()

    def flush(self) -> None:
        """Write out partial lines (at the end of the output)."""
        for stream, buf in self._pending.items():
            if buf:
                self._entry(stream, buf)
        self._pending = {1: b"", 2: b""}
        self._file.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()

    def _entry(self, stream: int, data: bytes) -> None:
        line = json.dumps(
            {
                "log": data.decode("utf-8", "replace"),
                "stream": STREAMS[stream],
                "time": rfc3339_nano(time.time_ns()),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        self._file.write(line + b"\n")
        self._size += len(line) + 1
        if self.max_size and self._size >= self.max_size:
            self._rotate()

    def _rotate(self) -> None:
        self._file.close()
        if self.max_file > 1:
            for n in range(self.max_file - 1, 0, -1):
                older = Path(f"{self.path}.{n}")
                if n == self.max_file - 1:
                    older.unlink(missing_ok=True)
                if n > 1:
                    prev = Path(f"{self.path}.{n - 1}")
                    if prev.exists():
                        prev.rename(older)
            self.path.rename(f"{self.path}.1")
        else:
            self.path.unlink(missing_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115
        self._size = 0


@dataclass(frozen=True)
class LogEntry:
    stream: int
    data: bytes
    time: float
    time_text: str


def parse_entry(line: bytes) -> LogEntry | None:
    try:
        doc = json.loads(line)
        text = doc["time"]
        return LogEntry(
            STREAM_IDS.get(doc.get("stream", "stdout"), 1),
            doc["log"].encode(),
            parse_rfc3339(text),
            text,
        )
    except (ValueError, KeyError, TypeError):
        return None  # a torn or foreign line


def log_files(path: Path) -> list[Path]:
    """The rotated files and the current one, oldest first."""
    rotated = []
    n = 1
    while Path(f"{path}.{n}").exists():
        rotated.append(Path(f"{path}.{n}"))
        n += 1
    return [*reversed(rotated), path]


def read_entries(path: Path) -> list[LogEntry]:
    out = []
    for p in log_files(path):
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            continue
        for line in data.splitlines():
            entry = parse_entry(line)
            if entry is not None:
                out.append(entry)
    return out


class LogTail:
    """Follows the current file from its end (or from ``offset``) across rotations."""

    def __init__(self, path: Path, offset: int | None = None) -> None:
        self.path = path
        self._file: IO[bytes] | None = None
        self._partial = b""
        try:
            self._file = open(path, "rb")  # noqa: SIM115
            self._file.seek(0, os.SEEK_END) if offset is None else self._file.seek(offset)
        except FileNotFoundError:
            self._file = None

    def poll(self) -> list[LogEntry]:
        out: list[LogEntry] = []
        if self._file is None:
            try:
                self._file = open(self.path, "rb")  # noqa: SIM115
            except FileNotFoundError:
                return out
        out += self._read()
        try:
            rotated = os.stat(self.path).st_ino != os.fstat(self._file.fileno()).st_ino
        except FileNotFoundError:
            rotated = False
        if rotated:
            self._file.close()
            self._partial = b""
            self._file = open(self.path, "rb")  # noqa: SIM115
            out += self._read()
        return out

    def _read(self) -> list[LogEntry]:
        assert self._file is not None
        data = self._partial + self._file.read()
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [e for e in map(parse_entry, lines) if e is not None]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
