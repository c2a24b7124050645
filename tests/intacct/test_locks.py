from __future__ import annotations

import dataclasses
import logging
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert
from sqlalchemy import select as sql_select
from sqlalchemy.exc import OperationalError
from tests.intacct.test_apply import customers

from intacct import apply, locks, plan, snapshot, staging
from intacct import links as link_store
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.objects import CUSTOMER
from intacct.state.schema import intacct_apply_lock, intacct_import_intent

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
# A run in its own process: takes the client lock, says so, and holds it until told (or killed).
HOLDER = """
import sys
from datetime import timedelta
from intacct.state import db
from intacct.locks import apply_lock

engine = db.open_engine(sys.argv[1])
with apply_lock(engine, "client", sys.argv[2], lease=timedelta(seconds=float(sys.argv[3]))):
    print("held", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""
SECONDS = r"[\d.]+ s"
UTC_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


def url_of(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def spawn_holder(engine, owner: str, lease: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url_of(engine), owner, str(lease)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PLUGINS)},
    )
    ready, _, _ = select.select([holder.stdout], [], [], 30)
    line = holder.stdout.readline() if ready else ""
    if line != "held\n":
        holder.kill()
        pytest.fail(f"the holder process did not take the lock: {line!r} {holder.stderr.read()}")
    return holder


def kill(holder: subprocess.Popen) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)


def lock_row(engine):
    with engine.connect() as connection:
        return connection.execute(
            sql_select(intacct_apply_lock).where(intacct_apply_lock.c.entity_type == "client")
        ).one()


def test_a_holder_killed_on_this_host_is_taken_over_at_once(state_engine, caplog):
    holder = spawn_holder(state_engine, "crashed-run", lease=30)
    kill(holder)

    started = time.monotonic()
    with (
        caplog.at_level(logging.INFO, logger="intacct.locks"),
        locks.apply_lock(state_engine, "client", "rerun", wait=timedelta(seconds=10), poll=0.05),
    ):
        waited = time.monotonic() - started
        assert lock_row(state_engine).owner == "rerun"

    assert waited < 2, f"took {waited:.1f} s to take over from a dead process (its lease was 30 s)"
    assert re.search(
        rf"took over the client apply lock from crashed-run \(\S+ pid {holder.pid}, last seen {SECONDS} ago\): "
        r"its process is gone",
        caplog.text,
    ), caplog.text


def test_a_silent_holder_on_another_host_is_taken_over_after_its_lease_not_before(state_engine, caplog):
    # What a run on another host leaves when it dies: its pid means nothing here, even a pid gone here.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    elsewhere = dataclasses.replace(locks.this_process(), host="worker-9.elsewhere", pid=gone.pid)
    seen = datetime.now(UTC)
    with state_engine.begin() as connection:
        connection.execute(
            insert(intacct_apply_lock).values(
                entity_type="client",
                owner="remote-run",
                heartbeat_at=seen,
                lease_until=seen + timedelta(seconds=1.5),
                host=elsewhere.host,
                pid=elsewhere.pid,
                pid_space=elsewhere.pid_space,
                process_started=elsewhere.started,
            )
        )
    started = time.monotonic()

    with (
        caplog.at_level(logging.INFO, logger="intacct.locks"),
        pytest.raises(
            locks.ApplyBusy,
            match=rf"another run \(remote-run on worker-9.elsewhere pid {gone.pid}\) is applying clients",
        ),
        locks.apply_lock(state_engine, "client", "early", wait=timedelta(seconds=0.5), poll=0.05),
    ):
        pass
    assert re.search(
        rf"waiting for the client apply lock: held by remote-run on worker-9.elsewhere pid {gone.pid}, "
        rf"last seen {SECONDS} ago; its lease runs until {UTC_TIME}; waiting until {UTC_TIME}",
        caplog.text,
    ), caplog.text

    with locks.apply_lock(state_engine, "client", "patient", wait=timedelta(seconds=5), poll=0.05):
        waited = time.monotonic() - started
    assert 1.4 <= waited < 3.5, f"took over after {waited:.1f} s; the lease was 1.5 s"
    assert re.search(
        r"took over the client apply lock from remote-run \(worker-9.elsewhere pid \d+, "
        rf"last seen {SECONDS} ago\): its lease expired at {UTC_TIME}",
        caplog.text,
    ), caplog.text


def test_a_live_holder_renewing_through_a_long_block_is_not_taken_over(state_engine, caplog):
    # The holder's block runs over several leases of 1 s without calling its heartbeat once.
    holder = spawn_holder(state_engine, "long-run", lease=1)
    try:
        started = time.monotonic()
        with (
            caplog.at_level(logging.INFO, logger="intacct.locks"),
            pytest.raises(locks.ApplyBusy) as busy,
            locks.apply_lock(
                state_engine,
                "client",
                "waiter",
                lease=timedelta(seconds=1),
                wait=timedelta(seconds=3),
                poll=0.1,
            ),
        ):
            pass
        waited = time.monotonic() - started
        assert lock_row(state_engine).owner == "long-run"
    finally:
        out, _ = holder.communicate("done\n", timeout=10)
    assert re.fullmatch(
        rf"another run \(long-run on \S+ pid {holder.pid}\) is applying clients and is alive: "
        rf"last seen {SECONDS} ago, lease renewed until {UTC_TIME}; gave up waiting after 3 s at {UTC_TIME}; "
        "try again when it has finished",
        str(busy.value),
    ), str(busy.value)
    assert waited >= 3
    assert "took over" not in caplog.text
    assert (out, holder.returncode) == ("released\n", 0)
    with locks.apply_lock(state_engine, "client", "next", wait=timedelta(seconds=1)):
        assert lock_row(state_engine).owner == "next"


class TakenOverDuringTheFirstBatch(SqlForecastTarget):
    """A Forecast whose first batch takes so long that another run takes the lock over meanwhile."""

    def __init__(self, engine, state_engine, intruder: ExitStack):
        super().__init__(engine)
        self.state_engine = state_engine
        self.intruder = intruder
        self.batches: list[list[str]] = []

    def create_clients(self, new):
        self.batches.append([c.name for c in new])
        if len(self.batches) == 1:
            self.intruder.enter_context(
                locks.apply_lock(
                    self.state_engine,
                    "client",
                    "intruder",
                    stale_after=timedelta(0),
                    wait=timedelta(seconds=5),
                )
            )
        return super().create_clients(new)


def test_a_holder_whose_lock_was_taken_over_stops_before_its_next_write(
    state_engine, make_engine, empty_database_url
):
    forecast = make_engine(empty_database_url)
    ensure_forecast_schema(forecast)
    with ExitStack() as intruder:
        target = TakenOverDuringTheFirstBatch(forecast, state_engine, intruder)
        batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", "test")
        staging.insert_rows(state_engine, CUSTOMER, batch_id, [CUSTOMER.to_row(r, UTC) for r in customers(6)])
        staging.complete_batch(state_engine, CUSTOMER, batch_id, api_calls=1, watermark=None)
        snap = snapshot.take_snapshot(target, state_engine, run_id="test")
        plan_id = plan.build_plan(state_engine, "client", batch_id=batch_id, snapshot_id=snap.id).plan_id
        request = apply.ImportRequest("client", tuple(f"C{i}" for i in range(1, 7)))

        with pytest.raises(
            locks.ApplyBusy,
            match=r"the client apply lock was taken over by intruder on \S+ pid \d+; stopping here before writing more",
        ):
            apply.import_selected(state_engine, target, plan_id, request, run_id="slow", batch_size=2)

        assert target.batches == [["Customer 1 GmbH", "Customer 2 GmbH"]]
        assert sorted(link.intacct_key for link in link_store.links(state_engine, "client")) == ["C1", "C2"]
        with state_engine.connect() as connection:
            assert (
                connection.execute(sql_select(func.count()).select_from(intacct_import_intent)).scalar() == 0
            )
        assert lock_row(state_engine).owner == "intruder"


def test_two_waiters_racing_for_a_dead_holders_lock_exactly_one_wins(state_engine, monkeypatch, caplog):
    holder = spawn_holder(state_engine, "crashed-run", lease=30)
    kill(holder)
    # Both waiters read the dead holder's row before either writes: only the compare-and-set decides.
    both_read = threading.Barrier(2, timeout=10)
    first_read = threading.local()
    read = locks._read_row

    def read_then_meet(connection, entity_type):
        row = read(connection, entity_type)
        if not getattr(first_read, "done", False):
            first_read.done = True
            both_read.wait()
        return row

    monkeypatch.setattr(locks, "_read_row", read_then_meet)
    won, busy = [], []

    def wait_for_the_lock(name):
        try:
            with locks.apply_lock(state_engine, "client", name, wait=timedelta(seconds=0.5), poll=0.05):
                won.append(name)
                time.sleep(1)
        except locks.ApplyBusy as exc:
            busy.append(str(exc))

    with caplog.at_level(logging.WARNING, logger="intacct.locks"):
        waiters = [threading.Thread(target=wait_for_the_lock, args=(f"waiter-{i}",)) for i in range(2)]
        for waiter in waiters:
            waiter.start()
        for waiter in waiters:
            waiter.join(timeout=20)

    assert len(won) == 1, (won, busy)
    assert len(busy) == 1 and f"another run ({won[0]} on " in busy[0], busy
    assert caplog.text.count("took over the client apply lock from crashed-run") == 1, caplog.text


def test_the_lease_survives_a_short_database_outage_and_is_given_up_after_a_whole_one(
    state_engine, monkeypatch, caplog
):
    outage = threading.Event()
    renew = locks._renew

    def renew_unless_out(*args, **kwargs):
        if outage.is_set():
            raise OperationalError("UPDATE intacct_apply_lock", {}, Exception("connection refused"))
        return renew(*args, **kwargs)

    monkeypatch.setattr(locks, "_renew", renew_unless_out)
    with (
        caplog.at_level(logging.WARNING, logger="intacct.locks"),
        locks.apply_lock(state_engine, "client", "holder", lease=timedelta(seconds=0.8)) as heartbeat,
    ):
        outage.set()
        time.sleep(0.3)  # a blip: the renewal thread fails once or twice, within the lease
        heartbeat()
        outage.clear()
        time.sleep(0.3)
        heartbeat()
        assert [t for t in threading.enumerate() if t.name == "apply-lock-client"], "the renewal thread died"

        outage.set()
        time.sleep(1.0)  # longer than the lease: another run may have taken over by now
        with pytest.raises(
            locks.ApplyBusy,
            match=r"could not renew the client apply lock for [\d.]+ s, longer than its lease",
        ):
            heartbeat()
        outage.clear()
    assert "could not renew the client apply lock (OperationalError" in caplog.text
    with locks.apply_lock(state_engine, "client", "next", wait=timedelta(seconds=1)):
        assert lock_row(state_engine).owner == "next"
