"""Benchmark cases; importing a module registers its cases with the harness."""

from . import build, containers, daemon, images, network, registry, runtime

__all__ = ["build", "containers", "daemon", "images", "network", "registry", "runtime"]
