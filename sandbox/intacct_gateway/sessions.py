"""API sessions and readByQuery result cursors: the gateway state that outlives one request."""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .clock import Clock
from .errors import invalid_session
from .xmlout import RecordWriter

DEFAULT_SESSION_TIMEOUT = timedelta(hours=2)
MAX_SESSIONS = 10_000
MAX_CURSORS_PER_SESSION = 20
CURSOR_IDLE_TIMEOUT = timedelta(minutes=30)


@dataclass
class Session:
    """Who a session id signs in: user, company and entity ("" = top level)."""

    session_id: str
    company_id: str
    user_id: str
    user_key: int
    location_id: str
    started: datetime
    expires: datetime
    requests: int = 0  # requests authenticated with this id
    cursors: OrderedDict[str, Cursor] = field(default_factory=OrderedDict)


@dataclass
class Cursor:
    """What a readByQuery matched, for readMore to hand out page by page."""

    result_id: str
    object_name: str
    rows: list[Any]
    pagesize: int
    render: RecordWriter  # writes records with the readByQuery's fields
    position: int = 0
    touched: datetime | None = None

    @property
    def remaining(self) -> int:
        return len(self.rows) - self.position


class SessionRegistry:
    """Sessions by id, with Intacct's sliding timeout measured on the company clock."""

    def __init__(self, clock: Clock, timeout: timedelta = DEFAULT_SESSION_TIMEOUT):
        self.clock = clock
        self.timeout = timeout
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, *, company_id: str, user_id: str, user_key: int, location_id: str) -> Session:
        now = self.clock.now()
        # Intacct's session ids end in "..".
        session = Session(
            secrets.token_urlsafe(24) + "..",
            company_id,
            user_id,
            user_key,
            location_id,
            now,
            now + self.timeout,
        )
        with self._lock:
            self._prune(now)
            self._sessions[session.session_id] = session
        return session

    def peek(self, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(session_id)

    def authenticate(self, session_id: str) -> Session:
        """The live session with this id, its timeout slid forward; XL03000006 otherwise."""
        now = self.clock.now()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.expires <= now:
                self._sessions.pop(session_id, None)
                raise invalid_session(session_id)
            session.expires = now + self.timeout
            session.requests += 1
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def expire_all(self) -> int:
        """End every session now (clients must sign in again); returns how many there were."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    def count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _prune(self, now: datetime) -> None:
        for session_id in [sid for sid, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[session_id]
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.popitem(last=False)

    # ---- readByQuery cursors, owned by the session that opened them ---------------------------------------

    def open_cursor(
        self, session: Session, object_name: str, rows: list[Any], pagesize: int, render: RecordWriter
    ) -> Cursor:
        cursor = Cursor(secrets.token_hex(16), object_name, rows, pagesize, render, touched=self.clock.now())
        with self._lock:
            session.cursors[cursor.result_id] = cursor
            while len(session.cursors) > MAX_CURSORS_PER_SESSION:
                session.cursors.popitem(last=False)
        return cursor

    def find_cursor(
        self, session: Session, result_id: str | None = None, object_name: str | None = None
    ) -> Cursor | None:
        """The session's cursor by resultId, or its latest one on `object_name`; None when gone."""
        now = self.clock.now()
        with self._lock:
            for stale in [k for k, c in session.cursors.items() if c.touched + CURSOR_IDLE_TIMEOUT <= now]:
                del session.cursors[stale]
            if result_id is not None:
                cursor = session.cursors.get(result_id)
            else:
                cursor = next(
                    (c for c in reversed(session.cursors.values()) if c.object_name == object_name), None
                )
            if cursor is not None:
                cursor.touched = now
            return cursor

    def close_cursor(self, session: Session, cursor: Cursor) -> None:
        with self._lock:
            session.cursors.pop(cursor.result_id, None)
