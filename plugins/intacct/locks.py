"""The apply lock: one apply per entity type at a time, across processes and hosts.

A row per entity type in `intacct_apply_lock` names its holder (owner, host, pid, the process's start)
and a lease, which the holder renews from a background thread for as long as it holds the lock, however
long a batch takes. A waiter takes the lock over
- at once when the holder's process is gone: it ran on this host (same pid namespace, same boot) and its
  pid no longer exists, is a zombie, or now belongs to a process that started at another time;
- otherwise when the lease ran out without being renewed (a holder on another host that died, or that lost
  the database for a whole lease).
Taking over is one compare-and-set UPDATE of the row as it was read, so of two waiters one wins. The holder
checks at each heartbeat (before each write) that the lock is still its own, and stops if it was taken
over or could not be renewed for a whole lease. Lease times are the database server's clock on PostgreSQL
(workers on several hosts) and the local clock on SQLite (a file shared by the processes of one host).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from intacct.state.schema import intacct_apply_lock as lock_table

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)
DEFAULT_WAIT = timedelta(minutes=10)
WAIT_LOG_EVERY = 30.0  # seconds between two "waiting for" lines
# A row written before leases existed (no lease_until): taken over after the silence that version allowed.
_LEGACY_LEASE = timedelta(minutes=15)
_PROC = Path("/proc")
_PLURALS = {"person": "people"}


class ApplyBusy(RuntimeError):
    """The apply lock of an entity type is held by a live run (we gave up waiting), or we lost ours."""


@dataclass(frozen=True)
class Process:
    """A lock holder's process: enough for a waiter on the same host to tell whether it still runs."""

    host: str
    pid: int
    pid_space: str  # the boot and pid namespace in which `pid` names this process
    started: str  # when the process started: a reused pid has another start


def this_process() -> Process:
    """The calling process (looked up at each call: a forked worker is not its parent)."""
    pid = os.getpid()
    return Process(socket.gethostname(), pid, _pid_space(), _start_token(pid))


def _pid_space() -> str:
    try:
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink(_PROC / 'self/ns/pid')}"
    except OSError:  # not Linux: the boot time at least tells reboots apart
        return f"boot:{psutil.boot_time():.0f}"


