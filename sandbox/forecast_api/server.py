"""The HTTP side: a threading server for the API and the admin view, and `ForecastApiServer`, the handle
tests and scripts hold."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from ..serving import BackgroundServer, SandboxRequestHandler
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


class _RequestHandler(SandboxRequestHandler):
    server_version = "ForecastSandbox/1.0"

    def dispatch(self, method: str) -> None:
        path = self.path.partition("?")[0]
        try:
            body = self._body()
            if body is None:
                return
            if _under(path, API_PREFIX):
                self._answer(self.server.owner.api.handle(method, path, self.headers, body))
            elif _under(path, ADMIN_PREFIX):
                if not self.from_loopback():
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
            self.drop_connection()
        else:
            self.send_body(reply.status, reply.body, reply.content_type, reply.headers)


class ForecastApiServer(BackgroundServer):
    """A sandbox Forecast API on a local port, serving one company generated from `seed` with `clients`,
    `people` and `departments` records (besides the API owner, person 1, and a system user, person 2).

    `start()` binds (port 0 picks a free port) and returns the root URL; `stop()` ends it; it is a
    context manager. The API is at `base_url` (root + /api) for the key `api_key`, limited to `rate`
    requests a second per key with bursts of `burst` (default max(1, rate); rate 0: no limit), each
    answer delayed by `latency_ms`. `faults` arms faults from the start: specs (`"throttle:count=2"`)
    or mappings (`{"name": "slow", "delay_s": 2}`), see `faults`. The admin view is at `admin_url`;
    in-process, `.store`, `.faults`, `.ledger`, `.keys` and `.limiter` are the live objects.
    """

    handler = _RequestHandler
    description = "the Forecast API server"

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
        super().__init__(host, port)

    @property
    def store(self) -> Store:
        return self._store

    @property
    def api_key(self) -> str:
        """The key the server was started with (active unless the admin view deactivated it)."""
        return self._api_key

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
            "host": self.bound_address[0],
            "port": self.port,
            "schema": "http",
            "password": self._api_key,
            "extra": {**extra},
        }


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")
