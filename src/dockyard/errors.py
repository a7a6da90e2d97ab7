"""Error kinds shared by every layer (stdlib only).

Raise a kind with a lower-case message that names the object and says what to do,
e.g. ``NotFound("no such container: web")``; chain the cause with ``from``.
"""


class DockyardError(Exception):
    """Base of every error Dockyard raises on purpose."""


class NotFound(DockyardError):
    """The named object does not exist."""


class Conflict(DockyardError):
    """The object exists already, or is in a state that forbids the operation."""


class InvalidArgument(DockyardError):
    """The caller's input is malformed or contradicts itself."""


class NotSupported(DockyardError):
    """The request is valid but this host or build cannot do it."""


class SystemFault(DockyardError):
    """The host failed underneath us (a syscall, a file system, a child process)."""


class NotModified(DockyardError):
    """The object is already in the requested state (started, stopped): nothing to do."""
