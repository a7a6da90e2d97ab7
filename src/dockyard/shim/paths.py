"""Where a shim's sockets live, as plain strings (``main.py`` runs before ``pathlib``)."""

# unix socket paths must fit in 108 bytes: name them by a 16-hex prefix of the id
# (ids are random 64-hex; a prefix of 16 makes a clash a 1 in 2**64 event)
SHORT_ID = 16


def shims_dir(exec_root: str) -> str:
    return f"{exec_root}/shims"


def socket_file(exec_root: str, container_id: str) -> str:
    return f"{shims_dir(exec_root)}/{container_id[:SHORT_ID]}.sock"


def console_file(exec_root: str, container_id: str) -> str:
    """Where the runtime hands the shim a container's pty master (``--console-socket``)."""
    return f"{shims_dir(exec_root)}/{container_id[:SHORT_ID]}.tty"
