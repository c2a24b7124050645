"""The request ledger: what clients asked the gateway, for tests and benchmarks to count."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class FunctionCall:
    """One function of a request and how it ended (success, failure, aborted)."""

    function: str
    object: str
    status: str
    errorno: str = ""


@dataclass(frozen=True)
class LedgerEntry:
    """One HTTP request to the gateway.

    `outcome` is "ok" (the operation ran; see each call's status), "control_failure", "auth_failure",
    "maintenance", "throttled" (429), "invalid_request" (400), "server_error", "html_error" or
    "dropped" (no answer, http_status 0).
    """

    seq: int
    http_status: int
    outcome: str
    company: str
    duration_ms: float
    calls: tuple[FunctionCall, ...] = ()


class Ledger:
    """Thread-safe record of requests; totals survive the entry list's cap of MAX_ENTRIES."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LedgerEntry] = deque(maxlen=MAX_ENTRIES)
        self._calls: Counter[tuple[str, str, str]] = Counter()
        self._outcomes: Counter[str] = Counter()
        self._seq = 0

    def record(
        self,
        *,
        http_status: int,
        outcome: str,
        company: str = "",
        duration_ms: float = 0.0,
        calls: tuple[FunctionCall, ...] = (),
    ) -> LedgerEntry:
        with self._lock:
            self._seq += 1
            entry = LedgerEntry(self._seq, int(http_status), outcome, company, round(duration_ms, 3), calls)
            self._entries.append(entry)
            self._outcomes[outcome] += 1
            self._calls.update((c.function, c.object, c.status) for c in calls)
            return entry

    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return list(self._entries)

    def requests(self, outcome: str | None = None) -> int:
        """How many HTTP requests there were (with that outcome)."""
        with self._lock:
            return sum(n for o, n in self._outcomes.items() if outcome in (None, o))

    def calls(self, function: str | None = None, object: str | None = None, status: str | None = None) -> int:
        """How many function calls match; None matches anything (object "" = functions without one)."""
        with self._lock:
            return sum(
                n
                for (f, o, s), n in self._calls.items()
                if function in (None, f) and object in (None, o) and status in (None, s)
            )

    def counts(self) -> dict[tuple[str, str], int]:
        """Function calls per (function, object), whatever their status."""
        totals: Counter[tuple[str, str]] = Counter()
        with self._lock:
            for (function, object_name, _), n in self._calls.items():
                totals[function, object_name] += n
        return dict(totals)

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._calls.clear()
            self._outcomes.clear()

    def snapshot(self, limit: int | None = None) -> dict[str, Any]:
        """Everything as JSON-friendly data: totals, calls per function and object, latest entries."""
        with self._lock:
            entries = list(self._entries)[-limit:] if limit else list(self._entries)
            calls = [
                {"function": f, "object": o, "status": s, "count": n}
                for (f, o, s), n in sorted(self._calls.items())
            ]
            return {
                "requests": sum(self._outcomes.values()),
                "outcomes": dict(self._outcomes),
                "calls": calls,
                "entries": [asdict(e) for e in entries],
            }
