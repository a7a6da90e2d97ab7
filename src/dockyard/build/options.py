"""What a build is asked for and what it needs: options, the RUN runner, its error."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.errors import DockyardError


class BuildFailed(DockyardError):
    """A step failed; the message says which and why. ``code``: a RUN's exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Runner(Protocol):
    def run(
        self,
        image_id: str,
        argv: list[str],
        *,
        env: list[str],
        user: str,
        workdir: str,
        network: str,
        created_by: str,
        output: Callable[[str], None],
    ) -> str:
        """Run ``argv`` in a container of ``image_id``; commit it; answer the image id.

        Raises ``BuildFailed`` (with the exit code) when the command fails."""
        ...


@dataclass(frozen=True)
class BuildOptions:
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    cache_from: tuple[str, ...] = ()
    network: str = "none"
    squash: bool = False
    platform: str = ""
