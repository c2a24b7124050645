"""Extraction: Intacct records → a staging batch, page by page, in parallel within the company's slots.

Paging is keyset on RECORDNO (`RECORDNO > last ORDER BY RECORDNO`), never offsets: Intacct's data moves
while we page, and offsets then skip or repeat rows. A full extraction splits the RECORDNO range into one
slice per concurrency slot and pages each slice by keyset; the last slice is open-ended so rows created
while we page are still read. Incremental reads filter on WHENMODIFIED (or WHENCREATED for the records
Intacct never stamped with a WHENMODIFIED) and page by RECORDNO too, so a record modified mid-read moves
nowhere and is read once. Targeted reads ask for named keys with `in` filters of at most 1,000 values.

The watermark of a batch is the newest WHENMODIFIED Intacct held when the batch *started*: anything
modified while we paged is newer, so the next incremental read (which looks back a little further, for
Intacct's eventual consistency) picks it up. It is an Intacct timestamp, never our wall clock.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import Engine

from intacct import staging
from intacct.gateway import requests as q
from intacct.gateway.client import IntacctClient, query_page
from intacct.gateway.errors import IntacctError
from intacct.objects import ObjectSpec, convert, render_timestamp

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 2000
MAX_IN_VALUES = 1000
# `query` orderby items are (field, descending) pairs.
BY_RECORDNO = (("RECORDNO", False),)
NEWEST_RECORDNO_FIRST = (("RECORDNO", True),)
NEWEST_MODIFICATION_FIRST = (("WHENMODIFIED", True),)


@dataclass(frozen=True)
class ExtractOptions:
    page_size: int = MAX_PAGE_SIZE
    # Parallel requests for this extraction; None uses all of the client's slots.
    slots: int | None = None
    # Read private-entity records from a top-level session (Intacct hides them otherwise).
    show_private: bool = False
    # How far an incremental read looks back before the watermark: Intacct is eventually consistent.
    overlap: timedelta = timedelta(minutes=2)

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {self.page_size}")
        if self.slots is not None and self.slots < 1:
            raise ValueError(f"slots must be at least 1, got {self.slots}")


@dataclass(frozen=True)
class ExtractResult:
    batch_id: int
    object: str
    kind: str
    rows: int
    api_calls: int
    watermark: datetime | None


class OutOfOrderPageError(IntacctError):
    """Intacct returned a page that is not in ascending RECORDNO order, so keyset paging cannot be trusted."""

    problem = "Intacct returned rows out of RECORDNO order"
    advice = "keyset paging would skip rows; report this to Intacct support with the object name"


# A unit of work: keyset-page the records matching `base` with low < RECORDNO <= high (None = unbounded).
@dataclass(frozen=True)
class _Slice:
    base: q.Filter | None
    low: int | None
    high: int | None


class _Extraction:
    """One batch being filled by several worker threads."""

    def __init__(self, client: IntacctClient, engine: Engine, spec: ObjectSpec, options: ExtractOptions):
        self.client = client
        self.engine = engine
        self.spec = spec
        self.options = options
        self.tz: tzinfo = client.user_time_zone()
        self.slots = min(options.slots or client.config.slots, client.config.slots)
        self._stop = threading.Event()
        self._calls_before = self._object_calls()

    def _object_calls(self) -> int:
        return sum(n for (_, obj), n in self.client.counter.snapshot().items() if obj == self.spec.name)

    @property
    def api_calls(self) -> int:
        return self._object_calls() - self._calls_before

    def query(self, *, filter=None, orderby=BY_RECORDNO, pagesize=None, select=None):
        return query_page(
            self.client,
            self.spec.name,
            select or self.spec.select,
            filter=filter,
            orderby=orderby,
            pagesize=pagesize or self.options.page_size,
            show_private=self.options.show_private,
        )

    def newest_modification(self) -> datetime | None:
        """The newest WHENMODIFIED in Intacct right now (one API call)."""
        result = self.query(
            filter=q.is_not_null("WHENMODIFIED"),
            orderby=NEWEST_MODIFICATION_FIRST,
            pagesize=1,
            select=("RECORDNO", "WHENMODIFIED"),
        )
        records = list(result.records())
        return convert(records[0]["WHENMODIFIED"], "timestamp", self.tz) if records else None

    def recordno_bounds(self) -> tuple[int, int, int] | None:
        """(lowest RECORDNO, highest RECORDNO, total count), or None for an empty object (two calls)."""
        lowest = self.query(pagesize=1, select=("RECORDNO",))
        first = list(lowest.records())
        if not first:
            return None
        highest = self.query(pagesize=1, select=("RECORDNO",), orderby=NEWEST_RECORDNO_FIRST)
        last = list(highest.records())
        total = lowest.totalcount if lowest.totalcount is not None else 0
        return int(first[0]["RECORDNO"]), int(last[0]["RECORDNO"]), total

    def page_slice(self, part: _Slice, sink: Callable[[list[dict]], None]) -> None:
        last = part.low
        while not self._stop.is_set():
            conditions = [c for c in (part.base,) if c is not None]
            if last is not None:
                conditions.append(q.greater_than("RECORDNO", last))
            if part.high is not None:
                conditions.append(q.less_than_or_equal_to("RECORDNO", part.high))
            result = self.query(filter=q.and_(*conditions) if conditions else None)
            records = list(result.records())
            if not records:
                return
            recordnos = [int(r["RECORDNO"]) for r in records]
            if any(b <= a for a, b in itertools.pairwise(recordnos)) or (
                last is not None and recordnos[0] <= last
            ):
                raise OutOfOrderPageError(function="query")
            sink(records)
            last = recordnos[-1]
            if len(records) < self.options.page_size or result.numremaining == 0:
                return

    def run(self, kind: str, slices: Sequence[_Slice], run_id: str | None, watermark: datetime | None):
        batch_id = staging.begin_batch(self.engine, self.spec, kind, run_id)

        def sink(records: list[dict]) -> None:
            staging.insert_rows(
                self.engine, self.spec, batch_id, [self.spec.to_row(r, self.tz) for r in records]
            )

        try:
            with ThreadPoolExecutor(max_workers=max(1, min(self.slots, len(slices)))) as pool:
                futures = [pool.submit(self.page_slice, part, sink) for part in slices]
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                if any(f.exception() for f in done):
                    self._stop.set()  # the others finish their current page and stop
                for future in futures:
                    future.result()
        except BaseException:
            staging.fail_batch(self.engine, self.spec, batch_id, api_calls=self.api_calls)
            raise
        rows = staging.complete_batch(
            self.engine, self.spec, batch_id, api_calls=self.api_calls, watermark=watermark
        )
        log.info(
            "%s %s batch %s: %d rows, %d API calls", self.spec.name, kind, batch_id, rows, self.api_calls
        )
        return ExtractResult(batch_id, self.spec.name, kind, rows, self.api_calls, watermark)


def _even_slices(low: int, high: int, count: int, base: q.Filter | None = None) -> list[_Slice]:
    """Split low..high into `count` RECORDNO ranges; the last one is open-ended to catch new records."""
    bounds = [low - 1 + math.ceil((high - low + 1) * i / count) for i in range(count + 1)]
    slices = [_Slice(base, bounds[i], bounds[i + 1]) for i in range(count)]
    slices[-1] = _Slice(base, slices[-1].low, None)
    return [s for s in slices if s.high is None or s.high > s.low]


def extract_full(
    client: IntacctClient,
    engine: Engine,
    spec: ObjectSpec,
    *,
    run_id: str | None = None,
    options: ExtractOptions | None = None,
) -> ExtractResult:
    """Read every record of `spec` into a new `full` batch (the only kind that proves absence)."""
    job = _Extraction(client, engine, spec, options or ExtractOptions())
    watermark = job.newest_modification()
    slices = [_Slice(None, None, None)]
    if job.slots > 1:
        bounds = job.recordno_bounds()
        if bounds is not None:
            low, high, total = bounds
            count = min(job.slots, max(1, math.ceil(total / job.options.page_size)))
            slices = _even_slices(low, high, count) if count > 1 else slices
    return job.run("full", slices, run_id, watermark)


def extract_incremental(
    client: IntacctClient,
    engine: Engine,
    spec: ObjectSpec,
    *,
    since: datetime,
    run_id: str | None = None,
    options: ExtractOptions | None = None,
) -> ExtractResult:
    """Read the records created or modified since `since` (minus the overlap) into an `incremental` batch."""
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    job = _Extraction(client, engine, spec, options or ExtractOptions())
    watermark = job.newest_modification() or since
    start = render_timestamp(since - job.options.overlap, job.tz)
    changed = q.or_(
        q.greater_than_or_equal_to("WHENMODIFIED", start),
        q.and_(q.is_null("WHENMODIFIED"), q.greater_than_or_equal_to("WHENCREATED", start)),
    )
    return job.run("incremental", [_Slice(changed, None, None)], run_id, watermark)


def extract_targeted(
    client: IntacctClient,
    engine: Engine,
    spec: ObjectSpec,
    keys: Sequence[str],
    *,
    run_id: str | None = None,
    options: ExtractOptions | None = None,
) -> ExtractResult:
    """Read only the records whose business key (CUSTOMERID, DEPARTMENTID, …) is in `keys`."""
    unique = list(dict.fromkeys(k for k in keys))
    if not unique:
        raise ValueError(f"a targeted {spec.name} extraction needs at least one {spec.key}")
    job = _Extraction(client, engine, spec, options or ExtractOptions())
    chunks = [unique[i : i + MAX_IN_VALUES] for i in range(0, len(unique), MAX_IN_VALUES)]
    slices = [_Slice(q.in_(spec.key, chunk), None, None) for chunk in chunks]
    return job.run("targeted", slices, run_id, None)


def next_since(engine: Engine, spec: ObjectSpec) -> datetime | None:
    """Where the next incremental read of `spec` starts: the newest complete full/incremental watermark."""
    latest = staging.latest_batch(engine, spec.name, kinds=("full", "incremental"))
    return latest.watermark if latest else None
