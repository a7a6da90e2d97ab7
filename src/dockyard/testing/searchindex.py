"""A Hub-compatible search service for tests (``/v1/search`` only), for the ``search``
path that registries without a catalog-only answer take."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class SearchIndex:
    """A Hub-compatible search service on 127.0.0.1:<free port>: ``GET /v1/search?q=&n=``
    answers the ``entries`` (dicts of the search JSON) whose name contains ``q``, at
    most ``n``; anything else is 404 (so it is no registry beyond the search)."""

    def __init__(self, entries: list[dict[str, object]]) -> None:
        self.entries = entries
        self.queries: list[dict[str, list[str]]] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                status, body = 404, b'{"errors":[{"code":"NOT_FOUND","message":"no"}]}'
                if parts.path == "/v1/search":
                    query = parse_qs(parts.query)
                    index.queries.append(query)
                    term = query.get("q", [""])[0].lower()
                    limit = int(query.get("n", ["25"])[0])
                    found = [e for e in index.entries if term in str(e["name"]).lower()]
                    doc = {"query": term, "num_results": len(found), "results": found[:limit]}
                    status, body = 200, json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