def _start_token(pid: int) -> str:
    if (_PROC / "self/stat").exists():
        # Clock ticks since boot: unlike psutil's create_time, a step of the wall clock does not move it.
        try:
            stat = (_PROC / str(pid) / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            raise psutil.NoSuchProcess(pid) from None
        return "ticks:" + stat.rsplit(")", 1)[1].split()[19]
    return f"time:{psutil.Process(pid).create_time():.3f}"


def _is_gone(row: Row, here: Process) -> bool:
    """True only when sure: the holder ran here, and its pid is gone, a zombie, or another process now."""
    if row.host is None or row.pid is None or (row.host, row.pid_space) != (here.host, here.pid_space):
        return False
    try:
        if psutil.Process(row.pid).status() == psutil.STATUS_ZOMBIE:
            return True
        return _start_token(row.pid) != row.process_started
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # not ours to inspect: the lease decides
        return False


# -- the row -------------------------------------------------------------------------------------------


def _now(connection: Connection) -> datetime:
    """The lock's clock: the server's on PostgreSQL (hosts' clocks differ), the local one on SQLite."""
    if connection.dialect.name == "postgresql":
        return connection.execute(select(func.clock_timestamp())).scalar_one().astimezone(UTC)
    return datetime.now(UTC)


def _ensure_row(engine: Engine, entity_type: str) -> None:
    try:
        with engine.begin() as connection:
            connection.execute(insert(lock_table).values(entity_type=entity_type))
    except IntegrityError:
        pass  # the row exists already


def _read_row(connection: Connection, entity_type: str) -> Row | None:
    return connection.execute(select(lock_table).where(lock_table.c.entity_type == entity_type)).first()


def _lease_end(row: Row) -> datetime:
    return row.lease_until or row.heartbeat_at + _LEGACY_LEASE


def _take_over_reason(row: Row, now: datetime, here: Process, stale_after: timedelta | None) -> str | None:
    """Why the lock may be taken now ("" when nobody holds it), or None while its holder still holds it."""
    if row.owner is None or row.heartbeat_at is None:
        return ""
    if _is_gone(row, here):
        return "its process is gone"
    if _lease_end(row) <= now:
        return f"its lease expired at {_utc(_lease_end(row))}"
    if stale_after is not None and row.heartbeat_at <= now - stale_after:
        return f"it was silent for longer than stale_after ({stale_after.total_seconds():g} s)"
    return None


def _claim(
    connection: Connection, row: Row, owner: str, here: Process, now: datetime, lease: timedelta
) -> bool:
    """Compare-and-set: take the lock only if its row is still as `row` read it."""
    unchanged = [
        column.is_(None) if value is None else column == value
        for column, value in ((lock_table.c.owner, row.owner), (lock_table.c.heartbeat_at, row.heartbeat_at))
    ]
    return bool(
        connection.execute(
            update(lock_table)
            .where(lock_table.c.entity_type == row.entity_type, *unchanged)
            .values(
                owner=owner,
                heartbeat_at=now,
                lease_until=now + lease,
                host=here.host,
                pid=here.pid,
                pid_space=here.pid_space,
                process_started=here.started,
            )
        ).rowcount
    )


def _renew(engine: Engine, entity_type: str, owner: str, lease: timedelta) -> Row | None:
    """Extend our lease; returns None if it is still ours, else the row of whoever has the lock now."""
    with engine.begin() as connection:
        now = _now(connection)
        held = connection.execute(
            update(lock_table)
            .where(lock_table.c.entity_type == entity_type, lock_table.c.owner == owner)
            .values(heartbeat_at=now, lease_until=now + lease)
        ).rowcount
        return None if held else _read_row(connection, entity_type)


def _release(engine: Engine, entity_type: str, owner: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(lock_table)
            .where(lock_table.c.entity_type == entity_type, lock_table.c.owner == owner)
            .values(
                owner=None,
                heartbeat_at=None,
                lease_until=None,
                host=None,
                pid=None,
                pid_space=None,
                process_started=None,
            )
        )


# -- words ---------------------------------------------------------------------------------------------


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def _holder(row: Row | None) -> str:
    if row is None or row.owner is None:
        return "nobody (it was released)"
    return f"{row.owner} on {row.host} pid {row.pid}" if row.host else f"{row.owner} (host and pid unknown)"


def _plural(entity_type: str) -> str:
    return _PLURALS.get(entity_type, f"{entity_type}s")


def _busy(entity_type: str, row: Row, now: datetime, wait: timedelta) -> ApplyBusy:
    seen = (now - row.heartbeat_at).total_seconds()
    # A live holder renews every quarter of its lease: silent for half of one, it may be dying.
    renewing = seen <= (_lease_end(row) - row.heartbeat_at).total_seconds() / 2
    state = (
        f"is alive: last seen {_seconds(seen)} ago, lease renewed until {_utc(_lease_end(row))}"
        if renewing
        else f"has not renewed its lease for {_seconds(seen)} (it runs until {_utc(_lease_end(row))})"
    )
    return ApplyBusy(
        f"another run ({_holder(row)}) is applying {_plural(entity_type)} and {state}; "
        f"gave up waiting after {wait.total_seconds():g} s at {_utc(datetime.now(UTC))}; "
        "try again when it has finished"
    )


# -- holding -------------------------------------------------------------------------------------------


class _Hold:
    """Our hold on a lock: renewed by a daemon thread and at each heartbeat; `lost` says why it ended."""

    def __init__(self, engine: Engine, entity_type: str, owner: str, lease: timedelta):
        self.engine, self.entity_type, self.owner, self.lease = engine, entity_type, owner, lease
        self.lost: str | None = None
        self._renewed = time.monotonic()  # when the last successful renewal was sent
        self._failing = False
        self._state = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._keep_renewing, name=f"apply-lock-{entity_type}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def _keep_renewing(self) -> None:
        while not self._stop.wait(self.lease.total_seconds() / 4) and self.lost is None:
            self.renew()

    def renew(self) -> None:
        if self.lost is not None:
            return
        sent = time.monotonic()
        try:
            taker = _renew(self.engine, self.entity_type, self.owner, self.lease)
        except Exception as exc:  # e.g. the database out of reach: keep trying while the lease lasts
            self._failed(exc)
            return
        with self._state:
            if self._stop.is_set():
                return  # released meanwhile: the row is no longer ours, and that is no news
            if taker is not None:
                self.lost = f"the {self.entity_type} apply lock was taken over by {_holder(taker)}"
                log.warning("%s", self.lost)
            else:
                if self._failing:
                    log.info("renewed the %s apply lock again", self.entity_type)
                self._failing = False
                self._renewed = max(self._renewed, sent)

    def _failed(self, exc: Exception) -> None:
        with self._state:
            if not self._failing:
                log.warning(
                    "could not renew the %s apply lock (%s: %s); retrying while its lease lasts",
                    self.entity_type,
                    type(exc).__name__,
                    exc,
                )
            self._failing = True
            silent = time.monotonic() - self._renewed
            if silent >= self.lease.total_seconds() and self.lost is None:
                self.lost = (
                    f"could not renew the {self.entity_type} apply lock for {_seconds(silent)}, longer than "
                    f"its lease ({self.lease.total_seconds():g} s), so another run may have taken it over "
                    f"(last error: {type(exc).__name__})"
                )
                log.warning("%s", self.lost)

    def heartbeat(self) -> None:
        """Renew now, and raise `ApplyBusy` if the lock is no longer ours (before writing anything more)."""
        self.renew()
        if self.lost is not None:
            raise ApplyBusy(f"{self.lost}; stopping here before writing more")

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.lease.total_seconds())
        try:
            _release(self.engine, self.entity_type, self.owner)
        except Exception as exc:  # never hide the block's own error; the lease frees the lock anyway
            log.warning(
                "could not release the %s apply lock (%s: %s); another run takes it once its lease runs out",
                self.entity_type,
                type(exc).__name__,
                exc,
            )


