"""The kernel seam: the ONLY package that uses ctypes or raw syscalls.

Every wrapper logs its arguments at debug level and raises ``OSError`` carrying errno
and the path or arguments it was given.
"""

from . import caps, mount, namespaces, probe, process

__all__ = ["caps", "mount", "namespaces", "probe", "process"]
