"""``DistributionService``: pull and push for the Engine API, over ``images.pull``/``push``.

A pull or push runs in a worker thread; its progress values reach the event loop
through a queue (``ProgressJob``). The API waits for the first progress value before it
answers: an error before it (an unknown image, refused credentials, a registry that is
down) is answered with a proper status, as dockerd does; later errors go into the stream.

Credentials come per request (``X-Registry-Auth``, base64url JSON with ``username`` and
``password``); each request with credentials gets its own ``RegistryClient`` (its token
cache is theirs), anonymous ones share one. Downloads are shared through one ``Puller``.
Events: ``image pull`` and ``image push`` with the familiar reference, as dockerd's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from dockyard.errors import InvalidArgument, NotFound, NotSupported
from dockyard.images.imagestore import ImageStore
from dockyard.images.pull import Puller, PullProgress, PullResult
from dockyard.images.push import PushProgress, PushResult, push
from dockyard.registry import Credentials, RegistryClient, RegistryHosts
from dockyard.registry.manifests import Platform
from dockyard.registry.search import SearchResult, check_filters, matches, search
from dockyard.types.reference import Reference, parse_normalized

from .events import EventLog

P = TypeVar("P")
R = TypeVar("R")


class ProgressJob(Generic[P, R]):
    """A blocking job in a thread whose progress values are read on the event loop."""

    def __init__(self, job: Callable[[Callable[[P], None]], R]) -> None:
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[bool, P | None]] = asyncio.Queue()

        def report(item: P) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, (False, item))

        self.task: asyncio.Future[R] = asyncio.ensure_future(asyncio.to_thread(job, report))
        self.task.add_done_callback(lambda _t: self._queue.put_nowait((True, None)))

    async def first(self) -> P | None:
        """The first progress value; the job's error if it failed before any (None when
        it finished without progress)."""
        done, item = await self._queue.get()
        if done:
            self.task.result()  # raises the job's error
            return None
        return item

    async def rest(self) -> AsyncIterator[P]:
        """The remaining progress values; then the job's result is ``self.task``."""
        while True:
            done, item = await self._queue.get()
            if done:
                return
            assert item is not None
            yield item


def decode_auth(header: str | None) -> Credentials | None:
    """The credentials of an ``X-Registry-Auth`` header (None when it has none)."""
    if not header:
        return None
    try:
        raw = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
        doc: Any = json.loads(raw or b"{}")
    except (binascii.Error, ValueError) as e:
        raise InvalidArgument(f"invalid X-Registry-Auth header: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid X-Registry-Auth header: not a JSON object")
    username, password = doc.get("username") or "", doc.get("password") or ""
    if not username:
        return None
    return Credentials(str(username), str(password))


def registry_domain(server: str) -> str:
    """The registry of a ``serveraddress`` (``https://reg:5000/v1/`` -> ``reg:5000``;
    Docker Hub's legacy address -> ``docker.io``)."""
    host = server.split("://", 1)[-1].split("/", 1)[0]
    if not host:
        raise InvalidArgument("no registry named: give the server address (host[:port])")
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host


