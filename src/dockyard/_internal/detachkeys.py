"""Docker's detach keys (``ctrl-p,ctrl-q``): parsing, and a scanner over a stdin stream.

Both ends use it: the daemon ends an attach when the sequence arrives on stdin, and the
CLI stops forwarding its terminal and reports "read escape sequence".
"""

from __future__ import annotations

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"


def parse_detach_keys(spec: str) -> bytes:
    """``ctrl-p,ctrl-q`` -> b"\\x10\\x11"; a single character stands for itself.

    ``ctrl-`` takes a-z, @, [, \\, ], ^ and _ (as Docker's ``term.ToBytes``); anything
    else is a ValueError.
    """
    out = bytearray()
    for key in spec.split(","):
        key = key.strip()
        if len(key) == 1:
            out.append(ord(key))
            continue
        low = key.lower()
        if low.startswith("ctrl-") and len(key) == 6:
            ch = low[5]
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
                continue
            specials = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if ch in specials:
                out.append(specials[ch])
                continue
        raise ValueError(f"invalid detach key {key!r}: use a character or ctrl-<letter>")
    return bytes(out)


class EscapeScanner:
    """Finds the detach sequence across the chunks of a stream.

    ``feed(data)`` returns ``(forward, detached)``: the bytes to pass on, and whether the
    whole sequence has been read. A partial match is held back until it either
    completes (and is swallowed) or fails (and is passed on).
    """

    __slots__ = ("_held", "keys")

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        out = bytearray()
        for byte in data:
            b = bytes((byte,))
            candidate = self._held + b
            if self.keys.startswith(candidate):
                self._held = candidate
                if candidate == self.keys:
                    self._held = b""
                    return bytes(out), True
                continue
            out += self._held
            self._held = b""
            if self.keys.startswith(b):
                self._held = b
            else:
                out += b
        return bytes(out), False
