"""Benchmark cases; importing a module registers its cases with the harness."""

from . import runtime

__all__ = ["runtime"]
