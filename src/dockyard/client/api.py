"""Typed calls of the Engine API that the CLI uses; each returns Docker's JSON as parsed.

Methods are named after the docker-py ``APIClient`` calls they match. Streams stay
streams: ``load`` yields the daemon's JSON messages as they arrive and ``save`` yields
the tar's bytes, so neither holds an image in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from dockyard._internal import fastjson
from dockyard.client.transport import (
    Hijacked,
    Response,
    Transport,
    hijack_request,
    quote_name,
    version_tuple,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # (``typing`` costs the CLI 3 ms at import)
    from typing import IO, Any, TypeAlias

    from dockyard.client.tls import TLSOptions
    from dockyard.client.transport import Body, Query

    JSON: TypeAlias = dict[str, Any]

#: ``{"dangling": ["true"]}``: Docker's filter map (the query carries it as JSON)
Filters = Mapping[str, Sequence[str]]


def encode_filters(filters: Filters | None) -> str | None:
    if not filters:
        return None
    return fastjson.dumps({key: list(values) for key, values in filters.items()})


class APIClient:
    """The Engine API of one daemon, through a ``Transport``."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def for_host(
        cls, host: str, api_version: str | None = None, tls: TLSOptions | None = None
    ) -> APIClient:
        return cls(Transport(host, api_version, tls))

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

    def build(self, context: Body, query: Query) -> Iterator[JSON]:
        """``POST /build`` (legacy builder) with the context tar; yields the messages.

        ``query``: the endpoint's own parameters (``t``, ``dockerfile``, ``buildargs``
        as JSON, ...), built by ``cli/build.py``."""
        resp = self.transport.request(
            "POST",
            "/build",
            query=query,
            body=context,
            headers={"Content-Type": "application/x-tar"},
        )
        return (doc for doc in resp.messages() if isinstance(doc, dict))

    def prune_builds(self, all: bool = False, filters: Filters | None = None) -> JSON:
        """``POST /build/prune``: ``{"CachesDeleted": [...], "SpaceReclaimed": n}``."""
        query = {"all": all or None, "filters": encode_filters(filters)}
        doc = self.transport.request("POST", "/build/prune", query=query).json()
        return doc if isinstance(doc, dict) else {}

    # -- containers

    def create_container(self, config: JSON, name: str | None = None) -> JSON:
        """``POST /containers/create``: ``{"Id": ..., "Warnings": [...]}``."""
        resp = self.transport.request(
            "POST", "/containers/create", query={"name": name or None}, json_body=config
        )
        doc = resp.json()
        return doc if isinstance(doc, dict) else {}

    def pull(
        self,
        image: str,
        tag: str | None = None,
        *,
        platform: str | None = None,
        registry_auth: str | None = None,
    ) -> Iterator[JSON]:
        """``POST /images/create?fromImage=``: the progress messages. ``registry_auth``
        is the ``X-Registry-Auth`` value (base64url JSON credentials)."""
        query = {"fromImage": image, "tag": tag or None, "platform": platform or None}
        headers = {"X-Registry-Auth": registry_auth} if registry_auth else None
        return self.transport.request(
            "POST", "/images/create", query=query, headers=headers
        ).messages()

    def search(
        self,
        term: str,
        limit: int | None = None,
        filters: Filters | None = None,
        *,
        registry_auth: str | None = None,
    ) -> list[JSON]:
        """``GET /images/search``: the matching repositories of a registry."""
        query = {"term": term, "limit": limit or None, "filters": encode_filters(filters)}
        headers = {"X-Registry-Auth": registry_auth} if registry_auth else None
        doc = self.transport.request("GET", "/images/search", query=query, headers=headers).json()
        return [d for d in doc if isinstance(d, dict)] if isinstance(doc, list) else []

    def login(self, username: str, password: str, server: str) -> JSON:
        """``POST /auth``: the daemon checks the credentials against the registry."""
        body = {"username": username, "password": password, "serveraddress": server}
        doc = self.transport.request("POST", "/auth", json_body=body).json()
        return doc if isinstance(doc, dict) else {}

    def push(
        self, name: str, tag: str | None = None, *, registry_auth: str | None = None
    ) -> Iterator[JSON]:
        """``POST /images/{name}/push``: the progress messages (the last one ``aux``)."""
        headers = {"X-Registry-Auth": registry_auth or "e30="}  # e30= is "{}", as docker's
        return self.transport.request(
            "POST", f"/images/{quote_name(name)}/push", query={"tag": tag or None}, headers=headers
        ).messages()

    def containers(
        self,
        all: bool = False,
        filters: Filters | None = None,
        limit: int = -1,
        size: bool = False,
    ) -> list[JSON]:
        query = {
            "all": all or None,
            "limit": limit if limit > 0 else None,
            "size": size or None,
            "filters": encode_filters(filters),
        }
        return self._list(self.transport.request("GET", "/containers/json", query=query).json())

    def inspect_container(self, ref: str, size: bool = False) -> JSON:
        query = {"size": size or None}
        doc = self.transport.request("GET", f"/containers/{quote_name(ref)}/json", query=query)
        found = doc.json()
        return found if isinstance(found, dict) else {}

    def start(self, ref: str) -> bool:
        """``POST /containers/{id}/start``; False when it was running already (304)."""
        resp = self.transport.request("POST", f"/containers/{quote_name(ref)}/start")
        resp.read()
        return resp.status != 304

    def stop(self, ref: str, timeout: int | None = None, signal: str | None = None) -> None:
        query = {"t": timeout, "signal": signal or None}
        self._post(f"/containers/{quote_name(ref)}/stop", query)

    def restart(self, ref: str, timeout: int | None = None) -> None:
        self._post(f"/containers/{quote_name(ref)}/restart", {"t": timeout})

    def kill(self, ref: str, signal: str | None = None) -> None:
        self._post(f"/containers/{quote_name(ref)}/kill", {"signal": signal or None})

    def pause(self, ref: str) -> None:
        self._post(f"/containers/{quote_name(ref)}/pause")

    def unpause(self, ref: str) -> None:
        self._post(f"/containers/{quote_name(ref)}/unpause")

    def rename(self, ref: str, name: str) -> None:
        self._post(f"/containers/{quote_name(ref)}/rename", {"name": name})

    def resize(self, ref: str, height: int, width: int) -> None:
        self._post(f"/containers/{quote_name(ref)}/resize", {"h": height, "w": width})

    def remove_container(
        self, ref: str, force: bool = False, volumes: bool = False, link: bool = False
    ) -> None:
        query = {"force": force or None, "v": volumes or None, "link": link or None}
        self.transport.request("DELETE", f"/containers/{quote_name(ref)}", query=query).read()

    def top(self, ref: str, ps_args: str | None = None) -> JSON:
        resp = self.transport.request(
            "GET", f"/containers/{quote_name(ref)}/top", query={"ps_args": ps_args or None}
        )
        doc = resp.json()
        return doc if isinstance(doc, dict) else {}

    def stats(self, ref: str, stream: bool = False) -> Iterator[JSON]:
        """``GET /containers/{id}/stats``: one document, or one a second while streaming."""
        query = {"stream": stream}
        resp = self.transport.request("GET", f"/containers/{quote_name(ref)}/stats", query=query)
        return (doc for doc in resp.messages() if isinstance(doc, dict))

    def update_container(self, ref: str, config: JSON) -> JSON:
        path = f"/containers/{quote_name(ref)}/update"
        doc = self.transport.request("POST", path, json_body=config).json()
        return doc if isinstance(doc, dict) else {}

    def prune_containers(self, filters: Filters | None = None) -> JSON:
        query = {"filters": encode_filters(filters)}
        doc = self.transport.request("POST", "/containers/prune", query=query).json()
        return doc if isinstance(doc, dict) else {}

    def wait_start(self, ref: str, condition: str | None = None) -> Response:
        """``POST /containers/{id}/wait``: returns once the head arrived; ``wait_result``
        reads the body, which comes when the wait is over."""
        return self.transport.request(
            "POST", f"/containers/{quote_name(ref)}/wait", query={"condition": condition}
        )

    @staticmethod
    def wait_result(resp: Response) -> JSON:
        doc = resp.json()
        return doc if isinstance(doc, dict) else {}

    def wait(self, ref: str, condition: str | None = None) -> JSON:
        return self.wait_result(self.wait_start(ref, condition))

    def logs(
        self,
        ref: str,
        *,
        stdout: bool = True,
        stderr: bool = True,
        follow: bool = False,
        timestamps: bool = False,
        tail: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[tuple[int, bytes]]:
        """``GET /containers/{id}/logs``: (stream, data) pairs (stream 1 when raw)."""
        query = {
            "stdout": stdout,
            "stderr": stderr,
            "follow": follow or None,
            "timestamps": timestamps or None,
            "tail": tail or None,
            "since": since or None,
            "until": until or None,
        }
        resp = self.transport.request("GET", f"/containers/{quote_name(ref)}/logs", query=query)
        ctype = resp.headers.get("content-type", "")
        if "multiplexed" in ctype:
            multiplexed = True
        elif version_tuple(self.transport.api_version) >= (1, 42):
            multiplexed = False
        else:  # before API 1.42 both kinds are "raw-stream": ask the container
            multiplexed = not self.inspect_container(ref).get("Config", {}).get("Tty")
        return demux(resp.chunks(), multiplexed)

    def attach(
        self,
        ref: str,
        *,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        stream: bool = True,
        logs: bool = False,
        detach_keys: str | None = None,
    ) -> Hijacked:
        """``POST /containers/{id}/attach``, upgraded: the raw connection."""
        query = {
            "stream": stream,
            "stdin": stdin,
            "stdout": stdout,
            "stderr": stderr,
            "logs": logs or None,
            "detachKeys": detach_keys or None,
        }
        url = self.transport.url(f"/containers/{quote_name(ref)}/attach", query)
        return hijack_request(self.transport, "POST", url)

    # -- volumes

    def volumes(self, filters: Filters | None = None) -> JSON:
        """``GET /volumes``: ``{"Volumes": [...], "Warnings": [...]}``."""
        query = {"filters": encode_filters(filters)}
        doc = self.transport.request("GET", "/volumes", query=query).json()
        return doc if isinstance(doc, dict) else {}

    def create_volume(
        self,
        name: str | None = None,
        driver: str | None = None,
        driver_opts: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> JSON:
        body = {
            "Name": name or "",
            "Driver": driver or "local",
            "DriverOpts": dict(driver_opts or {}),
            "Labels": dict(labels or {}),
        }
        doc = self.transport.request("POST", "/volumes/create", json_body=body).json()
        return doc if isinstance(doc, dict) else {}

    def inspect_volume(self, name: str) -> JSON:
        return self._get_json(f"/volumes/{quote_name(name)}")

    def remove_volume(self, name: str, force: bool = False) -> None:
        query = {"force": force or None}
        self.transport.request("DELETE", f"/volumes/{quote_name(name)}", query=query).read()

    def prune_volumes(self, filters: Filters | None = None) -> JSON:
        """``POST /volumes/prune``: ``{"VolumesDeleted": [...], "SpaceReclaimed": n}``."""
        query = {"filters": encode_filters(filters)}
        doc = self.transport.request("POST", "/volumes/prune", query=query).json()
        return doc if isinstance(doc, dict) else {}

    # -- networks

    def networks(self, filters: Filters | None = None) -> list[JSON]:
        query = {"filters": encode_filters(filters)}
        return self._list(self.transport.request("GET", "/networks", query=query).json())

    def create_network(self, body: JSON) -> JSON:
        """``POST /networks/create`` with a NetworkCreateRequest: ``{"Id", "Warning"}``."""
        doc = self.transport.request("POST", "/networks/create", json_body=body).json()
        return doc if isinstance(doc, dict) else {}

    def inspect_network(self, ref: str) -> JSON:
        return self._get_json(f"/networks/{quote_name(ref)}")

    def remove_network(self, ref: str) -> None:
        self.transport.request("DELETE", f"/networks/{quote_name(ref)}").read()

    def prune_networks(self, filters: Filters | None = None) -> JSON:
        query = {"filters": encode_filters(filters)}
        doc = self.transport.request("POST", "/networks/prune", query=query).json()
        return doc if isinstance(doc, dict) else {}

    def network_connect(self, ref: str, body: JSON) -> None:
        path = f"/networks/{quote_name(ref)}/connect"
        self.transport.request("POST", path, json_body=body).read()

    def network_disconnect(self, ref: str, container: str, force: bool = False) -> None:
        body = {"Container": container, "Force": force}
        path = f"/networks/{quote_name(ref)}/disconnect"
        self.transport.request("POST", path, json_body=body).read()

    # -- exec

    def exec_create(self, ref: str, config: JSON) -> str:
        """``POST /containers/{id}/exec``: the new exec's id."""
        path = f"/containers/{quote_name(ref)}/exec"
        doc = self.transport.request("POST", path, json_body=config).json()
        return str(doc.get("Id", "")) if isinstance(doc, dict) else ""

    def exec_start(self, exec_id: str, *, tty: bool, detach: bool = False) -> Hijacked | None:
        """``POST /exec/{id}/start``: the upgraded connection, or None when detached."""
        body = {"Detach": detach, "Tty": tty}
        path = f"/exec/{quote_name(exec_id)}/start"
        if detach:
            self.transport.request("POST", path, json_body=body).read()
            return None
        url = self.transport.url(path)
        return hijack_request(self.transport, "POST", url, fastjson.dumps(body).encode())

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        self._post(f"/exec/{quote_name(exec_id)}/resize", {"h": height, "w": width})

    def exec_inspect(self, exec_id: str) -> JSON:
        return self._get_json(f"/exec/{quote_name(exec_id)}/json")

    # -- helpers

    def _post(self, path: str, query: dict[str, Any] | None = None) -> None:
        self.transport.request("POST", path, query=query).read()

    def _get(self, path: str) -> Any:
        return self.transport.request("GET", path).json()

    def _get_json(self, path: str) -> JSON:
        doc = self._get(path)
        return doc if isinstance(doc, dict) else {}

    @staticmethod
    def _list(doc: Any) -> list[JSON]:
        return [item for item in doc if isinstance(item, dict)] if isinstance(doc, list) else []


def demux(chunks: Iterator[bytes], multiplexed: bool) -> Iterator[tuple[int, bytes]]:
    """A stream of bytes as (stream, data): 8-byte-header frames, or all stream 1."""
    if not multiplexed:
        for chunk in chunks:
            yield 1, chunk
        return
    buf = b""
    for chunk in chunks:
        buf += chunk
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], "big")
            if len(buf) < 8 + size:
                break
            yield buf[0], buf[8 : 8 + size]
            buf = buf[8 + size :]