def _acquire(
    engine: Engine,
    entity_type: str,
    owner: str,
    *,
    lease: timedelta,
    wait: timedelta,
    poll: float,
    stale_after: timedelta | None,
) -> None:
    here = this_process()
    _ensure_row(engine, entity_type)
    deadline = time.monotonic() + wait.total_seconds()
    waiting_until = datetime.now(UTC) + wait
    next_log = time.monotonic()
    while True:
        with engine.begin() as connection:
            now = _now(connection)
            row = _read_row(connection, entity_type)
            reason = None if row is None else _take_over_reason(row, now, here, stale_after)
            taken = reason is not None and _claim(connection, row, owner, here, now, lease)
        if row is None:  # someone deleted the row: make it again
            _ensure_row(engine, entity_type)
            continue
        if taken:
            if reason:
                log.warning(
                    "took over the %s apply lock from %s (%s pid %s, last seen %s ago): %s",
                    entity_type,
                    row.owner,
                    row.host or "unknown host",
                    row.pid if row.pid is not None else "unknown",
                    _seconds((now - row.heartbeat_at).total_seconds()),
                    reason,
                )
            return
        if reason is not None:
            continue  # another waiter took it between our read and our write: look at the winner at once
        if time.monotonic() >= deadline:
            raise _busy(entity_type, row, now, wait)
        if time.monotonic() >= next_log:
            log.info(
                "waiting for the %s apply lock: held by %s, last seen %s ago; its lease runs until %s; "
                "waiting until %s",
                entity_type,
                _holder(row),
                _seconds((now - row.heartbeat_at).total_seconds()),
                _utc(_lease_end(row)),
                _utc(waiting_until),
            )
            next_log += WAIT_LOG_EVERY
        time.sleep(max(0.0, min(poll, deadline - time.monotonic())))


@contextmanager
def apply_lock(
    engine: Engine,
    entity_type: str,
    owner: str,
    *,
    lease: timedelta = DEFAULT_LEASE,
    wait: timedelta = DEFAULT_WAIT,
    poll: float = 0.5,
    stale_after: timedelta | None = None,
) -> Iterator[Callable[[], None]]:
    """Hold the apply lock of an entity type for the block; yields a heartbeat to call before each write.

    `owner` must name this very apply (it is how the holder recognises its row). The lease is renewed every
    `lease / 4` in the background; a waiter takes over a holder whose process is gone (same host) at once,
    and any other holder once its lease ran out, waiting at most `wait` before raising `ApplyBusy`.
    `stale_after` also takes over a holder silent for that long, whatever its lease says. The heartbeat
    raises `ApplyBusy` once the lock was taken over, or could not be renewed for a whole lease.
    """
    if lease <= timedelta(0):
        raise ValueError(f"lease must be positive, got {lease}")
    _acquire(engine, entity_type, owner, lease=lease, wait=wait, poll=poll, stale_after=stale_after)
    hold = _Hold(engine, entity_type, owner, lease)
    hold.start()
    try:
        yield hold.heartbeat
    finally:
        hold.release()


def owner_name(run_id: str | None) -> str:
    """A lock owner for one apply of `run_id`: run ids repeat across DAGs (scheduled__<date>), so the owner
    must name this very apply."""
    return f"{run_id or 'apply'}:{uuid.uuid4().hex[:12]}"