class DistributionService:
    """Registry pulls and pushes into and out of one store; ``close()`` it.

    ``hosts`` defaults to TLS material from ``/etc/dockyard/certs.d``, the proxies
    given (the daemon's ``http-proxy``/``https-proxy``/``no-proxy``), its
    ``insecure-registries`` and ``registry-mirrors``.
    """

    def __init__(
        self,
        store: ImageStore,
        events: EventLog,
        hosts: RegistryHosts | None = None,
        *,
        proxies: Mapping[str, str] | None = None,
        insecure: Sequence[str] = (),
        mirrors: Sequence[str] = (),
    ) -> None:
        self.store = store
        self.events = events
        if hosts is None:
            environ = {k.upper(): v for k, v in (proxies or {}).items() if v}
            hosts = RegistryHosts(environ=environ, insecure=insecure, mirrors=mirrors)
        self.hosts = hosts
        self.client = RegistryClient(hosts)
        self.puller = Puller(store, self.client)

    def close(self) -> None:
        self.client.close()

    def serves(self, reference: str) -> bool:
        """True when a registry endpoint is configured for the reference's registry."""
        try:
            self.hosts.endpoint(Reference.parse(reference).domain)
        except Exception:
            return False
        return True

    def _client(self, credentials: Credentials | None) -> RegistryClient:
        if credentials is None:
            return self.client
        return RegistryClient(self.hosts, lambda _domain: credentials)

    def pull(
        self, reference: str, credentials: Credentials | None, platform: str = ""
    ) -> ProgressJob[PullProgress, PullResult]:
        ref = parse_normalized(reference)
        want = Platform.parse(platform) if platform else None
        client = self._client(credentials)

        def job(report: Callable[[PullProgress], None]) -> PullResult:
            try:
                result = self.puller.pull(ref, report, want, client)
            finally:
                if client is not self.client:
                    client.close()
            self.events.emit("image", "pull", ref.familiar, {"name": ref.familiar_name})
            return result

        return ProgressJob(job)

    def pull_all_tags(
        self, repository: str, credentials: Credentials | None, platform: str = ""
    ) -> ProgressJob[PullProgress, list[PullResult]]:
        """``docker pull --all-tags``: every tag the registry lists for ``repository``
        (an API pull without a tag), one after the other, downloads shared."""
        ref = parse_normalized(repository)
        want = Platform.parse(platform) if platform else None
        client = self._client(credentials)

        def job(report: Callable[[PullProgress], None]) -> list[PullResult]:
            try:
                tags = sorted(client.repository(ref).tags())
                if not tags:
                    raise NotFound(f"repository {ref.familiar_name} has no tags to pull")
                results = []
                for tag in tags:
                    tagged = ref.with_tag(tag)
                    results.append(self.puller.pull(tagged, report, want, client))
                    self.events.emit("image", "pull", tagged.familiar, {"name": ref.familiar_name})
            finally:
                if client is not self.client:
                    client.close()
            return results

        return ProgressJob(job)

    async def login(self, credentials: Credentials, server: str) -> None:
        """Check ``credentials`` against the registry ``server`` (``POST /auth``)."""
        domain = registry_domain(server)
        client = RegistryClient(self.hosts, lambda _domain: credentials)
        try:
            await asyncio.to_thread(client.login, domain)
        finally:
            client.close()

    async def search(
        self,
        term: str,
        limit: int = 25,
        filters: Mapping[str, list[str]] | None = None,
        credentials: Credentials | None = None,
    ) -> list[SearchResult]:
        """``GET /images/search``: repositories matching ``term`` (see registry.search);
        ``limit`` 1-100 (as dockerd), the filters applied to what the registry answers."""
        if not 1 <= limit <= 100:
            raise InvalidArgument(f"limit {limit} is out of range: give 1 to 100")
        wanted = {k: list(v) for k, v in (filters or {}).items()}
        check_filters(wanted)
        client = self._client(credentials)
        try:
            found = await asyncio.to_thread(search, client, term, limit)
        finally:
            if client is not self.client:
                client.close()
        return [r for r in found if matches(r, wanted)]

    def push(
        self, reference: str, credentials: Credentials | None
    ) -> ProgressJob[PushProgress, PushResult]:
        ref = parse_normalized(reference)
        _not_to_a_mirror(ref)
        client = self._client(credentials)

        def job(report: Callable[[PushProgress], None]) -> PushResult:
            try:
                result = push(self.store, client, ref, report)
            finally:
                if client is not self.client:
                    client.close()
            self.events.emit("image", "push", ref.familiar, {"name": ref.familiar_name})
            return result

        return ProgressJob(job)

    def push_all_tags(
        self, repository: str, credentials: Credentials | None
    ) -> ProgressJob[PushProgress, list[PushResult]]:
        """``docker push --all-tags``: every local tag of ``repository`` (an API push
        without a tag); the repository line is shown once."""
        ref = parse_normalized(repository)
        _not_to_a_mirror(ref)
        prefix = f"{ref.name}:"
        tags = sorted(
            name[len(prefix) :]
            for image in self.store.metadata.list_images()
            for name in image.names
            if name.startswith(prefix)
        )
        if not tags:
            raise NotFound(f"an image does not exist locally with the tag: {ref.familiar_name}")
        client = self._client(credentials)

        def job(report: Callable[[PushProgress], None]) -> list[PushResult]:
            shown: set[str] = set()

            def once(item: PushProgress) -> None:
                if item.status.startswith("The push refers"):
                    if item.status in shown:
                        return
                    shown.add(item.status)
                report(item)

            results = []
            try:
                for tag in tags:
                    tagged = ref.with_tag(tag)
                    results.append(push(self.store, client, tagged, once))
                    self.events.emit("image", "push", tagged.familiar, {"name": ref.familiar_name})
            finally:
                if client is not self.client:
                    client.close()
            return results

        return ProgressJob(job)


def _not_to_a_mirror(ref: Reference) -> None:
    """docker.io is only reached through its mirrors, and a mirror is not pushed to."""
    if ref.domain == "docker.io":
        raise NotSupported(
            f"cannot push {ref.familiar}: pushing to docker.io is not supported (its mirrors "
            "are read-only): tag the image for your registry (host:port/name) and push that"
        )


__all__ = ["DistributionService", "ProgressJob", "decode_auth", "registry_domain"]
