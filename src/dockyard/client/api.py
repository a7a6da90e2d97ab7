"""Typed calls of the Engine API that the CLI uses; each returns Docker's JSON as parsed.

Methods are named after the docker-py ``APIClient`` calls they match. Streams stay
streams: ``load`` yields the daemon's JSON messages as they arrive and ``save`` yields
the tar's bytes, so neither holds an image in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from dockyard.client.transport import Body, Transport, quote_name

JSON = dict[str, Any]
#: ``{"dangling": ["true"]}``: Docker's filter map (the query carries it as JSON)
Filters = Mapping[str, Sequence[str]]


def encode_filters(filters: Filters | None) -> str | None:
    if not filters:
        return None
    return json.dumps({key: list(values) for key, values in filters.items()})


class APIClient:
    """The Engine API of one daemon, through a ``Transport``."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def for_host(cls, host: str, api_version: str | None = None) -> APIClient:
        return cls(Transport(host, api_version))

    # -- system

    def ping(self) -> dict[str, str]:
        """The ``/_ping`` headers (lower-case names)."""
        return self.transport.ping()

    def version(self) -> JSON:
        return self._get_json("/version")

    def info(self) -> JSON:
        return self._get_json("/info")

    def system_df(self) -> JSON:
        return self._get_json("/system/df")

    # -- images

    def images(
        self, all: bool = False, filters: Filters | None = None, digests: bool = False
    ) -> list[JSON]:
        """``GET /images/json``: image summaries, newest first."""
        query = {"all": all or None, "digests": digests or None, "filters": encode_filters(filters)}
        return self._list(self.transport.request("GET", "/images/json", query=query).json())

    def inspect_image(self, name: str) -> JSON:
        return self._get_json(f"/images/{quote_name(name)}/json")

    def history(self, name: str) -> list[JSON]:
        return self._list(self._get(f"/images/{quote_name(name)}/history"))

    def tag(self, image: str, repository: str, tag: str | None = None) -> None:
        query = {"repo": repository, "tag": tag}
        path = f"/images/{quote_name(image)}/tag"
        self.transport.request("POST", path, query=query).read()

    def remove_image(self, name: str, force: bool = False, noprune: bool = False) -> list[JSON]:
        """``DELETE /images/{name}``: ``[{"Untagged": ...}, {"Deleted": ...}]``."""
        query = {"force": force or None, "noprune": noprune or None}
        resp = self.transport.request("DELETE", f"/images/{quote_name(name)}", query=query)
        return self._list(resp.json())

    def prune_images(self, filters: Filters | None = None) -> JSON:
        """``POST /images/prune``: ``{"ImagesDeleted": [...], "SpaceReclaimed": n}``."""
        query = {"filters": encode_filters(filters)}
        doc = self.transport.request("POST", "/images/prune", query=query).json()
        return doc if isinstance(doc, dict) else {}

    def load(self, stream: Body, quiet: bool = False) -> Iterator[JSON]:
        """``POST /images/load`` with a tar stream; yields the daemon's JSON messages."""
        resp = self.transport.request(
            "POST",
            "/images/load",
            query={"quiet": quiet},
            body=stream,
            headers={"Content-Type": "application/x-tar"},
        )
        if not resp.headers.get("content-type", "").startswith("application/json"):
            text = resp.read().decode("utf-8", errors="replace")
            return iter([{"stream": text}] if text else [])
        return resp.messages()

    def save(self, names: Sequence[str]) -> Iterator[bytes]:
        """``GET /images/get``: the tar of the named images, as it streams."""
        resp = self.transport.request("GET", "/images/get", query={"names": list(names)})
        return resp.chunks()

    def import_image(
        self,
        stream: IO[bytes] | bytes,
        repo: str | None = None,
        tag: str | None = None,
        changes: Sequence[str] = (),
        message: str | None = None,
    ) -> Iterator[JSON]:
        """``POST /images/create?fromSrc=-``: a root filesystem tar becomes an image."""
        query: dict[str, Any] = {
            "fromSrc": "-",
            "repo": repo or None,
            "tag": tag or None,
            "message": message or None,
            "changes": list(changes) or None,
        }
        resp = self.transport.request(
            "POST",
            "/images/create",
            query=query,
            body=stream,
            headers={"Content-Type": "application/x-tar"},
        )
        return resp.messages()

    # -- helpers

    def _get(self, path: str) -> Any:
        return self.transport.request("GET", path).json()

    def _get_json(self, path: str) -> JSON:
        doc = self._get(path)
        return doc if isinstance(doc, dict) else {}

    @staticmethod
    def _list(doc: Any) -> list[JSON]:
        return [item for item in doc if isinstance(item, dict)] if isinstance(doc, list) else []
