"""A small HTTP endpoint for each worker: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], bool]


def serve_health(
    port: int,
    ready: ReadinessCheck,
    host: str = "0.0.0.0",
    before_scrape: Callable[[], None] | None = None,
) -> ThreadingHTTPServer:
    """Serve ``/healthz`` (the process answers), ``/readyz`` (its dependencies answer) and
    ``/metrics`` on a daemon thread; port 0 picks a free port (see ``server_address``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._reply(200, b"ok\n", "text/plain")
            elif self.path == "/readyz":
                try:
                    is_ready = ready()
                except Exception:
                    logger.warning("readiness check failed", exc_info=True)
                    is_ready = False
                self._reply(
                    200 if is_ready else 503,
                    b"ready\n" if is_ready else b"not ready\n",
                    "text/plain",
                )
            elif self.path == "/metrics":
                if before_scrape is not None:
                    try:
                        before_scrape()
                    except Exception:
                        logger.warning("could not refresh metrics", exc_info=True)
                self._reply(200, generate_latest(), CONTENT_TYPE_LATEST)
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            logger.debug("health: " + format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    logger.info("health endpoint on port %d", server.server_address[1])
    return server
