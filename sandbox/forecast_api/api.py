"""The public API under /api, as Forecast documents it (Part A of the Forecast notes), JSON only.

    GET /api/v1/clients            GET|PUT|DELETE /api/v1/clients/{id}        POST /api/v1/clients
    GET /api/v2/persons            GET|PUT|DELETE /api/v2/persons/{id}        POST /api/v2/persons
    GET /api/v1/departments        GET /api/v1/departments/{id}               (read-only)
    GET /api/v1/profiles           GET /api/v1/profiles/person/{person_id}

A request goes through, in order: the armed faults (a proxy's failure comes before Forecast sees the
request), the API key (401), the key's rate limit (429 with Retry-After), the route (404, 405), the
Content-Type of a POST or PUT (415), its body (400), then the store (400, 403, 404). Every answer but
a dropped one is JSON `{"status": n, "message": "..."}` on error. Each request lands in the ledger.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from typing import Any

from .faults import Fault, Faults, HtmlError, Slow, Throttle
from .keys import ApiKeys
from .ledger import Ledger, LedgerEntry
from .ratelimit import RateLimiter
from .resources import RecordError
from .store import Store

PREFIX = "/api"
KEY_HEADER = "X-FORECAST-API-KEY"
JSON_TYPE = "application/json; charset=utf-8"
UNAUTHENTICATED = "Server failed to authenticate the request."
_ID = r"(?P<id>-?\d+)"


@dataclass
class Reply:
    """An HTTP answer; `drop` means close the connection without sending it."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Reply(int(status), body, headers=headers or {})


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """Forecast's error body: the status again and a message saying what is wrong."""
    return json_reply(status, {"status": int(status), "message": message}, headers)


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    resource: str
    kind: str  # "collection", "item" or "person_profiles"
    methods: tuple[str, ...]
    refusal: str = ""  # the 405 message, when a method is not served


def _route(path: str, resource: str, kind: str, *methods: str, refusal: str = "") -> _Route:
    return _Route(re.compile(PREFIX + path), resource, kind, methods, refusal)


_READ_ONLY_DEPARTMENTS = "departments are read-only in Forecast's public API"
_READ_ONLY_PROFILES = "profiles are read-only in Forecast's public API"
ROUTES = (
    _route("/v1/clients", "clients", "collection", "GET", "POST"),
    _route(f"/v1/clients/{_ID}", "clients", "item", "GET", "PUT", "DELETE"),
    _route("/v2/persons", "persons", "collection", "GET", "POST"),
    _route(f"/v2/persons/{_ID}", "persons", "item", "GET", "PUT", "DELETE"),
    _route("/v1/departments", "departments", "collection", "GET", refusal=_READ_ONLY_DEPARTMENTS),
    _route(f"/v1/departments/{_ID}", "departments", "item", "GET", refusal=_READ_ONLY_DEPARTMENTS),
    _route("/v1/profiles", "profiles", "collection", "GET", refusal=_READ_ONLY_PROFILES),
    _route(f"/v1/profiles/person/{_ID}", "profiles", "person_profiles", "GET", refusal=_READ_ONLY_PROFILES),
)


class ForecastApi:
    """Answers /api requests from the company in `store`. `latency_ms` (changeable) is slept before
    every answer."""

    def __init__(
        self,
        store: Store,
        keys: ApiKeys,
        limiter: RateLimiter,
        faults: Faults,
        ledger: Ledger,
        *,
        latency_ms: float = 0.0,
    ):
        self.store = store
        self.keys = keys
        self.limiter = limiter
        self.faults = faults
        self.ledger = ledger
        self.latency_ms = latency_ms

    def handle(self, method: str, path: str, headers: Message, body: bytes) -> Reply:
        """The answer to one /api request (`path` without its query string)."""
        fault_name, fault = self.faults.before(method, path) or (None, None)
        if fault is None or isinstance(fault, Slow):
            if isinstance(fault, Slow):
                time.sleep(fault.delay_s)
            reply = self._serve(method, path, headers, body)
            if 200 <= reply.status < 300 and self.faults.drop_after_write(method, path):
                reply.drop, fault_name = True, "drop_after_write"
        else:
            reply = _fault_reply(fault)
        self.ledger.record(LedgerEntry(method, path, reply.status, _now(), reply.drop, fault_name))
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        return reply

    def _serve(self, method: str, path: str, headers: Message, body: bytes) -> Reply:
        presented = headers.get(KEY_HEADER)
        actor = self.keys.owner(presented)
        if actor is None:
            return error_reply(HTTPStatus.UNAUTHORIZED, UNAUTHENTICATED)
        wait = self.limiter.take(presented)
        if wait:
            limit = self.limiter.settings()
            return error_reply(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"Too many requests: at most {limit['rate']:g} a second per API key, bursts of "
                f"{limit['burst']:g}; retry after {wait} s",
                {"Retry-After": str(wait)},
            )
        found = _match(path)
        if found is None:
            return error_reply(HTTPStatus.NOT_FOUND, f"there is no endpoint {path}")
        route, record_id = found
        if method not in route.methods:
            message = route.refusal or f"{method} is not allowed on {path}"
            return error_reply(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{message}; allowed: {', '.join(route.methods)}",
                {"Allow": ", ".join(route.methods)},
            )
        values: dict[str, Any] = {}
        if method in ("POST", "PUT"):
            content_type = headers.get("Content-Type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                return error_reply(
                    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                    f"Content-Type must be application/json, not {content_type or 'missing'}",
                )
            try:
                values = _json_object(body)
            except RecordError as error:
                return error_reply(error.status, error.message)
        try:
            return self._apply(method, route, record_id, values, actor)
        except RecordError as error:
            return error_reply(error.status, error.message)

    def _apply(
        self, method: str, route: _Route, record_id: int | None, values: dict[str, Any], actor: int
    ) -> Reply:
        store, resource = self.store, route.resource
        if route.kind == "person_profiles":
            return json_reply(HTTPStatus.OK, store.profiles_of(record_id))
        if route.kind == "collection":
            if method == "POST":
                return json_reply(HTTPStatus.CREATED, store.create(resource, values, actor=actor))
            return json_reply(HTTPStatus.OK, store.records(resource))
        if method == "PUT":
            return json_reply(HTTPStatus.OK, store.update(resource, record_id, values, actor=actor))
        if method == "DELETE":
            return json_reply(HTTPStatus.OK, store.delete(resource, record_id))
        return json_reply(HTTPStatus.OK, store.get(resource, record_id))


def _match(path: str) -> tuple[_Route, int | None] | None:
    path = path.rstrip("/") or "/"
    for route in ROUTES:
        matched = route.pattern.fullmatch(path)
        if matched:
            record_id = matched.groupdict().get("id")
            return route, None if record_id is None else int(record_id)
    return None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordError(HTTPStatus.BAD_REQUEST, f"the body is not valid UTF-8 JSON: {error}") from None
    if not isinstance(value, dict):
        raise RecordError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    return value


def _fault_reply(fault: Fault) -> Reply:
    if isinstance(fault, Throttle):
        return error_reply(
            HTTPStatus.TOO_MANY_REQUESTS,
            f"Too many requests; retry after {fault.retry_after} s",
            {"Retry-After": str(fault.retry_after)},
        )
    status = fault.status  # a server_error or an html_error
    phrase = HTTPStatus(status).phrase
    if isinstance(fault, HtmlError):
        page = (
            f"<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        return Reply(status, page.encode(), "text/html")
    return error_reply(status, f"{phrase}: the request was not processed; retry it later")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
