"""The Docker Engine API over HTTP/1.1: server, routes, models, streams, errors -> HTTP."""
