"""Benchmark cases; importing a module registers its cases with the harness."""

from . import containers, daemon, images, runtime

__all__ = ["containers", "daemon", "images", "runtime"]
