"""Docker's ``filters`` query parameter: JSON of ``map[string][]string``.

Clients send two encodings: docker-py and the API docs a list per key
(``{"dangling": ["true"]}``), the Docker CLI a set per key (``{"dangling": {"true": true}}``).
Both decode to ``{"dangling": ["true"]}``.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.errors import InvalidArgument


def parse_filters(raw: str | None) -> dict[str, list[str]]:
    """The filters of a query value (None or empty: none); InvalidArgument if malformed."""
    if not raw:
        return {}
    try:
        doc: Any = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"invalid filters: not valid JSON: {e}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid filters: expected a JSON object of name -> values")
    out: dict[str, list[str]] = {}
    for key, values in doc.items():
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            out[key] = list(values)
        elif isinstance(values, dict):
            out[key] = [v for v, on in values.items() if on]
        elif isinstance(values, str):
            out[key] = [values]
        else:
            raise InvalidArgument(
                f"invalid filters: {key!r} must be a list of strings, got {json.dumps(values)}"
            )
    return out
