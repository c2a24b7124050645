"""Storing the pages of a staging batch: in the calling thread, or in writer processes for big batches.

Turning a `query` page into staging rows and inserting them is CPU work in Python (about 100 ms per
2,000 customers). Done in the process that fetches, it holds the GIL that the fetching threads need to
read their responses, and all of it shares one core. For a big batch, a few writer processes, each with
its own engine, store pages as they arrive; the fetching process only hands them over.

Writers are plain child processes (`python -m intacct.extract_writers`) talking over two pipes, not a
multiprocessing pool: a spawned pool re-imports the parent's main module in every child (in an Airflow
task that is the whole `airflow` CLI), and a forked one copies the locks of the fetching threads. The
database URL, password included, goes through the pipe, never the command line.

Each page is one transaction whichever way it is stored. The batch stays invisible until
`staging.complete_batch`, and `close()` returns only once no writer is still writing, so a failed
batch's rows are deleted after the last of them landed, never before.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import subprocess
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import tzinfo
from multiprocessing.connection import Connection, wait

from sqlalchemy import Engine, event
from sqlalchemy.exc import StatementError

from intacct import staging
from intacct.objects import ObjectSpec, spec_for
from intacct.state import db

# One `query` page: each record's values in `ObjectSpec.select` order.
Page = list[tuple[str | None, ...]]

_STOP_TIMEOUT = 120  # seconds a writer gets to finish the page it is storing before it is killed


class WriterProcessError(RuntimeError):
    """A writer process ended without storing its pages (killed, out of memory, failed to start)."""


class PageWriters:
    """Stores pages of staging batches: `put` each page, then `finish()`; `close()` in any case.

    Until `start(processes)`, every page is stored by `put` itself. After it, `put` hands the page to an
    idle writer and returns, waiting while every writer is busy, so a slow database slows the fetching
    instead of filling memory. (A pipe holds only part of a page: handing a busy writer its next page
    would block until it is done anyway.)
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._writers: list[_Writer] = []

    @property
    def processes(self) -> int:
        return len(self._writers)

    def start(self, processes: int) -> None:
        """Start `processes` writers, unless writers already run (an in-memory SQLite database stays in
        this process: it exists nowhere else)."""
        if processes < 0:
            raise ValueError(f"writer processes must be 0 or more, got {processes}")
        url = self.engine.url
        if self._writers or (self.engine.dialect.name == "sqlite" and url.database in (None, "", ":memory:")):
            return
        try:
            for _ in range(processes):
                self._writers.append(_Writer(url.render_as_string(hide_password=False)))
        except BaseException:
            self.close()
            raise

    def put(self, spec: ObjectSpec, batch_id: int, page: Page, tz: tzinfo) -> None:
        if not self._writers:
            staging.store_page(self.engine, spec, batch_id, page, tz)
            return
        while (idle := next((w for w in self._writers if not w.busy), None)) is None:
            self._collect(self._writers)
        idle.send((spec.name, batch_id, page, tz))

    def finish(self) -> None:
        """Wait until every page handed over is stored; raises the first writer's error."""
        while busy := [w for w in self._writers if w.busy]:
            self._collect(busy)

    def close(self) -> None:
        """Stop the writers: each finishes the page it is storing, pages not started are dropped."""
        writers, self._writers = self._writers, []
        for writer in writers:  # all at once: no writer waits for another to finish its page
            writer.hang_up()
        for writer in writers:
            writer.wait()

    def __enter__(self) -> PageWriters:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    @staticmethod
    def _collect(writers: Sequence[_Writer]) -> None:
        """Wait for at least one acknowledgement among `writers`."""
        ready = wait([w.acks for w in writers])
        for writer in writers:
            if writer.acks in ready:
                writer.receive()


