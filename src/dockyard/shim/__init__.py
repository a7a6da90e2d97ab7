"""The per-container monitor (shim): holds a container's stdio, logs and exit status.

The daemon starts one shim per container run (``python -m dockyard.shim``); it detaches
into its own session, runs the OCI runtime, and serves a unix socket
(``<exec_root>/shims/<id>.sock``) with the small protocol of ``protocol.py``. It
outlives a daemon restart; it exits after the container did and its status is saved.
"""
