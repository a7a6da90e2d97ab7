"""The ``requires(...)`` marker: skip locally, fail in CI, when the host lacks a feature."""

from __future__ import annotations

import os

from dockyard.kernel.probe import missing


def strict() -> bool:
    """In CI (CI=1 or DOCKYARD_STRICT_FEATURES=1) a missing feature is a failure."""
    return os.environ.get("CI", "") not in ("", "0") or os.environ.get(
        "DOCKYARD_STRICT_FEATURES", ""
    ) not in ("", "0")


def unmet(features: tuple[str, ...]) -> list[str]:
    return missing(features)