class _Writer:
    """One writer process and its two pipes (pages in, acknowledgements out)."""

    def __init__(self, url: str):
        pages_read, pages_write = os.pipe()
        acks_read, acks_write = os.pipe()
        # The child imports the library as this process does, wherever Airflow put it on sys.path.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        try:
            self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
                [sys.executable, "-m", "intacct.extract_writers", str(pages_read), str(acks_write)],
                pass_fds=(pages_read, acks_write),
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            os.close(pages_write)
            os.close(acks_read)
            raise
        finally:
            os.close(pages_read)
            os.close(acks_write)
        self.pages_out = Connection(pages_write, readable=False)
        self.acks = Connection(acks_read, writable=False)
        self.busy = False  # a page was handed over and not yet acknowledged
        try:
            self._send(url)
        except BaseException:
            self.hang_up()
            raise

    def send(self, page: tuple[str, int, Page, tzinfo]) -> None:
        self._send(page)
        self.busy = True

    def receive(self) -> None:
        try:
            outcome, value = self.acks.recv()
        except EOFError:
            raise self._died() from None
        self.busy = False
        if outcome == "failed":
            raise value

    def _send(self, item) -> None:
        try:
            self.pages_out.send(item)
        except OSError:  # a broken pipe: the writer is gone
            raise self._died() from None

    def hang_up(self) -> None:
        """Close both pipes: the writer exits once it finished the page it is storing (it commits or rolls
        back, never half-writes), without waiting for anybody to read its acknowledgement."""
        self.pages_out.close()
        self.acks.close()

    def wait(self) -> None:
        try:
            self.process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _died(self) -> WriterProcessError:
        code = self.process.wait()
        return WriterProcessError(
            f"a staging writer process ended (exit code {code}) without storing its pages: killed, out "
            "of memory, or it could not start (its error output is in the task log); the batch is discarded"
        )


# -- in the writer process ------------------------------------------------------------------------------


def serve(pages: Connection, acks: Connection) -> None:
    """Store every page that arrives, acknowledging each, until the input ends or a page fails."""
    engine = db.open_engine(pages.recv())
    if engine.dialect.name == "sqlite":
        # No fsync per page: in WAL mode the fsync of a later commit (the batch's completion, by the
        # fetching process) makes every earlier page durable too, and the batch is invisible till then.
        event.listen(engine, "connect", _no_sync_per_commit)
    turn = _insert_turn(engine)
    try:
        while True:
            try:
                object_name, batch_id, page, tz = pages.recv()
            except EOFError:
                return
            try:
                spec = spec_for(object_name)
                columns = spec.to_columns(page, tz)
                with turn:
                    rows = staging.insert_columns(engine, spec, batch_id, columns)
            except Exception as error:  # raised again in the fetching process
                _acknowledge(acks, ("failed", _compact(error)))
                return
            if not _acknowledge(acks, ("stored", rows)):
                return
    finally:
        engine.dispose()


def _acknowledge(acks: Connection, outcome: tuple) -> bool:
    try:
        acks.send(outcome)
    except OSError:  # the fetching process hung up (it stops the batch): nobody is listening
        return False
    return True


class _SqliteTurn:
    """Writers take turns at inserting into one SQLite file. SQLite admits one writer at a time and makes
    the others poll, sleeping up to 100 ms between tries; an OS lock wakes the next writer the moment
    the last one committed. The lock is on a file of its own beside the database (SQLite's own locks
    are on the database file, and on some file systems flock and those locks are one and the same)."""

    def __init__(self, database: str):
        self._file = open(f"{database}-writers", "a+b")  # noqa: SIM115 (held for the writer's lifetime)

    def __enter__(self) -> None:
        fcntl.flock(self._file, fcntl.LOCK_EX)

    def __exit__(self, *_exc) -> None:
        fcntl.flock(self._file, fcntl.LOCK_UN)


def _no_sync_per_commit(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _insert_turn(engine: Engine) -> AbstractContextManager:
    if engine.dialect.name == "sqlite" and engine.url.database:
        return _SqliteTurn(engine.url.database)
    return nullcontext()


def _compact(error: Exception) -> Exception:
    """The error as it can travel back: without the statement's parameters (a whole page, which would
    also fill the message) and small enough to pickle, else as text."""
    if isinstance(error, StatementError):
        error.params = None
    try:
        data = pickle.dumps(error)
        pickle.loads(data)  # noqa: S301 (our own bytes, unpickled right here)
    except Exception:
        data = None
    if data is None or len(data) > _ERROR_BYTES:
        return RuntimeError(f"{type(error).__name__}: {str(error)[: _ERROR_BYTES // 8]}")
    return error


_ERROR_BYTES = 16_384


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
