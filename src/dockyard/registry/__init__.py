"""The distribution client: talk to OCI / Docker v2 registries (stdlib HTTP only).

- ``hosts``: endpoints per registry (TLS material from a certs dir, insecure registries,
  proxies from the environment).
- ``transport``: HTTP/1.1 connection pools per endpoint, retries with back-off, redirects.
- ``auth``: ``WWW-Authenticate`` challenges, Basic, Bearer tokens cached per scope.
- ``client``: ``RegistryClient`` and ``Repository`` (ping, manifests, tags, catalog).
- ``manifests``: media types, parsing, platform selection; schema 1 refused.
- ``blobs``: HEAD, download with digest check and Range resume, uploads, mounts.

The image code (``images.pull``/``images.push``) drives these; nothing here touches the
image store.
"""

from .auth import Authorizer, Challenge, Credentials, parse_challenges
from .blobs import blob_size, fetch_blob, mount_blob, upload_blob
from .client import FetchedManifest, RegistryClient, Repository
from .errors import RegistryUnavailable, Unauthorized
from .hosts import DEFAULT_CERTS_DIR, Endpoint, RegistryHosts
from .manifests import Manifest, Platform
from .transport import RetryPolicy

__all__ = [
    "DEFAULT_CERTS_DIR",
    "Authorizer",
    "Challenge",
    "Credentials",
    "Endpoint",
    "FetchedManifest",
    "Manifest",
    "Platform",
    "RegistryClient",
    "RegistryHosts",
    "RegistryUnavailable",
    "Repository",
    "RetryPolicy",
    "Unauthorized",
    "blob_size",
    "fetch_blob",
    "mount_blob",
    "parse_challenges",
    "upload_blob",
]
