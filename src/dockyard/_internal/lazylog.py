"""Loggers that cost nothing until logging is switched on.

``import logging`` costs about 9 ms; the runtime's whole start-up budget is about 15.
Modules on the container start path take ``getLogger(__name__)`` from here: calls are
dropped until ``enable()`` (``dockyard-runtime --debug`` or ``--log``) imports the real
``logging`` and forwards to it from then on.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging


class _State:
    enabled = False


class LazyLogger:
    __slots__ = ("_name", "_real")

    def __init__(self, name: str) -> None:
        self._name = name
        self._real: logging.Logger | None = None

    def _logger(self) -> logging.Logger:
        if self._real is None:
            import logging

            self._real = logging.getLogger(self._name)
        return self._real

    def debug(self, msg: str, *args: object) -> None:
        if _State.enabled:
            self._logger().debug(msg, *args)

    def info(self, msg: str, *args: object) -> None:
        if _State.enabled:
            self._logger().info(msg, *args)

    def warning(self, msg: str, *args: object) -> None:
        if _State.enabled:
            self._logger().warning(msg, *args)
        else:
            import sys

            sys.stderr.write(f"warning: {msg % args if args else msg}\n")

    def error(self, msg: str, *args: object) -> None:
        if _State.enabled:
            self._logger().error(msg, *args)


def getLogger(name: str) -> LazyLogger:
    return LazyLogger(name)


def enable() -> None:
    """Forward every lazy logger to the real logging module from now on."""
    _State.enabled = True
