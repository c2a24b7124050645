"""The request ledger: every /api request and how it was answered, for tests to count. It holds the
method, path and status only: never a header, so never an API key."""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class LedgerEntry:
    """One /api request. `status` is what was answered, or for a dropped answer what would have been;
    `dropped` says the connection was closed instead; `fault` names the fault that struck, if any."""

    method: str
    path: str
    status: int
    at: str
    dropped: bool = False
    fault: str | None = None


class Ledger:
    """Thread-safe; the totals survive the entry list's cap of MAX_ENTRIES."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LedgerEntry] = deque(maxlen=MAX_ENTRIES)
        self._methods: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()

    def record(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._entries.append(entry)
            self._methods[entry.method] += 1
            self._statuses[str(entry.status)] += 1

    def entries(self) -> list[LedgerEntry]:
        with self._lock:
            return list(self._entries)

    def total(self) -> int:
        with self._lock:
            return sum(self._methods.values())

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._methods.clear()
            self._statuses.clear()

    def snapshot(self) -> dict[str, Any]:
        """{"requests": [entries, oldest first], "counts": {method: n}, "by_status": {"201": n}}."""
        with self._lock:
            return {
                "requests": [asdict(entry) for entry in self._entries],
                "counts": dict(self._methods),
                "by_status": dict(self._statuses),
            }
