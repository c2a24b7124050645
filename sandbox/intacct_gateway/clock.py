"""The sandbox's notion of "now": wall time or a frozen instant, either one movable by tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    """Current time for record stamps, session timeouts and maintenance windows.

    `Clock()` follows the wall clock; `Clock(start)` stands still at `start` until moved. Either kind can
    be moved with `advance()` or `set()`, so "modified after X" and session expiry are deterministic in
    tests.
    """

    def __init__(self, start: datetime | None = None):
        self._lock = threading.Lock()
        self._frozen_at = _aware(start) if start is not None else None
        self._offset = timedelta(0)

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC, whole seconds (Intacct stamps have no fractions)."""
        with self._lock:
            base = self._frozen_at if self._frozen_at is not None else datetime.now(UTC)
            return (base + self._offset).replace(microsecond=0)

    def advance(self, seconds: float) -> datetime:
        """Move time forward (or back, with a negative number) and return the new now."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, instant: datetime) -> datetime:
        """Jump to `instant`; a wall clock keeps ticking from there."""
        instant = _aware(instant)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at, self._offset = instant, timedelta(0)
            else:
                self._offset = instant - datetime.now(UTC)
        return self.now()


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"the clock needs a timezone-aware datetime, got {instant!r}")
    return instant.astimezone(UTC)
