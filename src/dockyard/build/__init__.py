"""Dockerfile builds: the parser, variable expansion, the build plan and (later) the
builder with its cache."""
