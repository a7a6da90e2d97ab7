"""JSON through the stdlib's C codec without importing ``json``.

``import json`` pulls in ``re`` and ``enum`` (about 5 ms), which is a third of the
runtime's whole start-up budget. The C scanner and encoder in ``_json`` need neither.
Output matches ``json.dumps``/``json.loads`` for the plain data Dockyard stores
(dicts, lists, str, int, float, bool, None); the unit tests compare both.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _no_constants(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


class _DecodeContext:
    # the attributes _json.make_scanner reads
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constants)
    memo: dict[str, str] = {}


_scan = _json.make_scanner(_DecodeContext())  # type: ignore[arg-type]
_WS = " \t\n\r"


def _line_col(doc: str, pos: int) -> str:
    line = doc.count("\n", 0, pos) + 1
    col = pos - doc.rfind("\n", 0, pos)
    return f"line {line} column {col}"


def loads(doc: str | bytes) -> Any:
    """Parse a JSON document; errors are ValueError naming the line and column."""
    text = doc.decode() if isinstance(doc, bytes) else doc
    start = len(text) - len(text.lstrip(_WS))
    try:
        obj, end = _scan(text, start)
    except StopIteration as e:
        raise ValueError(f"invalid JSON at {_line_col(text, e.value)}") from None
    except ValueError as e:
        raise ValueError(f"invalid JSON: {e}") from None
    rest = len(text) - len(text.rstrip(_WS))
    if end != len(text) - rest:
        raise ValueError(f"invalid JSON: extra data at {_line_col(text, end)}")
    return obj


_compact = _json.make_encoder(
    None, _no_constants, _json.encode_basestring_ascii, None, ":", ",", False, False, False
)
_spaced = _json.make_encoder(
    None, _no_constants, _json.encode_basestring_ascii, None, ": ", ", ", False, False, False
)


def dumps(obj: Any, compact: bool = True) -> str:
    """Serialise like ``json.dumps(obj, separators=(",", ":"))`` (or the default spacing)."""
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj)
    return "".join((_compact if compact else _spaced)(obj, 0))
