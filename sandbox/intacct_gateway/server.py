"""The HTTP side: a threading server for the gateway and the admin API, and `GatewayServer`, the handle
tests and scripts hold."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from http import HTTPStatus
from typing import Any

from ..serving import BackgroundServer, SandboxRequestHandler
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
_TEXT = "text/plain; charset=UTF-8"


class _RequestHandler(SandboxRequestHandler):
    server_version = "IntacctSandbox/1.0"

    def dispatch(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        try:
            if path == GATEWAY_PATH:
                self._gateway(method)
            elif path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
                self._admin(method, path, query)
            else:
                self.send_body(HTTPStatus.NOT_FOUND, b"Not Found\n", _TEXT)
        except Exception:  # a sandbox bug: answer like a broken server would, and say why in the log
            log.exception("sandbox gateway failed on %s %s", method, self.path)
            self.send_body(HTTPStatus.INTERNAL_SERVER_ERROR, b"Internal Server Error\n", _TEXT)

    def _gateway(self, method: str) -> None:
        if method != "POST":  # Intacct blocks GET on the gateway
            self.send_body(HTTPStatus.METHOD_NOT_ALLOWED, b"Only POST\n", _TEXT, {"Allow": "POST"})
            return
        body = self._body()
        if body is None:
            return
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        reply = self.server.owner.gateway.handle(body, host)
        if reply.drop:
            self.drop_connection()
        else:
            self.send_body(reply.status, reply.body, reply.content_type)

    def _admin(self, method: str, path: str, query: str) -> None:
        if not self.from_loopback():
            self.send_body(
                HTTPStatus.FORBIDDEN,
                b'{"error": "the admin API answers loopback clients only"}',
                "application/json",
            )
            return
        body = self._body() if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        if body is None:
            return
        status, answer = self.server.owner.admin.handle(method, path, query, body)
        self.send_body(
            status, json.dumps(answer, ensure_ascii=False, default=str).encode("utf-8"), "application/json"
        )

    def _body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_body(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"Request too large\n", _TEXT)
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
                self.send_body(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"Request too large\n", _TEXT)
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()


class GatewayServer(BackgroundServer):
    """A sandbox Intacct gateway on a local port, serving one company.

    Give it a `store` (see `generate_company`) or the sizes to generate one from `seed`. `start()` binds
    (port 0 picks a free port) and returns the gateway URL; `stop()` ends it; it is a context manager.
    `latency_ms`, `slots` and `faults` ({name: {param: value}}, see `faults.FAULTS`) set the initial
    faults; change them live through `.faults`. Requests are counted in `.ledger`.
    """

    handler = _RequestHandler
    description = "the gateway server"

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
        super().__init__(host, port)

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
        host, port = self.bound_address
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
        super().start()
        return self.endpoint
