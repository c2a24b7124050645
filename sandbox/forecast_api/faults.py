"""Fault injection: the ways Forecast's API (or the proxy in front of it) misbehaves, armed per run or live.

A fault is armed from a spec `NAME[:k=v,...]` (`server_error:method=POST,path=/api/v1/clients,count=2`)
or from keyword parameters. Every fault takes `method` (default any), `path` (a prefix of the request
path, default any) and a trigger: `count=N` strikes the next N matching requests and then disarms,
`every=N` strikes every N-th matching request (for good, or `count` times); neither means count=1.
Faults are tried in the order they were armed; the first that strikes a request handles it, later ones
do not see it. They apply to /api requests only.

    server_error      answer `status` (500, 502, 503, 504; default 503) with a JSON error, not applied
    html_error        answer `status` (default 502) with a proxy's HTML page, not applied
    slow              sleep `delay_s` seconds (default 1), then answer normally
    throttle          answer 429 with Retry-After `retry_after` (default 2), not applied
    drop_after_write  apply the write, then close the connection without answering; only successful
                      writes (POST, PUT, DELETE answered 2xx) count as its matching requests
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SERVER_ERROR_STATUSES = (500, 502, 503, 504)
WRITES = ("POST", "PUT", "DELETE")


@dataclass
class Fault:
    """Which requests a fault strikes: those of `method` whose path starts with `path`, by the trigger."""

    method: str | None = None
    path: str | None = None
    count: int = 0
    every: int = 0
    fired: int = field(default=0, init=False)
    _seen: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.count < 0 or self.every < 0:
            raise ValueError(f"count and every are at least 0, not {self.count} and {self.every}")
        if self.path is not None and not self.path.startswith("/"):
            raise ValueError(
                f"path is a prefix of the request path such as /api/v1/clients, not {self.path!r}"
            )
        self.method = self.method.upper() if self.method else None
        if not self.count and not self.every:
            self.count = 1

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )

    def strike(self) -> bool:
        """Count one matching request; whether the fault strikes it."""
        self._seen += 1
        struck = not self.every or self._seen % self.every == 0
        self.fired += struck
        return struck

    @property
    def spent(self) -> bool:
        return bool(self.count) and self.fired >= self.count


@dataclass
class ServerError(Fault):
    status: int = 503

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.status not in SERVER_ERROR_STATUSES:
            raise ValueError(f"server_error status is one of {SERVER_ERROR_STATUSES}, not {self.status}")


@dataclass
class HtmlError(Fault):
    status: int = 502

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 400 <= self.status <= 599:
            raise ValueError(f"html_error status is a 4xx or 5xx status, not {self.status}")


@dataclass
class Slow(Fault):
    delay_s: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.delay_s < 0:
            raise ValueError(f"slow delay_s is at least 0, not {self.delay_s}")


@dataclass
class Throttle(Fault):
    retry_after: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.retry_after < 0:
            raise ValueError(f"throttle retry_after is at least 0 seconds, not {self.retry_after}")


@dataclass
class DropAfterWrite(Fault):
    pass


FAULTS: dict[str, type[Fault]] = {
    "server_error": ServerError,
    "html_error": HtmlError,
    "slow": Slow,
    "throttle": Throttle,
    "drop_after_write": DropAfterWrite,
}


@dataclass
class _Armed:
    id: int
    name: str
    fault: Fault


class Faults:
    """The faults armed on a server. Thread-safe; arm and disarm them at any time.

    `initial` holds specs (`"throttle:every=3"`) or mappings (`{"name": "slow", "delay_s": 2}`).
    """

    def __init__(self, initial: Iterable[str | Mapping[str, Any]] | None = None):
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._ids = itertools.count(1)
        for item in initial or ():
            if isinstance(item, str):
                name, params = self.parse_spec(item)
                self.arm(name, **params)
            else:
                self.arm(**item)

    # ---- configuring --------------------------------------------------------------------------------

    def arm(self, name: str, **params: Any) -> dict[str, Any]:
        """Arm a fault; returns it as `armed()` lists it. ValueError for an unknown name or parameter."""
        kind = _kind(name)
        known = [f.name for f in fields(kind) if f.init]
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError(
                f"fault {name!r} has no parameter {', '.join(unknown)}; it takes {', '.join(known)}"
            )
        types = {f.name: str(f.type) for f in fields(kind)}
        for key, value in params.items():
            if not _fits(types[key], value):
                raise ValueError(f"fault {name!r}: {key} must be {types[key]}, not {value!r}")
        fault = kind(**params)
        with self._lock:
            armed = _Armed(next(self._ids), name, fault)
            self._armed.append(armed)
            return _describe(armed)

    def disarm(self, fault_id: int) -> bool:
        with self._lock:
            before = len(self._armed)
            self._armed = [a for a in self._armed if a.id != fault_id]
            return len(self._armed) < before

    def disarm_all(self) -> None:
        with self._lock:
            self._armed.clear()

    def armed(self) -> list[dict[str, Any]]:
        """The armed faults in arming order: id, name, parameters and how often each fired."""
        with self._lock:
            return [_describe(a) for a in self._armed]

    @staticmethod
    def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
        """`"server_error:status=502,count=2"` -> ("server_error", {"status": 502, "count": 2})."""
        name, _, rest = spec.partition(":")
        name = name.strip()
        types = {f.name: f.type for f in fields(_kind(name)) if f.init}
        params: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, equals, value = (part.strip() for part in item.partition("="))
            if key not in types:
                raise ValueError(f"fault {name!r} has no parameter {key!r}; it takes {', '.join(types)}")
            if not equals:
                raise ValueError(f"fault {name!r}: write {key}=VALUE")
            try:
                params[key] = _python_type(str(types[key]))(value)
            except ValueError:
                raise ValueError(f"fault {name!r}: {key} must be {types[key]}, not {value!r}") from None
        return name, params

    # ---- what the API asks --------------------------------------------------------------------------

    def before(self, method: str, path: str) -> tuple[str, Fault] | None:
        """The fault that handles this request before it is applied, if one strikes."""
        return self._strike(method, path, lambda name: name != "drop_after_write")

    def drop_after_write(self, method: str, path: str) -> bool:
        """Whether to drop the answer of this write, which was applied."""
        if method not in WRITES:
            return False
        return self._strike(method, path, lambda name: name == "drop_after_write") is not None

    def _strike(self, method: str, path: str, wanted: Callable[[str], bool]) -> tuple[str, Fault] | None:
        with self._lock:
            for armed in self._armed:
                if wanted(armed.name) and armed.fault.matches(method, path) and armed.fault.strike():
                    if armed.fault.spent:
                        self._armed.remove(armed)
                    return armed.name, armed.fault
            return None


def _kind(name: str) -> type[Fault]:
    kind = FAULTS.get(name)
    if kind is None:
        raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    return kind


def _python_type(annotation: str) -> type:
    # the dataclass annotations are strings (from __future__ import annotations)
    if annotation.startswith("str"):
        return str
    return float if annotation == "float" else int


def _fits(annotation: str, value: Any) -> bool:
    if value is None:
        return "None" in annotation
    if isinstance(value, bool):
        return False
    kind = _python_type(annotation)
    return isinstance(value, int | float) if kind is float else isinstance(value, kind)


def _describe(armed: _Armed) -> dict[str, Any]:
    params = {k: v for k, v in asdict(armed.fault).items() if not k.startswith("_")}
    return {"id": armed.id, "name": armed.name, **params}
