"""The web's production server: waitress, for ``attendance web`` and ``attendance run`` alike.

Waitress serves with threads in one process. ``attendance run`` keeps every service in one
process around an in-memory bus, so a server that forks workers could not serve it; and the
live views need threads anyway, since each open MJPEG or Server-Sent Events stream holds one for
as long as it is open. Waitress 3 sends every write of a response at once (its ``send_bytes`` is
1), so stream parts reach the browser when they are yielded, not when a buffer fills.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.trigger import trigger

from services.common.runtime import stop_on_signals
from services.web.settings import WebSettings

logger = logging.getLogger(__name__)

# Request threads still busy after this long are left behind (they are daemon threads): a
# stream waiting for its next frame or event notices its closed connection only when it writes.
STOP_TIMEOUT_S = 5.0
PROXY_HEADERS = frozenset(
    {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port"}
)
# Room above the upload limit for the multipart envelope and the text fields; larger bodies are
# refused by the server before it spools them, the rest by the app with its JSON error.
BODY_ENVELOPE_BYTES = 2 * 1024 * 1024


class WebServer:
    """A WSGI app on ``host:port``, listening from construction until :meth:`stop`."""

    def __init__(
        self,
        app: Callable,
        host: str,
        port: int,
        *,
        threads: int,
        trusted_proxy: str | None = None,
        max_body_bytes: int | None = None,
    ) -> None:
        proxy: dict = {}
        if trusted_proxy:
            proxy = {"trusted_proxy": trusted_proxy, "trusted_proxy_headers": PROXY_HEADERS}
        limits = {"max_request_body_size": max_body_bytes} if max_body_bytes else {}
        self._map: dict = {}
        self._server = create_server(
            app,
            map=self._map,
            host=host,
            port=port,
            threads=threads,
            ident="attendance",
            # Without a trusted proxy, X-Forwarded-* are dropped before the app sees them.
            clear_untrusted_proxy_headers=True,
            # Keeps reading a connection while its request runs, so a client that goes away is
            # noticed (``environ["waitress.client_disconnected"]``) before the next write.
            channel_request_lookahead=1,
            **proxy,
            **limits,
        )
        # Wakes the server's loop from another thread to close its sockets in the loop's own
        # thread: the loop owns them and must not see them closed under its feet.
        self._wake = trigger(self._map)
        self._lock = threading.Lock()
        self._serving = False
        self._stop_requested = False
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        listening = getattr(self._server, "effective_listen", None)
        return int(listening[0][1] if listening else self._server.effective_port)

    def serve_forever(self) -> None:
        """Serve until :meth:`stop`; then wait a little for the request threads to finish."""
        with self._lock:
            if self._stop_requested:
                return
            self._serving = True
        try:
            self._server.run()
        finally:
            wasyncore.close_all(self._map)
            self._server.task_dispatcher.shutdown(timeout=STOP_TIMEOUT_S)
            self._stopped.set()

    def stop(self, timeout: float = 2 * STOP_TIMEOUT_S) -> bool:
        """Stop listening, close every connection (open streams included) and wait for
        :meth:`serve_forever` to return. Not from a request thread of this server."""
        with self._lock:
            if self._stop_requested:
                return self._stopped.wait(timeout)
            self._stop_requested = True
            serving = self._serving
        if not serving:
            self._close_connections()
            self._server.task_dispatcher.shutdown(timeout=0)
            self._stopped.set()
            return True
        self._wake.pull_trigger(self._close_connections)
        return self._stopped.wait(timeout)

    def _close_connections(self) -> None:
        for dispatcher in list(self._map.values()):
            if isinstance(dispatcher, HTTPChannel):
                # Wakes a request thread waiting to write, which then ends its response.
                dispatcher.handle_close()
        # The listening socket and the triggers last: an empty map ends the loop.
        wasyncore.close_all(self._map)


def web_server(app: Callable, settings: WebSettings) -> WebServer:
    """The server ``attendance web`` and ``attendance run`` run, from the web's settings."""
    return WebServer(
        app,
        settings.web_host,
        settings.web_port,
        threads=settings.web_threads,
        trusted_proxy=settings.web_trusted_proxy,
        max_body_bytes=settings.web_max_upload_bytes + BODY_ENVELOPE_BYTES,
    )


def serve_until_signalled(app: Callable, settings: WebSettings) -> None:
    """Serve ``app`` until SIGTERM (docker stop) or SIGINT (Ctrl-C), then stop cleanly."""
    server = web_server(app, settings)
    stopping = threading.Event()
    # The handler only sets a flag: the server is stopped from this thread, not from inside
    # a signal handler that may have interrupted the server's own loop.
    stop_on_signals(stopping.set)
    loop = threading.Thread(target=server.serve_forever, name="web-server")
    loop.start()
    logger.info(
        "web dashboard on http://%s:%d (%d threads)",
        settings.web_host,
        server.port,
        settings.web_threads,
    )
    try:
        while loop.is_alive() and not stopping.wait(0.5):
            pass
    finally:
        server.stop()
        loop.join(timeout=STOP_TIMEOUT_S)
