"""Dockyard: a container engine (daemon, docker-compatible CLI, OCI runtime)."""

__version__ = "0.1.0"
