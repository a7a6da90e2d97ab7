"""What a registry answers when it refuses: the distribution spec's error JSON mapped to
Dockyard's error kinds.

A registry error body is ``{"errors": [{"code": "MANIFEST_UNKNOWN", "message": ...}]}``.
``Unauthorized`` is an ``InvalidArgument`` (the caller's credentials are wrong or
missing); unknown names and blobs are ``NotFound``; a registry that keeps failing or
cannot be reached is a ``RegistryUnavailable`` (a ``SystemFault``).
"""

from __future__ import annotations

import json

from dockyard.errors import DockyardError, InvalidArgument, NotFound, NotSupported, SystemFault


class Unauthorized(InvalidArgument):
    """The registry refused our credentials (or we had none)."""


class RegistryUnavailable(SystemFault):
    """The registry cannot be reached or keeps failing (5xx, resets) after retries."""


_NOT_FOUND = {"BLOB_UNKNOWN", "MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
_AUTH = {"UNAUTHORIZED", "DENIED"}


def error_summary(body: bytes) -> str:
    """``code: message`` of a registry error body (its first error), or the raw text."""
    try:
        doc = json.loads(body or b"{}")
        first = doc["errors"][0]
        code = str(first.get("code", "")).lower()
        message = str(first.get("message", ""))
        return f"{code}: {message}" if code else message
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return body[:200].decode("utf-8", "replace").strip()


def _codes(body: bytes) -> set[str]:
    try:
        doc = json.loads(body or b"{}")
        return {str(e.get("code", "")) for e in doc.get("errors", [])}
    except (ValueError, TypeError, AttributeError):
        return set()


def error_for(status: int, body: bytes, what: str) -> DockyardError:
    """The error kind for a failed registry request about ``what``."""
    summary = error_summary(body) or f"status {status}"
    codes = _codes(body)
    if status == 401 or codes & _AUTH:
        return Unauthorized(
            f"{what}: {summary or 'unauthorized'}: check the user name and password "
            "(dockyard login) and that you may access this repository"
        )
    if status == 403:
        return Unauthorized(f"{what}: denied: {summary}")
    if status == 404 or codes & _NOT_FOUND:
        return NotFound(f"{what}: {summary}")
    if status == 405 or "UNSUPPORTED" in codes:
        return NotSupported(f"{what}: the registry does not support this: {summary}")
    if status >= 500:
        return RegistryUnavailable(f"{what}: the registry failed (status {status}): {summary}")
    return InvalidArgument(f"{what}: the registry refused the request ({status}): {summary}")
