"""A small JSON admin API beside the gateway (under /_admin, loopback clients only).

Routes (bodies and answers are JSON):
  GET    /_admin                                   company, clock, record counts, sessions, faults
  GET    /_admin/records/{OBJECT}?offset=&limit=   records, RECORDNO order
  GET    /_admin/records/{OBJECT}/{ID}             one record by its ID (CUSTOMERID, LOGINID...)
  GET    /_admin/records/{OBJECT}/recordno/{N}     one record by RECORDNO (PATCH and DELETE too)
  POST   /_admin/records/{OBJECT}                  {"values": {...}, "entity": "", "actor": null}
  PATCH  /_admin/records/{OBJECT}/{ID}             {"values": {...}, "entity": null, "actor": null}
  DELETE /_admin/records/{OBJECT}/{ID}
  GET    /_admin/faults                            active faults and their parameters
  PUT    /_admin/faults                            {"name": {params}, ...}: replaces all of them
  POST   /_admin/faults/{name}                     {params}: enables one
  DELETE /_admin/faults/{name}  |  DELETE /_admin/faults (back to defaults)
  GET    /_admin/ledger?limit=N  |  DELETE /_admin/ledger
  POST   /_admin/sessions/expire                   ends every API session
  GET    /_admin/clock  |  POST /_admin/clock      {"advance": seconds} or {"set": "2026-01-31T12:00:00+00:00"}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

from .faults import Faults
from .ledger import Ledger
from .sessions import SessionRegistry
from .store import RecordRef, Store, StoreError

PREFIX = "/_admin"


class AdminError(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class AdminApi:
    store: Store
    faults: Faults
    ledger: Ledger
    sessions: SessionRegistry

    def handle(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        """(HTTP status, JSON-able answer) for one admin request."""
        try:
            payload = json.loads(body) if body.strip() else {}
            parts = [unquote(p) for p in path[len(PREFIX) :].split("/") if p]
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            return self._route(method, parts, params, payload)
        except AdminError as error:
            return error.status, {"error": str(error)}
        except json.JSONDecodeError as error:
            return HTTPStatus.BAD_REQUEST, {"error": f"the body is not JSON: {error}"}
        except (StoreError, ValueError, TypeError) as error:
            return HTTPStatus.BAD_REQUEST, {"error": str(error)}

    def _route(self, method: str, parts: list[str], params: dict[str, str], payload: Any) -> tuple[int, Any]:
        head = parts[0] if parts else ""
        if head == "" and method == "GET":
            return HTTPStatus.OK, self._summary()
        if head == "records" and len(parts) >= 2:
            return self._records(method, parts[1].upper(), parts[2:], params, payload)
        if head == "faults":
            return self._faults(method, parts[1:], payload)
        if head == "ledger" and len(parts) == 1:
            if method == "GET":
                return HTTPStatus.OK, self.ledger.snapshot(
                    int(params["limit"]) if "limit" in params else None
                )
            if method == "DELETE":
                self.ledger.reset()
                return HTTPStatus.OK, {"reset": True}
        if parts == ["sessions", "expire"] and method == "POST":
            return HTTPStatus.OK, {"expired": self.sessions.expire_all()}
        if head == "clock" and len(parts) == 1:
            return self._clock(method, payload)
        raise AdminError(HTTPStatus.NOT_FOUND, f"no admin route {method} {PREFIX}/{'/'.join(parts)}")

    def _summary(self) -> dict[str, Any]:
        return {
            "company_id": self.store.company_id,
            "gmtoffset": self.store.gmt_offset(),
            "now": self.store.clock.now().isoformat(),
            "records": {name: self.store.count(name) for name in self.store.tables},
            "sessions": self.sessions.count(),
            "faults": self.faults.active(),
        }

    def _records(
        self, method: str, object_name: str, rest: list[str], params: dict[str, str], payload: Any
    ) -> tuple[int, Any]:
        store = self.store
        store.table(object_name)  # unknown objects fail here
        options = {k: payload[k] for k in ("entity", "actor", "source") if k in payload}
        if not rest:
            if method == "GET":
                records = store.records(object_name)
                offset, limit = int(params.get("offset", 0)), params.get("limit")
                page = records[offset : offset + int(limit)] if limit else records[offset:]
                return HTTPStatus.OK, {"object": object_name, "count": len(records), "records": page}
            if method == "POST":
                return HTTPStatus.CREATED, store.create(object_name, _values(payload), **options)
        else:
            ref = _ref(rest)
            if method == "GET":
                record = store.get(object_name, ref)
                if record is None:
                    raise AdminError(HTTPStatus.NOT_FOUND, f"no {object_name} {ref!r}")
                return HTTPStatus.OK, record
            if method == "PATCH":
                return HTTPStatus.OK, store.update(object_name, ref, _values(payload), **options)
            if method == "DELETE":
                store.delete(object_name, ref, **{k: v for k, v in options.items() if k != "entity"})
                return HTTPStatus.OK, {"deleted": {"object": object_name, "ref": ref}}
        raise AdminError(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not served on this records route")

    def _faults(self, method: str, rest: list[str], payload: Any) -> tuple[int, Any]:
        if not rest and method == "GET":
            return HTTPStatus.OK, self.faults.active()
        if not rest and method == "PUT":
            self.faults.reset()
            for name, params in payload.items():
                self.faults.enable(name, **(params or {}))
            return HTTPStatus.OK, self.faults.active()
        if not rest and method == "DELETE":
            self.faults.reset()
            return HTTPStatus.OK, self.faults.active()
        if len(rest) == 1 and method == "POST":
            self.faults.enable(rest[0], **payload)
            return HTTPStatus.OK, self.faults.active()
        if len(rest) == 1 and method == "DELETE":
            self.faults.disable(rest[0])
            return HTTPStatus.OK, self.faults.active()
        raise AdminError(
            HTTPStatus.NOT_FOUND,
            "fault routes: GET|PUT|DELETE /_admin/faults, POST|DELETE /_admin/faults/{name}",
        )

    def _clock(self, method: str, payload: Any) -> tuple[int, Any]:
        clock = self.store.clock
        if method == "POST":
            if "advance" in payload:
                clock.advance(float(payload["advance"]))
            elif "set" in payload:
                clock.set(datetime.fromisoformat(payload["set"]))
            else:
                raise AdminError(
                    HTTPStatus.BAD_REQUEST, 'post {"advance": seconds} or {"set": "<ISO-8601 with offset>"}'
                )
        elif method != "GET":
            raise AdminError(HTTPStatus.METHOD_NOT_ALLOWED, "the clock takes GET and POST")
        return HTTPStatus.OK, {"now": clock.now().isoformat(), "frozen": clock.frozen}


def _values(payload: Any) -> dict[str, Any]:
    values = payload.get("values") if isinstance(payload, dict) else None
    if not isinstance(values, dict):
        raise AdminError(HTTPStatus.BAD_REQUEST, 'the body needs "values": {field: value, ...}')
    return values


def _ref(rest: list[str]) -> RecordRef:
    if len(rest) == 2 and rest[0] == "recordno":
        return int(rest[1])
    if len(rest) == 1:
        return rest[0]
    raise AdminError(HTTPStatus.NOT_FOUND, "record routes end in /{ID} or /recordno/{RECORDNO}")
