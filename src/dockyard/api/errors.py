"""Error kinds -> HTTP: the ONE place that decides the status code of an error.

The body is Docker's ``{"message": "..."}`` (304 has none). Anything that is not a
``DockyardError`` is a bug: it becomes a 500 with its message, and its traceback is
logged, so one bad request never takes the daemon down.
"""

from __future__ import annotations

import logging

from dockyard.errors import (
    Conflict,
    DockyardError,
    InvalidArgument,
    NotFound,
    NotModified,
    NotSupported,
    SystemFault,
)
from dockyard.registry.errors import Unauthorized

from .router import Response, json_response

log = logging.getLogger(__name__)

STATUS: dict[type[DockyardError], int] = {
    NotModified: 304,
    InvalidArgument: 400,
    Unauthorized: 401,  # a registry refused the credentials (as dockerd)
    NotFound: 404,
    Conflict: 409,
    SystemFault: 500,
    NotSupported: 501,
}


def status_of(error: BaseException) -> int:
    """The HTTP status for ``error``: the nearest mapped kind in its class hierarchy."""
    for kind in type(error).__mro__:
        status = STATUS.get(kind)
        if status is not None:
            return status
    return 500


def error_response(error: BaseException, context: str = "") -> Response:
    """The response for an error raised by a handler (logs unexpected ones)."""
    status = status_of(error)
    if not isinstance(error, DockyardError):
        log.error(
            "unexpected error%s: %r", f" in {context}" if context else "", error, exc_info=error
        )
    elif status >= 500:
        log.warning("%s%s", f"{context}: " if context else "", error)
    if status == 304:
        return Response(304, b"", None)
    message = str(error) or type(error).__name__
    return json_response({"message": message}, status)
