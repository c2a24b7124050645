"""The HTTP side: a threading server for the API and the admin view, and `ForecastApiServer`, the handle
tests and scripts hold."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .admin import PREFIX as ADMIN_PREFIX
from .admin import AdminApi
from .api import PREFIX as API_PREFIX
from .api import ForecastApi, Reply, error_reply
from .faults import Faults
from .generator import generate_company
from .keys import DEFAULT_API_KEY, ApiKeys
from .ledger import Ledger
from .ratelimit import RateLimiter
from .store import Store

log = logging.getLogger(__name__)
MAX_BODY = 8 * 1024 * 1024
_LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


class ForecastApiServer:
    """A sandbox Forecast API on a local port, serving one company generated from `seed` with `clients`,
    `people` and `departments` records (besides the API owner, person 1, and a system user, person 2).

    `start()` binds (port 0 picks a free port) and returns the root URL; `stop()` ends it; it is a
    context manager. The API is at `base_url` (root + /api) for the key `api_key`, limited to `rate`
    requests a second per key with bursts of `burst` (default max(1, rate); rate 0: no limit), each
    answer delayed by `latency_ms`. `faults` arms faults from the start: specs (`"throttle:count=2"`)
    or mappings (`{"name": "slow", "delay_s": 2}`), see `faults`. The admin view is at `admin_url`;
    in-process, `.store`, `.faults`, `.ledger`, `.keys` and `.limiter` are the live objects.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 1,
        clients: int = 0,
        people: int = 0,
        departments: int = 0,
        api_key: str = DEFAULT_API_KEY,
        rate: float = 10.0,
        burst: float | None = None,
        latency_ms: float = 0.0,
        faults: Iterable[str | Mapping[str, Any]] | None = None,
    ):
        self._store = generate_company(seed, clients=clients, people=people, departments=departments)
        self._api_key = api_key
        self.keys = ApiKeys(api_key)
        self.limiter = RateLimiter(rate, burst)
        self.faults = Faults(faults)
        self.ledger = Ledger()
        self.api = ForecastApi(
            self._store, self.keys, self.limiter, self.faults, self.ledger, latency_ms=latency_ms
        )
        self.admin = AdminApi(self._store, self.keys, self.limiter, self.faults, self.ledger)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> Store:
        return self._store

    @property
    def api_key(self) -> str:
        """The key the server was started with (active unless the admin view deactivated it)."""
        return self._api_key

    @property
    def port(self) -> int:
        """The bound port once started (the requested one before)."""
        return self._httpd.server_address[1] if self._httpd else self._address[1]

    @property
    def url(self) -> str:
        """The root URL, e.g. http://127.0.0.1:41234 (once started)."""
        if self._httpd is None:
            raise RuntimeError("the Forecast API server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """Where the API lives: the root URL + /api (paths such as /v1/clients follow)."""
        return self.url + API_PREFIX

    @property
    def admin_url(self) -> str:
        return self.url + ADMIN_PREFIX

    def airflow_connection(self, **extra: Any) -> dict[str, Any]:
        """An Airflow `http` connection (as AIRFLOW_CONN_FORECAST_DEFAULT JSON wants it) to this server
        with its API key as the password; `extra` becomes the connection's extra."""
        return {
            "conn_type": "http",
            "host": self._address[0],
            "port": self.port,
            "schema": "http",
            "password": self._api_key,
            "extra": {**extra},
        }

    def start(self) -> str:
        """Bind and serve in a background thread; returns the root URL."""
        if self._httpd is None:
            self._httpd = _HTTPServer(self._address, _RequestHandler, self)
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> ForecastApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, owner: ForecastApiServer):
        self.owner = owner
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    # headers and body go out in two writes: do not wait for an ACK between them
    disable_nagle_algorithm = True
    server_version = "ForecastSandbox/1.0"
    sys_version = ""
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        # the request line only: headers, and with them the API key, never reach the log
        log.debug("%s - %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        path = self.path.partition("?")[0]
        try:
            body = self._body()
            if body is None:
                return
            if _under(path, API_PREFIX):
                self._answer(self.server.owner.api.handle(method, path, self.headers, body))
            elif _under(path, ADMIN_PREFIX):
                if self.client_address[0] not in _LOOPBACK:
                    self._answer(
                        error_reply(HTTPStatus.FORBIDDEN, "the admin view answers loopback clients only")
                    )
                else:
                    self._answer(self.server.owner.admin.handle(method, path, body))
            else:
                self._answer(
                    error_reply(HTTPStatus.NOT_FOUND, f"there is no endpoint {path}; the API is under /api")
                )
        except Exception:  # a sandbox bug: answer like a broken server would, and say why in the log
            log.exception("sandbox Forecast API failed on %s %s", method, path)
            self._answer(error_reply(HTTPStatus.INTERNAL_SERVER_ERROR, "the sandbox failed; see its log"))

    def _body(self) -> bytes | None:
        """The request body, or None after answering why it cannot be read."""
        refusal = None
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            refusal = error_reply(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
        else:
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit():
                refusal = error_reply(HTTPStatus.BAD_REQUEST, f"Content-Length {length!r} is not a length")
            elif int(length) > MAX_BODY:
                refusal = error_reply(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is limited to {MAX_BODY} bytes"
                )
            else:
                return self.rfile.read(int(length))
        self.close_connection = True  # the unread body would be taken for the next request
        self._answer(refusal)
        return None

    def _answer(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may be gone already
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
