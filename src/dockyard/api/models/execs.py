"""Docker's JSON for exec instances: ``ExecInspectResponse`` (``GET /exec/{id}/json``)."""

from __future__ import annotations

from typing import Any

from dockyard.engine.execs import ExecRecord


def exec_inspect(rec: ExecRecord) -> dict[str, Any]:
    """``ExitCode`` is null until the exec has exited, as dockerd answers."""
    return {
        "ID": rec.id,
        "Running": rec.running,
        "ExitCode": rec.exit_code,
        "ProcessConfig": {
            "tty": rec.tty,
            "entrypoint": rec.args[0],
            "arguments": rec.args[1:],
            "privileged": rec.privileged,
            **({"user": rec.user} if rec.user else {}),
        },
        "OpenStdin": rec.open_stdin,
        "OpenStderr": rec.open_stderr,
        "OpenStdout": rec.open_stdout,
        "CanRemove": False,
        "ContainerID": rec.container_id,
        "DetachKeys": rec.detach_keys,
        "Pid": rec.pid,
    }
