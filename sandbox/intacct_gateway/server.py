"""The HTTP side: a threading server for the gateway and the admin API, and `GatewayServer`, the handle
tests and scripts hold."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterable, Mapping
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .admin import PREFIX as ADMIN_PREFIX
from .admin import AdminApi
from .clock import Clock
from .faults import DEFAULT_SLOTS, Faults
from .gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD, GATEWAY_PATH, Gateway, Sender
from .generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD, generate_company
from .ledger import Ledger
from .sessions import DEFAULT_SESSION_TIMEOUT
from .store import DEFAULT_TIMEZONE, Store

log = logging.getLogger(__name__)
MAX_BODY = 32 * 1024 * 1024
_LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


class GatewayServer:
    """A sandbox Intacct gateway on a local port, serving one company.

    Give it a `store` (see `generate_company`) or the sizes to generate one from `seed`. `start()` binds
    (port 0 picks a free port) and returns the gateway URL; `stop()` ends it; it is a context manager.
    `latency_ms`, `slots` and `faults` ({name: {param: value}}, see `faults.FAULTS`) set the initial
    faults; change them live through `.faults`. Requests are counted in `.ledger`.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 1,
        customers: int = 200,
        departments: int = 25,
        users: int = 40,
        timezone: str = DEFAULT_TIMEZONE,
        clock: Clock | None = None,
        senders: Iterable[Sender] | None = None,
        latency_ms: float = 0.0,
        slots: int = DEFAULT_SLOTS,
        faults: Mapping[str, Mapping[str, Any]] | None = None,
        session_timeout: timedelta = DEFAULT_SESSION_TIMEOUT,
        public_url: str | None = None,
        console_id: str | None = None,
    ):
        self.store = store or generate_company(
            seed, customers=customers, departments=departments, users=users, timezone=timezone, clock=clock
        )
        initial: dict[str, Mapping[str, Any]] = {"slots": {"count": slots}}
        if latency_ms:
            initial["latency"] = {"ms": latency_ms}
        self.faults = Faults(self.store, {**initial, **(faults or {})})
        self.ledger = Ledger()
        self.gateway = Gateway(
            self.store,
            senders=senders,
            faults=self.faults,
            ledger=self.ledger,
            session_timeout=session_timeout,
            public_url=public_url,
            console_id=console_id,
        )
        self.sessions = self.gateway.sessions
        self.admin = AdminApi(self.store, self.faults, self.ledger, self.sessions)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:41234 (once started)."""
        if self._httpd is None:
            raise RuntimeError("the gateway server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def endpoint(self) -> str:
        """Where Intacct clients POST: the sandbox's /ia/xml/xmlgw.phtml."""
        return self.url + GATEWAY_PATH

    @property
    def admin_url(self) -> str:
        return self.url + ADMIN_PREFIX

    def airflow_connection(self, **extra: Any) -> dict[str, Any]:
        """An Airflow `http` connection (as AIRFLOW_CONN_* JSON wants it) to this gateway with the default
        sender and user; `extra` adds or overrides keys of its extra."""
        host, port = self._httpd.server_address[:2] if self._httpd else self._address
        return {
            "conn_type": "http",
            "host": host,
            "port": port,
            "schema": "http",
            "login": DEFAULT_USER_ID,
            "password": DEFAULT_USER_PASSWORD,
            "extra": {
                "sender_id": DEFAULT_SENDER_ID,
                "sender_password": DEFAULT_SENDER_PASSWORD,
                "company_id": self.store.company_id,
                **extra,
            },
        }

    def start(self) -> str:
        """Bind and serve in a background thread; returns the gateway endpoint URL."""
        if self._httpd is None:
            self._httpd = _HTTPServer(self._address, _RequestHandler, self)
            self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = self._thread = None

    def __enter__(self) -> GatewayServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, owner: GatewayServer):
        self.owner = owner
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    # headers and body go out in two writes: do not wait for an ACK between them
    disable_nagle_algorithm = True
    server_version = "IntacctSandbox/1.0"
    sys_version = ""
    server: _HTTPServer

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _dispatch(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        try:
            if path == GATEWAY_PATH:
                self._gateway(method)
            elif path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
                self._admin(method, path, query)
            else:
                self._send(HTTPStatus.NOT_FOUND, b"Not Found\n", "text/plain; charset=UTF-8")
        except Exception:  # a sandbox bug: answer like a broken server would, and say why in the log
            log.exception("sandbox gateway failed on %s %s", method, self.path)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR, b"Internal Server Error\n", "text/plain; charset=UTF-8"
            )

    def _gateway(self, method: str) -> None:
        if method != "POST":  # Intacct blocks GET on the gateway
            self._send(
                HTTPStatus.METHOD_NOT_ALLOWED, b"Only POST\n", "text/plain; charset=UTF-8", {"Allow": "POST"}
            )
            return
        body = self._body()
        if body is None:
            return
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        reply = self.server.owner.gateway.handle(body, host)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may be gone already
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(reply.status, reply.body, reply.content_type)

    def _admin(self, method: str, path: str, query: str) -> None:
        if self.client_address[0] not in _LOOPBACK:
            self._send(
                HTTPStatus.FORBIDDEN,
                b'{"error": "the admin API answers loopback clients only"}',
                "application/json",
            )
            return
        body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        if body is None:
            return
        status, answer = self.server.owner.admin.handle(method, path, query, body)
        self._send(
            status, json.dumps(answer, ensure_ascii=False, default=str).encode("utf-8"), "application/json"
        )

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"Request too large\n", "text/plain; charset=UTF-8"
            )
            return None
        return self.rfile.read(length)

    def _chunked_body(self) -> bytes | None:
        chunks, total = [], 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                self._send(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"Request too large\n", "text/plain; charset=UTF-8"
                )
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
