"""dockyard-runtime: an OCI runtime-spec 1.x runtime with a runc-compatible CLI."""
