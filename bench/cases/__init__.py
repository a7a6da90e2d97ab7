"""Benchmark cases; importing a module registers its cases with the harness."""

from . import daemon, images, runtime

__all__ = ["daemon", "images", "runtime"]
