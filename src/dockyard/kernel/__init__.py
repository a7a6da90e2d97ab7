"""The kernel seam: the ONLY package that uses ctypes or raw syscalls.

Every wrapper logs its arguments at debug level and raises ``OSError`` carrying errno
and the path or arguments it was given. Submodules are imported one by one (no eager
imports here) to keep the runtime's start-up small.
"""
