"""``dockyard events`` / ``dockyard system events``: the daemon's events as they happen.

``--since``/``--until`` take what docker's take (a duration ago such as ``10m``, an RFC
3339 time, unix seconds) and send unix seconds, as the docker CLI does. Each event is
printed as docker prints it: ``<local RFC 3339 time with nanoseconds> <type> <action>
<actor id> (<attributes sorted, key=value>)``, or through ``--format``. ``{{json .}}``
prints the message as the daemon sent it (docker's JSON field names); other templates
read docker's Go field names (``.Type``, ``.Action``, ``.Actor.ID``, ``.Status``, ``.ID``,
``.From``, ``.Scope``, ``.Time``, ``.TimeNano``).
"""

from __future__ import annotations

from dockyard.cli import output
from dockyard.cli.flags import LIST, STRING, Command, Flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from dockyard.cli.context import Context
    from dockyard.cli.template import Template

EVENTS = Command(
    "events",
    "[OPTIONS]",
    "Get real time events from the server",
    [
        Flag("filter", "f", LIST, "Filter output based on conditions provided"),
        Flag(
            "format", kind=STRING, help="Format output using a custom template ('json', TEMPLATE)"
        ),
        Flag("since", kind=STRING, help="Show all events created since timestamp"),
        Flag("until", kind=STRING, help="Stream events until this timestamp"),
    ],
    max_args=0,
    aliases=("dockyard system events",),
)

JSON_FORMATS = ("json", "{{json .}}")


def events(ctx: Context, argv: list[str]) -> int:
    from dockyard.cli.containers import time_arg
    from dockyard.cli.images import parse_filters

    opts, _ = EVENTS.parse(argv)
    raw_json = (opts["format"] or "").strip() in JSON_FORMATS
    template = None if raw_json else _template(opts["format"])
    filters = parse_filters(opts["filter"], "events")
    query = {
        "since": time_arg(opts["since"]),
        "until": time_arg(opts["until"]),
        "filters": _encode(filters),
    }
    for message in _stream(ctx, query):
        output.out(render(message, template, raw_json))
        output.flush()
    return 0


def _template(fmt: str | None) -> Template | None:
    """None for docker's line format and for ``{{json .}}``'s raw message."""
    if not fmt or fmt.strip() in JSON_FORMATS:
        return None
    from dockyard.cli.template import Template

    template = Template(fmt)
    template.render(go_fields({}))  # a bad template fails before connecting, as docker's
    return template


def _encode(filters: dict[str, list[str]]) -> str | None:
    import json

    return json.dumps(filters) if filters else None


def _stream(ctx: Context, query: dict[str, str | None]) -> Iterator[dict[str, Any]]:
    resp = ctx.client().transport.request("GET", "/events", query=query)
    for message in resp.messages():
        if isinstance(message, dict):
            yield message


def render(message: dict[str, Any], template: Template | None, raw_json: bool = False) -> str:
    """One event as ``docker events`` prints it (``raw_json``: ``{{json .}}``)."""
    if raw_json:  # Go's encoding of the message: its own key order, HTML escaped
        import json

        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if template is not None:
        return template.render(go_fields(message))
    return pretty(message)


def pretty(message: dict[str, Any]) -> str:
    """docker's ``prettyPrintEvent``: time, type, action, actor, sorted attributes."""
    actor = message.get("Actor") or {}
    parts = []
    nano = int(message.get("timeNano") or 0) or int(message.get("time") or 0) * 10**9
    if nano:
        parts.append(rfc3339_nano(nano))
    parts.append(
        f"{message.get('Type', '')} {message.get('Action', '')} {actor.get('ID', '')}".rstrip()
    )
    line = " ".join(parts)
    attributes = actor.get("Attributes") or {}
    if attributes:
        line += " (" + ", ".join(f"{k}={attributes[k]}" for k in sorted(attributes)) + ")"
    return line


def rfc3339_nano(nano: int) -> str:
    """Go's ``RFC3339NanoFixed`` in local time: ``2026-11-27T20:00:00.000000000Z``."""
    import time

    seconds, fraction = divmod(nano, 10**9)
    t = time.localtime(seconds)
    off = t.tm_gmtoff or 0
    if off == 0:
        zone = "Z"
    else:
        sign = "+" if off > 0 else "-"
        zone = f"{sign}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{fraction:09d}" + zone


def go_fields(message: dict[str, Any]) -> dict[str, Any]:
    """The message under docker's Go field names (what templates read)."""
    actor = message.get("Actor") or {}
    return {
        "Status": message.get("status", ""),
        "ID": message.get("id", ""),
        "From": message.get("from", ""),
        "Type": message.get("Type", ""),
        "Action": message.get("Action", ""),
        "Actor": {"ID": actor.get("ID", ""), "Attributes": actor.get("Attributes") or {}},
        "Scope": message.get("scope", ""),
        "Time": message.get("time", 0),
        "TimeNano": message.get("timeNano", 0),
    }
