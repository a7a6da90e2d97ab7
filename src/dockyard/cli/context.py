"""What every command gets from the global flags: the daemon address, TLS, the debug mode."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.client.api import APIClient


class Context:
    """The global options; ``client()`` connects lazily (``--help`` never touches the net)."""

    __slots__ = ("_client", "debug", "host", "tls_flags")

    def __init__(
        self, host: str, debug: bool = False, tls_flags: dict[str, str | bool | None] | None = None
    ) -> None:
        self.host = host
        self.debug = debug
        self.tls_flags = tls_flags or {}  # --tls, --tlsverify, --tlscacert, ... as given
        self._client: APIClient | None = None

    def client(self) -> APIClient:
        if self._client is None:
            import os

            from dockyard.client.api import APIClient

            pinned = os.environ.get("DOCKYARD_API_VERSION") or os.environ.get("DOCKER_API_VERSION")
            tls = None
            if self.host.startswith(("tcp://", "https://")):
                from dockyard.client.tls import TLSOptions

                tls = TLSOptions.resolve(self.tls_flags, os.environ)
            self._client = APIClient.for_host(self.host, pinned or None, tls)
        return self._client
