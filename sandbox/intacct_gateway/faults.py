"""Fault injection: the ways a real Intacct gateway misbehaves, selectable per run and changeable live.

Every fault has a name and keyword parameters (see `FAULTS` and docs/sandbox.md). Intermittent faults
take a trigger: `every=k` (every k-th request), `nth=(3, 7)` (those requests), `first=n` (the next n),
`rate=p` with `seed` (a seeded, hence repeatable, random share), `times=t` (stop after t hits); with
none of them a fault hits every request. Requests are counted per fault from the moment it is enabled.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from .errors import permission_denied, processing_error
from .store import Store, StoreError

DEFAULT_SLOTS = 2


@dataclass
class Trigger:
    every: int = 0
    nth: tuple[int, ...] = ()
    first: int = 0
    rate: float = 0.0
    seed: int = 0
    times: int = 0

    def __post_init__(self) -> None:
        self.nth = tuple(int(n) for n in self.nth)
        self._rng = random.Random(self.seed)
        self._seen = 0
        self._fired = 0

    def hit(self) -> bool:
        """Count one request; whether the fault strikes it."""
        self._seen += 1
        n = self._seen
        if self.times and self._fired >= self.times:
            return False
        if self.every:
            strike = n % self.every == 0
        elif self.nth:
            strike = n in self.nth
        elif self.first:
            strike = n <= self.first
        elif self.rate:
            strike = self._rng.random() < self.rate
        else:
            strike = True
        self._fired += strike
        return strike


@dataclass
class Latency:
    """Delay every request by `ms` milliseconds, while it holds its concurrency slot."""

    ms: float = 0.0


@dataclass
class Slots:
    """At most `count` requests in flight per company; more get HTTP 429 with GW-0010 at once."""

    count: int = DEFAULT_SLOTS


@dataclass
class Throttle(Trigger):
    """HTTP 429 with a GW-0010 body, whatever the concurrency."""


@dataclass
class InvalidRequest(Trigger):
    """HTTP 400 with a GW-0011 body."""


@dataclass
class ServerError(Trigger):
    """A 5xx answer without XML (`status` 500, 502, 503 or 524...)."""

    status: int = 500


@dataclass
class HtmlError(Trigger):
    """A CDN's HTML error page instead of XML."""

    status: int = 502


@dataclass
class DropConnection(Trigger):
    """Close the connection without answering."""


@dataclass
class Maintenance(Trigger):
    """Functions fail with "The Service is Temporarily Off-line"; with `seconds`, for that long instead."""

    seconds: float = 0.0


@dataclass
class SessionExpiry:
    """Sessions die after `after` requests made with them (mid-paging), answering XL03000006."""

    after: int = 1


@dataclass
class UnstableOrder:
    """Rows of a query without orderby (and of each readByQuery) come in a shuffled order."""

    seed: int = 0


@dataclass
class DataChange:
    """After the `after_pages`-th page of `object` served (every such page with `repeat`), change data.

    Deletes take the lowest RECORDNOs (rows already paged, so offset paging then skips rows), updates
    a seeded sample, creates append new records; `action(store)` runs custom changes.
    """

    object: str = "CUSTOMER"
    after_pages: int = 1
    repeat: bool = False
    creates: int = 0
    updates: int = 0
    deletes: int = 0
    seed: int = 0
    action: Callable[[Store], None] | None = None


@dataclass
class AuditDenied:
    """Reading AUDITHISTORY fails with PL04000005 (the user lacks the permission)."""


@dataclass
class AuditErrors(Trigger):
    """Reading AUDITHISTORY fails with DL02000001 on the triggered requests."""


FAULTS: dict[str, type] = {
    "latency": Latency,
    "slots": Slots,
    "throttle": Throttle,
    "invalid_request": InvalidRequest,
    "server_error": ServerError,
    "html_error": HtmlError,
    "drop_connection": DropConnection,
    "maintenance": Maintenance,
    "session_expiry": SessionExpiry,
    "unstable_order": UnstableOrder,
    "data_change": DataChange,
    "audit_denied": AuditDenied,
    "audit_errors": AuditErrors,
}
# The faults that replace the whole HTTP answer, in the order they take precedence.
TRANSPORT_FAULTS = ("drop_connection", "server_error", "html_error", "invalid_request", "throttle")


