"""Docker's PascalCase JSON for each resource, built from the engine's value objects."""
