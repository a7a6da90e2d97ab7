"""cgroup managers for v1, v2 and hybrid hosts, with the hierarchy root injected."""
