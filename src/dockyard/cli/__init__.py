"""The docker-compatible ``dockyard`` command: a thin client of dockyardd."""
