"""Route modules: each has ``register(router, service)`` for one resource."""
