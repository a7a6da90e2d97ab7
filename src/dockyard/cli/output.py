"""Everything the CLI prints goes through here, shaped like the docker CLI's output.

Tables use the layout of Go's ``text/tabwriter`` as docker configures it (min width 10,
padding 3); sizes and durations follow docker's ``go-units``. Only this module writes
to stdout/stderr.
"""

from __future__ import annotations

import sys
import time

from dockyard._internal.humanize import human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from dockyard.cli.template import Template

_SIZE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


# -- writing


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def write(text: str) -> None:
    sys.stdout.write(text)


def flush() -> None:
    """Push out what ``write`` buffered (a redrawn screen must show at once)."""
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(text + "\n")


def write_bytes(data: bytes, stream: int = 1) -> None:
    """Container output as it arrives: stream 2 to stderr, anything else to stdout."""
    target = sys.stderr if stream == 2 else sys.stdout
    target.flush()
    target.buffer.write(data)
    target.buffer.flush()


def traceback() -> None:
    """The exception being handled, for ``--debug``."""
    import traceback as tb

    tb.print_exc(file=sys.stderr)


def write_stream(chunks: Iterable[bytes], path: str | None = None) -> None:
    """Binary output (``save``) to stdout, or to ``path`` through a temporary file renamed
    into place at the end (as docker does), so a failed save leaves no half file."""
    if path is None:
        sys.stdout.flush()
        target = sys.stdout.buffer
        for chunk in chunks:
            target.write(chunk)
        target.flush()
        return
    import os

    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{base}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def confirm(question: str) -> bool:
    """docker's ``[y/N]`` prompt; anything but y/yes (or no input) is a no."""
    write(f"{question} [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


# -- tables


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Align tab-separated cells like Go's ``tabwriter.NewWriter(w, minwidth, 1, padding,
    ' ', 0)``: a cell ends at a tab; the last cell of a line is not aligned; a column
    block is a run of consecutive lines that have that column.
    """
    trailing = text.endswith("\n")
    rows = [line.split("\t") for line in (text[:-1] if trailing else text).split("\n")]
    outl: list[str] = []
    _format(rows, [], 0, len(rows), minwidth, padding, outl)
    return "\n".join(outl) + ("\n" if trailing else "")


def _format(
    rows: list[list[str]],
    widths: list[int],
    line0: int,
    line1: int,
    minwidth: int,
    padding: int,
    outl: list[str],
) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(rows[this]) - 1:
            this += 1
            continue
        _write_lines(rows, widths, line0, this, outl)
        line0 = this
        width = minwidth
        while this < line1 and column < len(rows[this]) - 1:
            width = max(width, len(rows[this][column]) + padding)
            this += 1
        widths.append(width)
        _format(rows, widths, line0, this, minwidth, padding, outl)
        widths.pop()
        line0 = this
    _write_lines(rows, widths, line0, line1, outl)


def _write_lines(
    rows: list[list[str]], widths: list[int], line0: int, line1: int, outl: list[str]
) -> None:
    for row in rows[line0:line1]:
        parts = [cell.ljust(widths[j]) if j < len(widths) else cell for j, cell in enumerate(row)]
        outl.append("".join(parts))


def table(headers: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["\t".join(headers)] + ["\t".join(row) for row in rows]
    return tabwrite("\n".join(lines) + "\n")


def print_table(headers: list[str], rows: Iterable[list[str]]) -> None:
    write(table(headers, rows))


def print_tabbed(text: str, minwidth: int = 10, padding: int = 3) -> None:
    write(tabwrite(text, minwidth, padding))


def render_rows(
    fmt: str,
    rows: list[dict[str, Any]],
    headers: dict[str, str],
    context: str = "",
    prefix: str = "template parsing error: ",
) -> str:
    """Rows through a ``--format`` template; a ``table`` one gets a header line and
    tabwriter alignment (docker's formatter.Context). ``context`` names the row's Go
    type in the message for a field that rows do not have; ``prefix`` starts it."""
    from dockyard.cli.template import Row, Template

    tmpl = Template(fmt, listing=True)
    lines = []
    if tmpl.table:
        header = {key: headers.get(key, "") for key in (rows[0] if rows else headers)}
        header.update(headers)
        lines.append(tmpl.render(header) + "\n")
    for row in rows:
        # docker marshals a row's fields as a map: ``{{json .}}`` has them sorted
        ordered = Row((key, row[key]) for key in sorted(row))
        text = tmpl.render(ordered, strict=True, context=context, prefix=prefix)
        lines.append(text + "\n")
    text = "".join(lines)
    return tabwrite(text) if tmpl.table else text


def list_format(quiet: bool, given: str | None, table: str) -> str:
    """The template a listing prints with: ids for ``-q``, else ``--format``, else ``table``."""
    if quiet:
        return "{{.ID}}"
    if given and given != "table":
        return given
    return table


def print_rows(
    fmt: str,
    rows: list[dict[str, Any]],
    headers: dict[str, str],
    context: str = "",
    prefix: str = "template parsing error: ",
) -> None:
    write(render_rows(fmt, rows, headers, context, prefix))


def render_objects(fmt: str | None, objects: list[Any], context: str = "", name: str = "") -> str:
    """``inspect``: a JSON array indented by 4 (docker's), or the template per object:
    a missing key is an error, as docker's inspect runs templates with
    ``missingkey=error``; ``context`` (``version``/``info``, whose data docker holds in a
    struct) makes it docker's "can't evaluate field" instead. ``name``: the template's."""
    if fmt is None or fmt == "":
        import json

        return json.dumps(objects, indent=4, ensure_ascii=False) + "\n"
    from dockyard.cli.template import Template

    if context:
        tmpl = Template(fmt, name=name)
        return "".join(tmpl.render(o, strict=True, context=context) + "\n" for o in objects)
    tmpl = Template(fmt)
    return "".join(render_object(tmpl, obj) for obj in objects)


def render_object(tmpl: Template, obj: Any) -> str:
    """One inspected object through a template, as docker's inspect runs it."""
    return tmpl.render(obj, missing="error", prefix="template parsing error: ") + "\n"


def inspect_each(fmt: str | None, refs: list[str], fetch: Callable[[str], Any]) -> None:
    """``<object> inspect REF...``: each found object as JSON or through ``fmt``; the refs
    the daemon does not know are reported after them and fail the command (docker's)."""
    from dockyard.cli.errors import CommandFailed
    from dockyard.client.errors import APIError

    found: list[Any] = []
    errors: list[str] = []
    for ref in refs:
        try:
            found.append(fetch(ref))
        except APIError as e:
            if not e.not_found:
                raise
            errors.append(f"Error response from daemon: {e.message}")
    if found or not fmt:
        print_objects(fmt, found)
    if errors:
        raise CommandFailed("\n".join(errors))


def print_objects(fmt: str | None, objects: list[Any], context: str = "", name: str = "") -> None:
    from dockyard.cli.template import TemplateError

    try:
        write(render_objects(fmt, objects, context, name))
    except TemplateError:
        if context:
            write("\n")  # docker's version/info print an empty line before the error
        raise


def print_json(value: Any) -> None:
    import json

    out(json.dumps(value, ensure_ascii=False))


# -- docker's units


def human_size(size: float, precision: int = 3) -> str:
    """go-units ``HumanSizeWithPrecision``: decimal units, ``precision`` significant digits
    (docker images/history use 3: "4.26MB"; ``HumanSize`` is 4: "16.43MB")."""
    i = 0
    size = float(size)
    while size >= 1000.0 and i < len(_SIZE_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_SIZE_UNITS[i]}"


def bytes_size(size: float) -> str:
    """go-units ``BytesSize``: binary units, 4 significant digits ("7.698GiB")."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    i = 0
    size = float(size)
    while size >= 1024.0 and i < len(units) - 1:
        size /= 1024.0
        i += 1
    return f"{size:.4g}{units[i]}"


def since(timestamp: float, now: float | None = None) -> str:
    """ "2 hours ago" for a unix time, as docker's ``CreatedSince``."""
    return human_duration((time.time() if now is None else now) - timestamp) + " ago"


def local_time(timestamp: float) -> str:
    """Go's ``time.Unix(t, 0).String()``: "2024-05-01 10:00:00 +0200 CEST"."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(timestamp))


def rfc3339(timestamp: float) -> str:
    """Go's ``time.Format(time.RFC3339)`` in local time: "2024-05-01T10:00:00+02:00"."""
    t = time.localtime(timestamp)
    off = t.tm_gmtoff or 0
    if off == 0:
        zone = "Z"
    else:
        sign = "+" if off > 0 else "-"
        zone = f"{sign}{abs(off) // 3600:02d}:{abs(off) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + zone


def go_time_string(rfc3339_time: str) -> str:
    """Go's ``Time.String()`` of a time decoded from the API's RFC 3339 text:
    "2026-11-27 21:36:34.606891566 +0000 UTC" (trailing zeros of the fraction dropped,
    the offset kept as sent). Text that is not such a time comes back as it is."""
    text = rfc3339_time.strip()
    if len(text) < 20 or text[10] != "T":
        return text
    date, clock = text[:10], text[11:]
    zone = "Z" if clock.endswith("Z") else clock[-6:]
    clock = clock[: -len(zone)]
    whole, _, frac = clock.partition(".")
    frac = frac.rstrip("0")
    if zone == "Z":
        offset, name = "+0000", "UTC"
    else:
        offset = zone.replace(":", "")
        name = offset
    return f"{date} {whole}{'.' + frac if frac else ''} {offset} {name}"


def natural_key(text: str) -> list[tuple[int, int, str, int]]:
    """A sort key for ``sortorder.NaturalLess`` (docker's order of volumes and networks):
    numbers by value (digits before other characters, fewer leading zeros first), the
    rest byte by byte."""
    key: list[tuple[int, int, str, int]] = []
    i = 0
    while i < len(text):
        if text[i].isdigit():
            j = i
            while j < len(text) and text[j] == "0":
                j += 1
            k = j
            while k < len(text) and text[k].isdigit():
                k += 1
            key.append((0, k - j, text[j:k], j - i))
            i = k
        else:
            key.append((1, 0, text[i], 0))
            i += 1
    return key


def truncate_id(image_id: str) -> str:
    """docker's ``stringid.TruncateID``: no algorithm prefix, 12 hex digits."""
    return image_id.partition(":")[2][:12] if ":" in image_id else image_id[:12]


def ellipsis(text: str, width: int) -> str:
    """docker's ``formatter.Ellipsis`` for single-width text: cut to ``width`` with "…"."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    if width == 1:
        return text[0]
    return text[: width - 1] + "…"


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` for the common cases (docker quotes the COMMAND column)."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
