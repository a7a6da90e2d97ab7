"""``--sig-proxy``: the signals an attached ``run``/``start -a``/``attach`` (without a
TTY) receives go to the container's process, as docker's ``ForwardAllSignals`` does.

Every signal a process can catch is forwarded (``POST /containers/{id}/kill?signal=``),
except those docker skips: SIGCHLD (our own children), SIGPIPE (a closed output) and
SIGURG; and the synchronous faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL), which Python
cannot survive catching. The kill request runs in a thread: a signal handler must not
block the copy of the streams.
"""

from __future__ import annotations

import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.client.api import APIClient

SKIPPED = frozenset(
    {
        signal.SIGKILL,
        signal.SIGSTOP,
        signal.SIGCHLD,
        signal.SIGPIPE,
        signal.SIGURG,
        signal.SIGSEGV,
        signal.SIGBUS,
        signal.SIGFPE,
        signal.SIGILL,
    }
)


def signal_name(signum: int) -> str:
    """The name the API gets: ``SIGUSR1``; a real-time signal without a name by number."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return str(signum)


def forwarded() -> list[int]:
    """The signals that are proxied (docker's list, see the module doc)."""
    return sorted(int(s) for s in signal.valid_signals() if s not in SKIPPED)


def install(client: APIClient, container_id: str) -> Callable[[], None]:
    """Forward the signals to ``container_id`` until the answer is called."""
    import threading

    def forward(signum: int, _frame: Any) -> None:
        name = signal_name(signum)

        def send() -> None:
            try:
                client.kill(container_id, name)
            except Exception:  # gone already: nothing to tell it
                pass

        threading.Thread(target=send, daemon=True).start()

    previous: list[tuple[int, Any]] = []
    for signum in forwarded():
        try:
            previous.append((signum, signal.signal(signum, forward)))
        except (OSError, ValueError):  # one the interpreter cannot take over
            continue

    def restore() -> None:
        for signum, handler in previous:
            signal.signal(signum, handler)

    return restore
