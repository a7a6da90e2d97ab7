"""The composition root of dockyardd: config, wiring, startup recovery, signals."""
