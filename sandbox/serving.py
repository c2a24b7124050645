"""What the two sandboxes' HTTP sides share: a threading server on one address, `BackgroundServer` (the
handle tests and scripts hold: start, stop, context manager, URL), a request handler base that keeps
headers out of the log, and the command line's serve-until-signalled wait.

Each sandbox keeps its own routes, body rules and answers (Intacct's gateway takes chunked bodies,
Forecast's API asks for a Content-Length); only the serving is here.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

log = logging.getLogger(__name__)
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, owner: BackgroundServer):
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)


class BackgroundServer:
    """A server on `(host, port)` (port 0 picks a free one), served from a background thread by
    `handler`; subclasses say what `start()` returns and what they serve."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]
    description: ClassVar[str] = "the sandbox server"

    def __init__(self, host: str, port: int):
        self._address = (host, port)
        self._httpd: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def bound_address(self) -> tuple[str, int]:
        """(host, port) once started: the bound port; before, the requested one."""
        return tuple(self._httpd.server_address[:2]) if self._httpd else self._address

    @property
    def port(self) -> int:
        return self.bound_address[1]

    @property
    def url(self) -> str:
        """The root URL, e.g. http://127.0.0.1:41234 (once started)."""
        if self._httpd is None:
            raise RuntimeError(f"{self.description} is not started")
        host, port = self.bound_address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> str:
        """Bind and serve in a background thread (once); returns the root URL."""
        if self._httpd is None:
            self._httpd = SandboxHTTPServer(self._address, self.handler, self)
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class SandboxRequestHandler(BaseHTTPRequestHandler):
    """Every method goes to `dispatch(method)`; `send_body` and `drop_connection` answer."""

    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    # headers and body go out in two writes: do not wait for an ACK between them
    disable_nagle_algorithm = True
    sys_version = ""
    server: SandboxHTTPServer

    def dispatch(self, method: str) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        # the request line only: headers, and with them credentials and API keys, never reach the log
        log.debug("%s - %s", self.address_string(), format % args)

    def from_loopback(self) -> bool:
        return self.client_address[0] in LOOPBACK

    def send_body(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def drop_connection(self) -> None:
        """Close without an answer, as a server that dies after applying a request does."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may be gone already
            self.connection.shutdown(socket.SHUT_RDWR)


def serve_until_signalled(server: BackgroundServer) -> None:
    """Block until SIGINT or SIGTERM, then stop `server` (the sandboxes' `python -m` entry points)."""
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    server.stop()