class Faults:
    """The faults active on a gateway. Thread-safe; change them at any time."""

    def __init__(self, store: Store, active: Mapping[str, Mapping[str, Any]] | None = None):
        self._store = store
        self._lock = threading.Lock()
        self._active: dict[str, Any] = {}
        self._in_flight: dict[tuple[str, str], int] = {}
        self._maintenance_until: datetime | None = None
        self._pages: dict[str, int] = {}
        self._requests = 0
        self.reset()
        for name, params in (active or {}).items():
            self.enable(name, **params)

    # ---- configuring --------------------------------------------------------------------------------

    def enable(self, name: str, **params: Any) -> None:
        """Turn a fault on (or replace its parameters); counting restarts."""
        kind = _kind(name)
        known = {f.name for f in fields(kind)}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"fault {name!r} has no parameter {sorted(unknown)}; it takes {sorted(known)}")
        fault = kind(**params)
        with self._lock:
            self._active[name] = fault
            if name == "maintenance":
                seconds = fault.seconds
                self._maintenance_until = (
                    self._store.clock.now() + timedelta(seconds=seconds) if seconds else None
                )
            if name == "data_change":
                self._pages.pop(fault.object, None)

    def disable(self, name: str) -> None:
        _kind(name)
        with self._lock:
            self._active.pop(name, None)

    def reset(self) -> None:
        """Back to a well-behaved gateway: only the default two concurrency slots."""
        with self._lock:
            self._active = {"slots": Slots()}
            self._maintenance_until = None
            self._pages.clear()

    def active(self) -> dict[str, dict[str, Any]]:
        """The active faults and their parameters (JSON-friendly, without callables)."""
        with self._lock:
            return {
                name: {k: v for k, v in asdict(fault).items() if not callable(v)}
                for name, fault in self._active.items()
            }

    @staticmethod
    def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
        """`"server_error:every=5,status=503"` -> ("server_error", {"every": 5, "status": 503}).

        Lists join with "+" (`nth=3+7`); numbers, true/false and words are understood.
        """
        name, _, rest = spec.partition(":")
        name = name.strip()
        types = {f.name: f.type for f in fields(_kind(name))}
        params: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, _, value = item.partition("=")
            key = key.strip()
            if key not in types:
                raise ValueError(f"fault {name!r} has no parameter {key!r}; it takes {sorted(types)}")
            params[key] = _spec_value(str(types[key]), value.strip())
        return name, params

    # ---- what the gateway asks ----------------------------------------------------------------------

    def transport_fault(self) -> tuple[str, Any] | None:
        """The fault that replaces this request's whole answer, if any (every trigger counts it)."""
        with self._lock:
            self._requests += 1
            struck = [name for name in TRANSPORT_FAULTS if name in self._active and self._active[name].hit()]
            return (struck[0], self._active[struck[0]]) if struck else None

    def in_maintenance(self) -> bool:
        with self._lock:
            fault = self._active.get("maintenance")
            if fault is None:
                return False
            if self._maintenance_until is not None:
                return self._store.clock.now() < self._maintenance_until
            return fault.hit()

    @property
    def latency_seconds(self) -> float:
        fault = self._active.get("latency")
        return fault.ms / 1000 if fault else 0.0

    def acquire_slot(self, company: tuple[str, str]) -> bool:
        """Take a concurrency slot for the company (sender, company id); False when all are busy."""
        with self._lock:
            slots = self._active.get("slots")
            busy = self._in_flight.get(company, 0)
            if slots is not None and slots.count > 0 and busy >= slots.count:
                return False
            self._in_flight[company] = busy + 1
            return True

    def release_slot(self, company: tuple[str, str]) -> None:
        with self._lock:
            self._in_flight[company] -= 1

    def in_flight(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return {k: v for k, v in self._in_flight.items() if v}

    def session_request_limit(self) -> int | None:
        fault = self._active.get("session_expiry")
        return fault.after if fault else None

    def order_rows(self, rows: list[Any]) -> list[Any]:
        """Rows in the order a query without orderby returns them: key order, or shuffled."""
        with self._lock:
            fault = self._active.get("unstable_order")
            if fault is None:
                return rows
            rng = random.Random(f"{fault.seed}:{self._requests}")
        shuffled = list(rows)
        rng.shuffle(shuffled)
        return shuffled

    def check_audit_read(self, function: str) -> None:
        """Raise the AUDITHISTORY failure this request gets, if any."""
        with self._lock:
            if "audit_denied" in self._active:
                raise permission_denied(function, "AUDITHISTORY")
            errors = self._active.get("audit_errors")
            if errors is not None and errors.hit():
                raise processing_error()

    def page_served(self, object_name: str) -> None:
        """Count a page of `object_name` handed out and make the data change that is due."""
        with self._lock:
            fault = self._active.get("data_change")
            if fault is None or fault.object != object_name:
                return
            self._pages[object_name] = pages = self._pages.get(object_name, 0) + 1
            due = pages == fault.after_pages or (fault.repeat and pages % fault.after_pages == 0)
        if due:
            _change_data(self._store, fault, pages)


def _kind(name: str) -> type:
    kind = FAULTS.get(name)
    if kind is None:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    return kind


def _change_data(store: Store, fault: DataChange, pages: int) -> None:
    from .generator import changed_values, new_record_values  # the generator builds on this module's store

    rng = random.Random(f"{fault.seed}:{pages}")
    with store.lock:
        table = store.table(fault.object)
        deleted = 0
        for row in list(table.rows):
            if deleted >= fault.deletes:
                break
            try:
                store.delete(fault.object, row[table.key_column])
                deleted += 1
            except StoreError:
                continue
        targets = rng.sample(table.rows, min(fault.updates, len(table.rows)))
        for row in targets:
            key = row[table.key_column]
            store.update(
                fault.object, key, changed_values(store, fault.object, store.get(fault.object, key), rng)
            )
        for _ in range(fault.creates):
            store.create(fault.object, new_record_values(store, fault.object, rng))
        if fault.action is not None:
            fault.action(store)


def _spec_value(type_name: str, text: str) -> Any:
    if "tuple" in type_name:
        return tuple(int(part) for part in text.split("+") if part)
    if "bool" in type_name:
        return text.lower() in ("1", "true", "yes", "on", "")
    if "int" in type_name and "float" not in type_name:
        return int(text)
    if "float" in type_name:
        return float(text)
    return text
