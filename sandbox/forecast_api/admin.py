"""The admin view beside the API (under /admin, loopback clients only, no API key, no rate limit): a test's
way to seed, inspect and break the company. Bodies and answers are JSON; errors are
`{"status": n, "message": "..."}` as on the API.

    GET    /admin  |  /admin/summary            record counts, request counts, faults, rate limit, keys
    GET    /admin/{resource}                    full records (persons with profile_ids and external_refs)
    POST   /admin/{resource}                    one object or a list: created all or none -> 201
    GET|PUT|DELETE /admin/{resource}/{id}       one record; PUT is a partial update
    GET    /admin/requests  |  DELETE           the ledger of /api requests  |  empty it
    GET    /admin/faults                        armed faults
    POST   /admin/faults                        {"name": "server_error", ...params} -> 201
    DELETE /admin/faults  |  /admin/faults/{id} disarm all  |  one
    POST   /admin/reset                         an empty company, ledger cleared, faults disarmed, the
                                                initial API key alone, rate-limit buckets full
    POST   /admin/keys                          {"key": "...", "active": true|false}: add or (de)activate
    GET|POST /admin/rate                        {"rate": r, "burst": b}: the limit, changed at run time

{resource} is clients, persons, departments or profiles. Writes follow the API's checks, except that
departments and profiles can be written, `is_system_user` and `external_refs` can be set, system users
changed, any person deleted, and deleting a department or client unlinks the persons naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from .api import Reply, error_reply, json_reply
from .faults import Faults
from .keys import ApiKeys
from .ledger import Ledger
from .ratelimit import RateLimiter
from .resources import RESOURCES, RecordError
from .store import Store

PREFIX = "/admin"


Handler = Callable[[str, int | None, Any], Reply]  # (method, id from the path, body) -> answer


@dataclass
class AdminApi:
    store: Store
    keys: ApiKeys
    limiter: RateLimiter
    faults: Faults
    ledger: Ledger

    def __post_init__(self) -> None:
        # (first path part, whether an id follows) -> (methods served, handler)
        self._routes: dict[tuple[str, bool], tuple[tuple[str, ...], Handler]] = {
            ("summary", False): (("GET",), lambda *_: json_reply(HTTPStatus.OK, self._summary())),
            ("requests", False): (("GET", "DELETE"), self._requests),
            ("faults", False): (("GET", "POST", "DELETE"), self._faults),
            ("faults", True): (("DELETE",), self._faults),
            ("reset", False): (("POST",), self._reset),
            ("keys", False): (("POST",), self._key),
            ("rate", False): (("GET", "POST"), self._rate),
        }
        for resource in RESOURCES:
            self._routes[resource, False] = (("GET", "POST"), partial(self._records, resource))
            self._routes[resource, True] = (("GET", "PUT", "DELETE"), partial(self._records, resource))

    def handle(self, method: str, path: str, body: bytes) -> Reply:
        """The answer to one admin request (`path` without its query string)."""
        try:
            payload = json.loads(body) if body.strip() else None
            parts = [part for part in path[len(PREFIX) :].split("/") if part]
            return self._route(method, parts, payload)
        except json.JSONDecodeError as error:
            return error_reply(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {error}")
        except RecordError as error:
            return error_reply(error.status, error.message)
        except (ValueError, TypeError) as error:
            return error_reply(HTTPStatus.BAD_REQUEST, str(error))

    def _route(self, method: str, parts: list[str], payload: Any) -> Reply:
        where = f"{PREFIX}/{'/'.join(parts)}"
        head, rest = (parts[0], parts[1:]) if parts else ("summary", [])
        route = self._routes.get((head, bool(rest))) if len(rest) <= 1 else None
        if route is None:
            return error_reply(HTTPStatus.NOT_FOUND, f"there is no admin route {where}")
        allowed, handler = route
        if method not in allowed:
            return error_reply(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{method} is not served on {where}; allowed: {', '.join(allowed)}",
                {"Allow": ", ".join(allowed)},
            )
        return handler(method, _id(rest[0]) if rest else None, payload)

    def _summary(self) -> dict[str, Any]:
        ledger = self.ledger.snapshot()
        return {
            "records": self.store.counts(),
            "requests": {
                "total": self.ledger.total(),
                "counts": ledger["counts"],
                "by_status": ledger["by_status"],
            },
            "faults": self.faults.armed(),
            "rate": self.limiter.settings(),
            "keys": self.keys.counts(),
        }

    def _records(self, resource: str, method: str, record_id: int | None, payload: Any) -> Reply:
        store = self.store
        if record_id is None:
            if method == "GET":
                return json_reply(HTTPStatus.OK, store.records(resource, admin=True))
            if isinstance(payload, list):
                if not all(isinstance(item, dict) for item in payload):
                    raise ValueError("the body is one JSON object or a list of them")
                return json_reply(HTTPStatus.CREATED, store.create_many(resource, payload))
            return json_reply(HTTPStatus.CREATED, store.create(resource, _object(payload), admin=True))
        if method == "GET":
            return json_reply(HTTPStatus.OK, store.get(resource, record_id, admin=True))
        if method == "PUT":
            return json_reply(HTTPStatus.OK, store.update(resource, record_id, _object(payload), admin=True))
        return json_reply(HTTPStatus.OK, store.delete(resource, record_id, admin=True))

    def _faults(self, method: str, fault_id: int | None, payload: Any) -> Reply:
        if method == "GET":
            return json_reply(HTTPStatus.OK, self.faults.armed())
        if method == "POST":
            params = dict(_object(payload))
            name = params.pop("name", None)
            if not isinstance(name, str):
                raise ValueError('the body names the fault: {"name": "server_error", ...params}')
            return json_reply(HTTPStatus.CREATED, self.faults.arm(name, **params))
        if fault_id is None:
            self.faults.disarm_all()
        elif not self.faults.disarm(fault_id):
            raise RecordError(HTTPStatus.NOT_FOUND, f"there is no armed fault {fault_id}")
        return json_reply(HTTPStatus.OK, self.faults.armed())

    def _requests(self, method: str, _: int | None, __: Any) -> Reply:
        if method == "DELETE":
            self.ledger.reset()
        return json_reply(HTTPStatus.OK, self.ledger.snapshot())

    def _rate(self, method: str, _: int | None, payload: Any) -> Reply:
        if method == "POST":
            values = _object(payload)
            self.limiter.configure(values.get("rate", self.limiter.rate), values.get("burst"))
        return json_reply(HTTPStatus.OK, self.limiter.settings())

    def _key(self, _: str, __: int | None, payload: Any) -> Reply:
        values = _object(payload)
        active = values.get("active", True)
        if not isinstance(active, bool):
            raise ValueError("active is true or false")
        self.keys.set(values.get("key"), active=active)
        # the answer leaves the key out: keys are never echoed
        return json_reply(HTTPStatus.OK, {"active": active, "keys": self.keys.counts()})

    def _reset(self, *_: Any) -> Reply:
        self.store.reset()
        self.ledger.reset()
        self.faults.disarm_all()
        self.keys.reset()
        self.limiter.refill()
        return json_reply(HTTPStatus.OK, self._summary())


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    return payload


def _id(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RecordError(HTTPStatus.NOT_FOUND, f"{text!r} is not an id") from None
