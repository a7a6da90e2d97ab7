"""The values and functions of ``--format`` templates (``template.py`` runs them): how
Go prints a value (``go_string``), docker's ``json``, Go's truth, and the functions
templates call: Go's builtins (``and or not len index slice eq ne lt le gt ge print
printf println``) and docker's (``json join split title lower upper pad truncate``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


class _Missing:
    """A value that is not there (Go's invalid reflect.Value): prints ``<no value>``."""

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()


class ExecError(Exception):
    """A failure while executing, before the ``template: :L:C: executing ...`` prefix."""


def go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "float64" if isinstance(value, float) else "int"


def truth(value: Any) -> bool:
    """Go template truth: false, 0, nil, "" and empty lists and maps are false."""
    if value is MISSING:
        return False
    return bool(value)


def go_string(value: Any) -> str:
    """How Go's template prints a value (``fmt.Print`` of decoded JSON)."""
    if value is None or value is MISSING:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return "[" + " ".join(_inner(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_inner(value[k])}" for k in sorted(value)) + "]"
    return str(value)


def _inner(value: Any) -> str:
    # inside a list or map, Go's fmt prints nil as <nil>
    return "<nil>" if value is None else go_string(value)


class GoNames(dict):  # type: ignore[type-arg]
    """An object whose Go struct field names differ from its JSON names for some
    fields (``version``'s ``.Server.APIVersion`` is JSON ``ApiVersion``): templates
    read either, ``{{json .}}`` writes the JSON ones."""

    def __init__(self, doc: dict[str, Any], names: dict[str, str]) -> None:
        super().__init__(doc)
        self.go_names = names  # Go name -> JSON name


class Row(dict):  # type: ignore[type-arg]
    """A listing's row: docker marshals it with ``json.Marshal`` (keys sorted, ``<>&``
    escaped), so ``{{json .}}`` of a row differs from ``{{json .Labels}}``."""


def go_json(value: Any) -> str:
    """docker's ``json`` function: Go's encoder without HTML escaping, one line."""
    import json

    if value is MISSING:
        value = None
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, Row):
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def _printf(fmt: str, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the verbs templates use: s v d q x X f t, flags, width."""
    out: list[str] = []
    it = iter(args)
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%" or i + 1 >= len(fmt):
            out.append(ch)
            i += 1
            continue
        j = i + 1
        while j < len(fmt) and fmt[j] in "-+# 0123456789.":
            j += 1
        spec, verb = fmt[i + 1 : j], fmt[j : j + 1]
        i = j + 1
        if verb == "%":
            out.append("%")
            continue
        arg = next(it, MISSING)
        if arg is MISSING:
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_verb(spec, verb, arg))
    return "".join(out)


def _verb(spec: str, verb: str, arg: Any) -> str:
    align = "<" if "-" in spec else ""
    width = "".join(c for c in spec.split(".", maxsplit=1)[0] if c.isdigit()).lstrip("0")
    zero = "0" if spec.lstrip("-+# ").startswith("0") and not align else ""
    if verb == "q":
        text = go_json(arg) if isinstance(arg, str) else go_string(arg)
    elif verb in ("d", "x", "X", "o", "b") and isinstance(arg, int) and not isinstance(arg, bool):
        text = format(arg, {"d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[verb])
    elif verb in ("f", "e", "g") and isinstance(arg, (int, float)):
        prec = spec.split(".")[1] if "." in spec else ("6" if verb != "g" else "")
        text = format(float(arg), f".{prec}{verb}" if prec else verb)
    elif verb == "x" and isinstance(arg, str):
        text = arg.encode().hex()
    else:
        text = go_string(arg)
    if width:
        fill = zero if zero and verb != "s" else " "
        text = text.ljust(int(width)) if align else text.rjust(int(width), fill or " ")
    return text


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, MISSING)
        elif isinstance(value, (list, str)) and isinstance(key, int):
            if not 0 <= key < len(value):
                raise ExecError(f"index out of range: {key}")
            value = value[key]
        elif value is None or value is MISSING:
            raise ExecError("index of untyped nil")
        else:
            raise ExecError(f"can't index item of type {go_type(value)}")
    return value


def _slice(value: Any, *bounds: int) -> Any:
    if not isinstance(value, (list, str)):
        raise ExecError(f"can't slice item of type {go_type(value)}")
    lo = bounds[0] if bounds else 0
    hi = bounds[1] if len(bounds) > 1 else len(value)
    if not 0 <= lo <= hi <= len(value):
        raise ExecError(f"index out of range: {hi}")
    return value[lo:hi]


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise ExecError("missing argument for comparison")
    return any(first == o for o in others)


def _compare(op: str) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if type(a) is not type(b) and not (
            isinstance(a, (int, float)) and isinstance(b, (int, float))
        ):
            raise ExecError("incompatible types for comparison")
        return bool({"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op])

    return compare


def _and(*args: Any) -> Any:
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truth(a):
            return a
    return args[-1]


def _len(value: Any) -> int:
    if isinstance(value, (list, dict, str)):
        return len(value)
    raise ExecError(f"len of type {go_type(value)}")


def _print(*args: Any) -> str:
    # Go's fmt.Sprint: a space between operands when neither is a string
    out = ""
    for n, a in enumerate(args):
        if n and not isinstance(a, str) and not isinstance(args[n - 1], str):
            out += " "
        out += go_string(a)
    return out


def _pad(text: Any, left: int, right: int) -> str:
    s = go_string(text)
    return s if s == "" else " " * left + s + " " * right


def _title(text: Any) -> str:
    # Go's strings.Title: upper-case each letter that follows a non-letter, keep the rest
    out, prev = [], " "
    for ch in go_string(text):
        out.append(ch.upper() if not (prev.isalnum() or prev == "_") else ch)
        prev = ch
    return "".join(out)


FUNCS: Mapping[str, Any] = {
    "json": go_json,
    "upper": lambda s: go_string(s).upper(),
    "lower": lambda s: go_string(s).lower(),
    "title": _title,
    "join": lambda items, sep: sep.join(go_string(i) for i in (items or [])),
    "split": lambda s, sep: go_string(s).split(sep),
    "truncate": lambda s, n: go_string(s)[:n],
    "pad": _pad,
    "index": _index,
    "slice": _slice,
    "len": _len,
    "not": lambda v: not truth(v),
    "and": _and,
    "or": _or,
    "eq": _eq,
    "ne": lambda a, b: a != b,
    "lt": _compare("lt"),
    "le": _compare("le"),
    "gt": _compare("gt"),
    "ge": _compare("ge"),
    "print": _print,
    "println": lambda *a: " ".join(go_string(x) for x in a) + "\n",
    "printf": _printf,
}
