"""``EventFilter``: the ``filters`` of ``GET /events`` with dockerd's semantics.

Values of one key are ORed, keys are ANDed, except ``label``: every label given must be
on the event (dockerd's ``MatchKVList``). ``container``, ``volume``, ``network``,
``daemon`` (and swarm's ``node``, ``service``, ``secret``, ``config``, ``plugin``) match the
actor's ID or its ``name`` attribute by prefix; a filter on one kind also drops the
events of other kinds, as in dockerd. ``image`` matches exactly the image ID, the image
name (the ``name`` attribute of an image event, ``image`` of a container event) or that
name without its tag. ``event`` matches the action exactly, or by prefix when one of the
values is ``exec_create``, ``exec_start`` or ``health_status`` (so it matches
``exec_create: sh -c ...``). ``type`` and ``scope`` match exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dockyard.errors import InvalidArgument
from dockyard.images.names import familiar_name, repository_of

from .events import Event

#: the keys dockerd's event filter reads
KEYS = (
    "config",
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "secret",
    "service",
    "type",
    "volume",
)
#: kinds whose filter matches the actor's ID or name by prefix
NAMED_KINDS = ("config", "container", "daemon", "network", "node", "plugin", "secret", "service",
               "volume")  # fmt: skip
#: actions that carry a detail after a colon ("exec_create: sh -c date")
FUZZY_ACTIONS = frozenset({"exec_create", "exec_start", "health_status"})


@dataclass(frozen=True)
class EventFilter:
    """A parsed ``filters`` value; call it on an event (see the module doc)."""

    filters: Mapping[str, Sequence[str]]

    @classmethod
    def parse(cls, filters: Mapping[str, Sequence[str]]) -> EventFilter:
        """Check the keys (InvalidArgument on an unknown one) and drop empty ones."""
        for key in filters:
            if key not in KEYS:
                raise InvalidArgument(
                    f"invalid filter '{key}': events filter on " + ", ".join(KEYS)
                )
        return cls({k: tuple(v) for k, v in filters.items() if v})

    def __call__(self, event: Event) -> bool:
        f = self.filters
        if not f:
            return True
        return (
            self._action(event.action)
            and _exact(f.get("type"), event.type)
            and _exact(f.get("scope"), event.scope)
            and all(_named(f.get(kind), event) for kind in NAMED_KINDS)
            and self._image(event)
            and _labels(f.get("label"), event.attributes)
        )

    def _action(self, action: str) -> bool:
        wanted = self.filters.get("event")
        if not wanted:
            return True
        if action in wanted:
            return True
        if FUZZY_ACTIONS.intersection(wanted):
            return any(action.startswith(w) for w in wanted)
        return False

    def _image(self, event: Event) -> bool:
        wanted = self.filters.get("image")
        if not wanted:
            return True
        name = event.attributes.get("name" if event.type == "image" else "image", "")
        candidates = {event.actor_id, name, strip_tag(event.actor_id), strip_tag(name)}
        candidates.discard("")
        return any(w in candidates for w in wanted)


def _exact(wanted: Sequence[str] | None, value: str) -> bool:
    return not wanted or value in wanted


def _named(wanted: Sequence[str] | None, event: Event) -> bool:
    if not wanted:
        return True
    name = event.attributes.get("name", "")
    return any(event.actor_id.startswith(w) or (name and name.startswith(w)) for w in wanted)


def _labels(wanted: Sequence[str] | None, attributes: Mapping[str, str]) -> bool:
    if not wanted:
        return True
    for item in wanted:
        key, eq, value = item.partition("=")
        if key not in attributes or (eq and attributes[key] != value):
            return False
    return True


def strip_tag(image: str) -> str:
    """The familiar repository of an image name (``busybox:latest`` -> ``busybox``); an
    ID or anything that does not parse is given back unchanged."""
    if not image or image.startswith("sha256:"):
        return image
    try:
        return familiar_name(repository_of(image))
    except InvalidArgument:
        return image
