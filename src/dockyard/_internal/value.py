"""``Value``: equality, hash and repr for small slotted value objects.

A light stand-in for frozen dataclasses on the container start path, where importing
``dataclasses`` (inspect, ast, re) costs about 10 ms. A subclass lists its fields in
constructor order in ``_fields`` and is immutable by convention: never assign to a field
after ``__init__``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar


class Value:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"
