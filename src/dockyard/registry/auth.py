"""Registry authentication: anonymous, HTTP Basic, and Bearer tokens.

A registry says how it wants to be asked in ``WWW-Authenticate`` on a 401 (RFC 7235
challenges; ``parse_challenges``). ``Basic``: the user name and password go along with
every request. ``Bearer realm="…",service="…",scope="…"``: a token is fetched from the
realm (``GET realm?service=…&scope=…``, with Basic credentials when we have them) and
sent as ``Authorization: Bearer <token>``; the answer's ``token`` (or ``access_token``)
is cached per (realm, service, scopes) until ``expires_in`` (60 s when absent, as the
token spec says) runs out.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from dockyard.errors import InvalidArgument

from .errors import Unauthorized, error_summary
from .hosts import Endpoint, split_host_port
from .transport import Transport

DEFAULT_EXPIRY = 60.0
EXPIRY_MARGIN = 5.0  # renew a little before the registry would refuse the token


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic", "bearer"
    params: dict[str, str] = field(default_factory=dict)


_TOKEN68 = r"[A-Za-z0-9._~+/-]+=*"
_SCHEME = re.compile(r"\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)")
_TOKEN68_RE = re.compile(r"\s+(" + _TOKEN68 + r")\s*(?:,|$)")
_PARAM = re.compile(r'\s*([A-Za-z0-9_.!#$%&\'*+^`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*')


def parse_challenges(values: Iterable[str]) -> list[Challenge]:
    """Every challenge of the ``WWW-Authenticate`` header values, in order.

    ``Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push"`` gives
    ``Challenge("bearer", {"realm": …, "service": "reg", "scope": "repository:x:pull,push"})``.
    Commas inside quoted values are kept; quoted-pair escapes are undone.
    """
    out: list[Challenge] = []
    for value in values:
        pos = 0
        text = value.strip()
        while pos < len(text):
            m = _SCHEME.match(text, pos)
            if not m:
                break
            scheme = m.group(1).lower()
            pos = m.end()
            params: dict[str, str] = {}
            t = _TOKEN68_RE.match(text, pos)
            if t is not None:  # RFC 7235: a token68 comes instead of parameters
                out.append(Challenge(scheme, {"": t.group(1)}))
                pos = t.end()
                continue
            while pos < len(text):
                p = _PARAM.match(text, pos)
                if p is None:
                    break
                raw = p.group(2)
                if raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                params[p.group(1).lower()] = raw
                pos = p.end()
                if pos < len(text) and text[pos] == ",":
                    pos += 1
                    continue
                break
            out.append(Challenge(scheme, params))
    return out


def repository_scope(name: str, actions: Sequence[str]) -> str:
    """``repository:<name>:<actions>`` as the token spec writes a scope."""
    return f"repository:{name}:{','.join(actions)}"


@dataclass
class _Token:
    value: str
    expires: float


def basic_header(credentials: Credentials) -> str:
    raw = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()


class Authorizer:
    """Remembers each endpoint's challenge and the tokens fetched for it; thread-safe."""

    def __init__(
        self,
        transport: Transport,
        credentials: Callable[[str], Credentials | None] = lambda _domain: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.credentials = credentials
        self.clock = clock
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str, tuple[str, ...]], _Token] = {}
        self._lock = threading.Lock()

    def header(self, endpoint: Endpoint, scopes: Sequence[str]) -> str | None:
        """The ``Authorization`` value for a request, from what is known already."""
        challenge = self._challenges.get(endpoint.domain)
        if challenge is None:
            return None
        creds = self.credentials(endpoint.domain)
        if challenge.scheme == "basic":
            return basic_header(creds) if creds else None
        if challenge.scheme == "bearer":
            token = self._cached(challenge, scopes)
            return None if token is None else f"Bearer {token}"
        return None

    def challenged(self, endpoint: Endpoint, values: Sequence[str], scopes: Sequence[str]) -> bool:
        """Learn from a 401: answer True when a retry may now succeed."""
        challenges = [c for c in parse_challenges(values) if c.scheme in ("basic", "bearer")]
        if not challenges:
            return False
        challenge = next((c for c in challenges if c.scheme == "bearer"), challenges[0])
        before = self._challenges.get(endpoint.domain)
        self._challenges[endpoint.domain] = challenge
        creds = self.credentials(endpoint.domain)
        if challenge.scheme == "basic":
            return creds is not None and before != challenge
        wanted = list(scopes)
        extra = challenge.params.get("scope")
        if extra:
            wanted += [s for s in extra.split(" ") if s and s not in wanted]
        self._fetch_token(endpoint, challenge, wanted, creds, cache_as=scopes)
        return True

    def _key(self, challenge: Challenge, scopes: Sequence[str]) -> tuple[str, str, tuple[str, ...]]:
        return (
            challenge.params.get("realm", ""),
            challenge.params.get("service", ""),
            tuple(sorted(set(scopes))),
        )

    def _cached(self, challenge: Challenge, scopes: Sequence[str]) -> str | None:
        with self._lock:
            token = self._tokens.get(self._key(challenge, scopes))
            if token is None or token.expires <= self.clock():
                return None
            return token.value

    def _fetch_token(
        self,
        endpoint: Endpoint,
        challenge: Challenge,
        scopes: Sequence[str],
        creds: Credentials | None,
        cache_as: Sequence[str],
    ) -> str:
        """Fetch a token for ``scopes``; cache it under ``cache_as`` (what requests ask)."""
        realm = challenge.params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidArgument(f"registry {endpoint.domain}: bad token realm {realm!r}")
        query = [("service", challenge.params["service"])] if "service" in challenge.params else []
        query += [("scope", s) for s in scopes]
        url = realm + ("&" if parts.query else "?") + urlencode(query)
        auth_endpoint = self._realm_endpoint(endpoint, parts.scheme, parts.netloc)
        headers = {"Accept": "application/json"}
        if creds is not None:
            headers["Authorization"] = basic_header(creds)
        with self.transport.request(auth_endpoint, "GET", url, headers) as response:
            body = response.read()
            status = response.status
        if status in (401, 403):
            raise Unauthorized(
                f"{endpoint.domain}: the token service refused the credentials: "
                f"{error_summary(body) or 'unauthorized'}: check the user name and password"
            )
        if status != 200:
            raise Unauthorized(
                f"{endpoint.domain}: cannot get a token from {realm} (status {status}): "
                f"{error_summary(body)}"
            )
        token, expires_in = parse_token_response(body)
        with self._lock:
            self._tokens[self._key(challenge, cache_as)] = _Token(
                token, self.clock() + max(expires_in - EXPIRY_MARGIN, 1.0)
            )
        return token

    def _realm_endpoint(self, registry: Endpoint, scheme: str, netloc: str) -> Endpoint:
        if netloc == registry.netloc and (scheme == "https") == registry.secure:
            return registry
        secure = scheme == "https"
        if secure:
            base = self.transport.hosts.endpoint(netloc)
            return Endpoint(netloc, base.host, base.port, True, base.ssl_context, base.proxy)
        host, port = split_host_port(netloc, 80)
        return Endpoint(netloc, host, port, False)


def parse_token_response(body: bytes) -> tuple[str, float]:
    """(token, seconds it lives) of a token service's JSON answer."""
    try:
        doc = json.loads(body)
    except ValueError as e:
        raise Unauthorized(f"the token service answered something that is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise Unauthorized("the token service answered something that is not a JSON object")
    token = doc.get("token") or doc.get("access_token")
    if not isinstance(token, str) or not token:
        raise Unauthorized("the token service answered no token")
    expires = doc.get("expires_in")
    if isinstance(expires, bool) or not isinstance(expires, int | float) or expires <= 0:
        expires = DEFAULT_EXPIRY
    return token, float(expires)
