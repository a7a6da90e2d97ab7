"""The registry client: ``RegistryClient`` per daemon, ``Repository`` per image name.

``Repository`` speaks the distribution API for one repository: ``/v2/`` ping, manifest
GET/HEAD/PUT with content negotiation, tag lists; blob transfers are in ``blobs``.
Every request goes through ``Repository.request``, which adds the ``Authorization``
the endpoint wants (learned from its 401 challenge; see ``auth``) and retries once
after a challenge. Pull requests ask for ``pull``, push requests for ``pull,push``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urljoin

from dockyard.errors import InvalidArgument
from dockyard.types.digest import Digest
from dockyard.types.reference import Reference

from .auth import Authorizer, Credentials, repository_scope
from .errors import error_for
from .hosts import Endpoint, RegistryHosts
from .manifests import ACCEPT, media_type_of
from .transport import Body, Response, RetryPolicy, Transport

PULL = ("pull",)
PUSH = ("pull", "push")
MAX_MANIFEST = 4 << 20  # as containerd: a manifest bigger than this is not one


class RegistryClient:
    """Transport, pools and auth shared by every repository; ``close()`` it."""

    def __init__(
        self,
        hosts: RegistryHosts | None = None,
        credentials: Callable[[str], Credentials | None] | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.hosts = hosts or RegistryHosts()
        self.transport = Transport(self.hosts, retry)
        self.auth = Authorizer(self.transport, credentials or (lambda _domain: None))

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def repository(self, ref: Reference | str) -> Repository:
        if isinstance(ref, str):
            ref = Reference.parse(ref)
        return Repository(self, self.hosts.endpoint(ref.domain), ref.path)

    def ping(self, domain: str) -> int:
        """``GET /v2/``: 200 or 401 means a v2 registry answers; answer the status."""
        endpoint = self.hosts.endpoint(domain)
        with self.transport.request(endpoint, "GET", "/v2/") as response:
            response.read()
            if response.status == 401:
                self.auth.challenged(
                    endpoint, response.headers.get_all("WWW-Authenticate") or [], []
                )
                return 401
            if response.status != 200:
                raise error_for(response.status, b"", f"{domain} is not a v2 registry")
            return 200

    def login(self, domain: str) -> None:
        """Check our credentials for ``domain``: ``GET /v2/`` with them must answer 200
        (as ``docker login`` checks); Unauthorized says why not."""
        repo = Repository(self, self.hosts.endpoint(domain), "")
        with repo.request("GET", "/v2/", scopes=[]) as response:
            repo.expect(response, (200,), f"login to {domain}")
            response.read()

    def catalog(self, domain: str, page_size: int = 100) -> list[str]:
        """Every repository name ``/v2/_catalog`` lists (following ``Link`` pages)."""
        endpoint = self.hosts.endpoint(domain)
        repo = Repository(self, endpoint, "")
        return repo.paged(f"/v2/_catalog?n={page_size}", "repositories", ["registry:catalog:*"])


@dataclass(frozen=True)
class FetchedManifest:
    raw: bytes
    media_type: str
    digest: Digest


class Repository:
    """One repository (``path``) on one registry endpoint."""

    def __init__(self, client: RegistryClient, endpoint: Endpoint, path: str) -> None:
        self.client = client
        self.endpoint = endpoint
        self.path = path

    def __repr__(self) -> str:
        return f"Repository({self.endpoint.netloc}/{self.path})"

    def url(self, kind: str, ref: str = "") -> str:
        base = f"/v2/{self.path}/{kind}/"
        return base + quote(ref, safe=":@") if ref else base

    def request(
        self,
        method: str,
        url: str,
        actions: Sequence[str] = PULL,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        *,
        scopes: Sequence[str] | None = None,
        retry: bool = True,
    ) -> Response:
        """Send with authorization; learn from a 401 and try once more."""
        wanted = list(scopes) if scopes is not None else [repository_scope(self.path, actions)]
        auth = self.client.auth
        for attempt in (1, 2):
            all_headers = dict(headers or {})
            value = auth.header(self.endpoint, wanted)
            if value is not None:
                all_headers["Authorization"] = value
            if attempt == 2 and hasattr(body, "seek"):
                body.seek(0)  # type: ignore[union-attr]
            response = self.client.transport.request(
                self.endpoint, method, url, all_headers, body, retry=retry
            )
            if response.status != 401 or attempt == 2:
                return response
            challenges = response.headers.get_all("WWW-Authenticate") or []
            if not auth.challenged(self.endpoint, challenges, wanted):
                return response  # nothing new to try: the caller reads the error body
            if body is not None and not isinstance(body, bytes) and not hasattr(body, "seek"):
                return response  # a streamed body cannot be sent twice
            response.read()
        raise AssertionError("unreachable")

    def expect(self, response: Response, ok: Sequence[int], what: str) -> Response:
        """``response`` if its status is one of ``ok``; else its error, body read."""
        if response.status in ok:
            return response
        body = response.read()
        response.close()
        raise error_for(response.status, body, what)

    def absolute(self, location: str) -> str:
        return urljoin(self.endpoint.base_url + "/", location)

    # -- manifests -------------------------------------------------------------------

    def get_manifest(self, ref: str, accept: str = ACCEPT) -> FetchedManifest:
        """The manifest (or index) for a tag or digest, checked against a digest ref."""
        sep = "@" if ":" in ref else ":"
        what = f"manifest {self.endpoint.domain}/{self.path}{sep}{ref}"
        with self.request("GET", self.url("manifests", ref), headers={"Accept": accept}) as r:
            self.expect(r, (200,), what)
            raw = r.read(MAX_MANIFEST + 1)
            if len(raw) > MAX_MANIFEST:
                raise InvalidArgument(f"{what}: larger than {MAX_MANIFEST} bytes")
            r.read()
            digest = Digest.of_bytes(raw)
            if ref.startswith("sha") and ":" in ref and Digest.parse(ref) != digest:
                raise InvalidArgument(
                    f"{what}: digest mismatch: the registry sent content hashing to {digest}"
                )
            content_type = r.header("Content-Type")
            if "html" in content_type.lower() or raw.lstrip()[:1] == b"<":
                raise InvalidArgument(
                    f"{what}: {self.endpoint.domain} answered with a web page, not a "
                    "manifest: check that it is a registry (host:port of its API) and the name"
                )
            try:
                return FetchedManifest(raw, media_type_of(raw, content_type), digest)
            except InvalidArgument as e:
                raise InvalidArgument(f"{what}: {e}: the registry sent no valid manifest") from e

    def head_manifest(self, ref: str) -> Digest | None:
        """The digest a tag points at (``Docker-Content-Digest``), None if unknown."""
        with self.request("HEAD", self.url("manifests", ref), headers={"Accept": ACCEPT}) as r:
            if r.status == 404:
                return None
            self.expect(r, (200,), f"manifest {self.endpoint.domain}/{self.path}:{ref}")
            value = r.header("Docker-Content-Digest")
            return Digest.parse(value) if value else None

    def put_manifest(self, ref: str, raw: bytes, media_type: str) -> Digest:
        """Upload a manifest under a tag (or its digest); answer its digest."""
        what = f"manifest {self.endpoint.domain}/{self.path}:{ref}"
        headers = {"Content-Type": media_type}
        with self.request("PUT", self.url("manifests", ref), PUSH, headers, raw) as r:
            self.expect(r, (200, 201, 202), what)
            r.read()
            digest = Digest.of_bytes(raw)
            sent = r.header("Docker-Content-Digest")
            if sent and Digest.parse(sent) != digest:
                raise InvalidArgument(f"{what}: the registry stored it as {sent}, not {digest}")
            return digest

    def tags(self, page_size: int = 100) -> list[str]:
        return self.paged(f"{self.url('tags', 'list')}?n={page_size}", "tags", None)

    def paged(self, url: str, key: str, scopes: Sequence[str] | None) -> list[str]:
        out: list[str] = []
        next_url: str | None = url
        while next_url:
            with self.request("GET", next_url, scopes=scopes) as r:
                self.expect(r, (200,), f"{key} of {self.endpoint.domain}/{self.path}".rstrip("/"))
                try:
                    doc = json.loads(r.read())
                except ValueError as e:
                    raise InvalidArgument(f"the registry's {key} list is not JSON: {e}") from e
                out.extend(str(x) for x in doc.get(key) or [])
                next_url = next_link(r.header("Link"))
        return out


def next_link(header: str) -> str | None:
    """The target of ``Link: <url>; rel="next"`` (RFC 5988), or None."""
    for part in header.split(","):
        url, _, params = part.partition(";")
        url = url.strip()
        if url.startswith("<") and url.endswith(">") and 'rel="next"' in params.replace(" ", ""):
            return url[1:-1]
    return None


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string."""
    return url + ("&" if "?" in url else "?") + urlencode(params)
