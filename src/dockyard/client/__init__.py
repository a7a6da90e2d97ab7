"""The Engine API client: a unix-socket HTTP transport and typed calls on top of it.

Docker's PascalCase JSON is read and written here (and in ``api/`` models) only; the CLI
formats what these calls return. Importing this package is cheap: the transport loads
only when a client is made.
"""

from dockyard.client.errors import APIError, ClientError, DaemonUnreachable, InvalidHost

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.client.api import APIClient
    from dockyard.client.transport import Transport

__all__ = [
    "APIClient",
    "APIError",
    "ClientError",
    "DaemonUnreachable",
    "InvalidHost",
    "Transport",
]


def __getattr__(name: str) -> object:
    if name == "APIClient":
        from dockyard.client.api import APIClient

        return APIClient
    if name == "Transport":
        from dockyard.client.transport import Transport

        return Transport
    raise AttributeError(name)
