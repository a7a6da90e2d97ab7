"""Benchmark cases; importing a module registers its cases with the harness."""

from . import images, runtime

__all__ = ["images", "runtime"]
