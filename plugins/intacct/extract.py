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
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from lxml.etree import _Element as Element
from sqlalchemy import Engine

from intacct import staging
from intacct.gateway import requests as q
from intacct.gateway.client import IntacctClient
from intacct.gateway.errors import IntacctError
from intacct.gateway.responses import Result
from intacct.objects import ObjectSpec, convert, render_timestamp
from intacct.writers import Page, PageWriters

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 2000
MAX_IN_VALUES = 1000
# `query` orderby items are (field, descending) pairs.
BY_RECORDNO = (("RECORDNO", False),)
NEWEST_RECORDNO_FIRST = (("RECORDNO", True),)
NEWEST_MODIFICATION_FIRST = (("WHENMODIFIED", True),)
# A full extraction pages this many RECORDNO slices per slot, so a slot never idles while a worker
# reads the page it just fetched: another slice's request goes out meanwhile.
SLICES_PER_SLOT = 2
# A full extraction of at least this many pages stores them in writer processes (`ExtractOptions.writers`).
WRITERS_FROM_PAGES = 8


@dataclass(frozen=True)
class ExtractOptions:
    page_size: int = MAX_PAGE_SIZE
    # Parallel requests for this extraction; None uses all of the client's slots.
    slots: int | None = None
    # Read private-entity records from a top-level session (Intacct hides them otherwise).
    show_private: bool = False
    # How far an incremental read looks back before the watermark: Intacct is eventually consistent.
    overlap: timedelta = timedelta(minutes=2)
    # Processes that convert and insert the pages of a big full extraction (see `writers.py`); 0 stores
    # every page in the calling thread. Smaller batches are always stored in the calling thread.
    writers: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {self.page_size}")
        if self.slots is not None and self.slots < 1:
            raise ValueError(f"slots must be at least 1, got {self.slots}")
        if self.writers < 0:
            raise ValueError(f"writers must be 0 or more, got {self.writers}")


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
    """One batch being filled: slice workers fetch pages, the calling thread converts and stores them.

    Fetching and storing overlap: a worker asks for its next page as soon as it knows the current
    page's last RECORDNO, while the calling thread turns the page into staging rows. A small queue
    between them bounds how many pages are in memory at once, whatever the company's size.
    """

    def __init__(self, client: IntacctClient, engine: Engine, spec: ObjectSpec, options: ExtractOptions):
        self.client = client
        self.engine = engine
        self.spec = spec
        self.options = options
        self.tz: tzinfo | None = None
        self.slots = min(options.slots or client.config.slots, client.config.slots)
        # Bounds this extraction's requests in flight (the client bounds the company's), held only while
        # a request is on the wire: a worker parsing its page leaves the slot to another slice.
        self._in_flight = threading.BoundedSemaphore(self.slots)
        self._recordno_index = spec.select.index("RECORDNO")
        # Stores in this thread unless writer processes are started (`start_writers`).
        self.store = PageWriters(engine)
        self._stop = threading.Event()
        self._calls_before = self._object_calls()

    def _object_calls(self) -> int:
        return sum(n for (_, obj), n in self.client.counter.snapshot().items() if obj == self.spec.name)

    @property
    def api_calls(self) -> int:
        return self._object_calls() - self._calls_before

    def query(self, *, filter=None, orderby=BY_RECORDNO, pagesize=None, select=None) -> Element:
        return q.query(
            self.spec.name,
            select or self.spec.select,
            filter=filter,
            orderby=orderby,
            pagesize=pagesize or self.options.page_size,
            show_private=self.options.show_private,
        )

    def start_writers(self) -> None:
        """Store the pages in `options.writers` processes (see `writers.py`)."""
        self.store.start(self.options.writers)

    def prepare(self, probes: Sequence[Element]) -> list[Result]:
        """Read the user's time zone and run `probes` before any page, in one request (the sign-in, when
        the client has no session yet, goes before it, alone)."""
        self.tz, results = self.client.call_with_time_zone([(p, self.spec.name) for p in probes])
        return results

    def newest_modification_probe(self) -> Element:
        """A query for the newest WHENMODIFIED in Intacct (read it with `newest_modification`)."""
        return self.query(
            filter=q.is_not_null("WHENMODIFIED"),
            orderby=NEWEST_MODIFICATION_FIRST,
            pagesize=1,
            select=("RECORDNO", "WHENMODIFIED"),
        )

    def newest_modification(self, result: Result) -> datetime | None:
        records = list(result.records())
        return convert(records[0]["WHENMODIFIED"], "timestamp", self.tz) if records else None

    def recordno_bounds_probes(self) -> list[Element]:
        """Queries for the lowest and the highest RECORDNO (read them with `recordno_bounds`)."""
        return [
            self.query(pagesize=1, select=("RECORDNO",)),
            self.query(pagesize=1, select=("RECORDNO",), orderby=NEWEST_RECORDNO_FIRST),
        ]

    @staticmethod
    def recordno_bounds(lowest: Result, highest: Result) -> tuple[int, int, int] | None:
        """(lowest RECORDNO, highest RECORDNO, total count), or None for an empty object."""
        first, last = list(lowest.records()), list(highest.records())
        if not first or not last:
            return None
        total = lowest.totalcount if lowest.totalcount is not None else 0
        return int(first[0]["RECORDNO"]), int(last[0]["RECORDNO"]), total

    def page_slice(self, part: _Slice, hand_over: Callable[[Page], bool]) -> None:
        """Keyset-page one slice, handing each page's records over as soon as its last RECORDNO is known."""
        last = part.low
        while not self._stop.is_set():
            conditions = [c for c in (part.base,) if c is not None]
            if last is not None:
                conditions.append(q.greater_than("RECORDNO", last))
            if part.high is not None:
                conditions.append(q.less_than_or_equal_to("RECORDNO", part.high))
            function = self.query(filter=q.and_(*conditions) if conditions else None)
            result = self.client.call(function, object_name=self.spec.name, in_flight=self._in_flight)
            records = result.values(self.spec.select)
            last_page = len(records) < self.options.page_size or result.numremaining == 0
            del result  # its parsed tree is several times the page: never hold it while waiting below
            if not records:
                return
            recordnos = _recordnos(records, self._recordno_index)
            if any(b <= a for a, b in itertools.pairwise(recordnos)) or (
                last is not None and recordnos[0] <= last
            ):
                raise OutOfOrderPageError(function="query")
            if not hand_over(records):
                return
            last = recordnos[-1]
            if last_page:
                return

    def run(self, kind: str, slices: Sequence[_Slice], run_id: str | None, watermark: datetime | None):
        """Fill a new batch from `slices`, its pages stored through `self.store`."""
        batch_id = staging.begin_batch(self.engine, self.spec, kind, run_id)
        writers = self.store.processes
        # One page waits here and each worker holds at most one more: memory stays flat whatever the
        # company's size, and a database slower than Intacct slows the fetching instead of filling memory.
        pages: queue.Queue[Page | _SliceDone] = queue.Queue(maxsize=1)

        def hand_over(item: Page | _SliceDone) -> bool:
            while not self._stop.is_set():
                try:
                    pages.put(item, timeout=_HAND_OVER_POLL)
                    return True
                except queue.Full:
                    continue
            return False

        def fetch(part: _Slice) -> None:
            try:
                self.page_slice(part, hand_over)
            except Exception as error:  # raised again by the storing thread
                hand_over(_SliceDone(error))
            else:
                hand_over(_SliceDone(None))

        try:
            workers = max(1, min(self.slots * SLICES_PER_SLOT, len(slices)))
            with (
                self.store,
                ThreadPoolExecutor(workers, thread_name_prefix=f"extract-{self.spec.name}") as pool,
            ):
                try:
                    for part in slices:
                        pool.submit(fetch, part)  # outcomes arrive through the queue as _SliceDone
                    self._store_pages(pages, len(slices), batch_id)
                finally:
                    self._stop.set()  # workers still paging finish their current page and stop
        except BaseException:
            staging.fail_batch(self.engine, self.spec, batch_id, api_calls=self.api_calls)
            raise
        rows = staging.complete_batch(
            self.engine, self.spec, batch_id, api_calls=self.api_calls, watermark=watermark
        )
        log.info(
            "%s %s batch %s: %d rows, %d API calls, pages stored %s",
            self.spec.name, kind, batch_id, rows, self.api_calls,
            f"by {writers} writer processes" if writers else "in the fetching process",
        )  # fmt: skip
        return ExtractResult(batch_id, self.spec.name, kind, rows, self.api_calls, watermark)

    def _store_pages(self, pages: queue.Queue, slices: int, batch_id: int) -> None:
        """Store pages until every slice is done; a slice's failure ends the batch."""
        remaining = slices
        while remaining:
            item = pages.get()
            if isinstance(item, _SliceDone):
                if item.error is not None:
                    raise item.error
                remaining -= 1
                continue
            self.store.put(self.spec, batch_id, item, self.tz)
        self.store.finish()


@dataclass(frozen=True)
class _SliceDone:
    error: BaseException | None


_HAND_OVER_POLL = 0.2  # seconds a worker waits on a full queue before checking whether to stop


def _recordnos(records: Page, index: int) -> list[int]:
    """The RECORDNOs of a `query` page, in the order Intacct returned them."""
    try:
        return [int(record[index]) for record in records]
    except (TypeError, ValueError):
        raise OutOfOrderPageError(
            "Intacct returned a record without a numeric RECORDNO", function="query"
        ) from None


def _page_slices(low: int, high: int, total: int, count: int, page_size: int) -> list[_Slice]:
    """Split low..high into `count` RECORDNO ranges that each hold a whole number of pages, as far as an
    even spread of the `total` records over the range lets us guess (a range holding a few records more
    than its pages costs one more request); the last range is open-ended to catch new records."""
    pages = math.ceil(total / page_size)
    per_slice = [pages // count + (1 if i < pages % count else 0) for i in range(count)]
    bounds = [low - 1]
    for pages_before in itertools.accumulate(per_slice[:-1]):
        # A little short of full pages: a guess too high would spill a few records into a new page.
        records_before = pages_before * page_size * (1 - _SLICE_MARGIN)
        bounds.append(low - 1 + math.floor((high - low + 1) * records_before / total))
    bounds.append(None)
    slices = [_Slice(None, bounds[i], bounds[i + 1]) for i in range(count)]
    return [s for s in slices if s.high is None or s.high > s.low]


_SLICE_MARGIN = 0.01


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
    with job.store:
        # The watermark and the RECORDNO bounds are read together, in one request, before any page.
        split = job.slots > 1
        probes = [job.newest_modification_probe(), *(job.recordno_bounds_probes() if split else ())]
        newest, *bounds_results = job.prepare(probes)
        watermark = job.newest_modification(newest)
        slices = [_Slice(None, None, None)]
        bounds = job.recordno_bounds(*bounds_results) if split else None
        if bounds is not None:
            low, high, total = bounds
            pages = math.ceil(total / job.options.page_size)
            count = min(job.slots * SLICES_PER_SLOT, max(1, pages))
            slices = _page_slices(low, high, total, count, job.options.page_size) if count > 1 else slices
            # Starting a process costs about what storing a few pages does: only big batches get writers.
            if pages >= WRITERS_FROM_PAGES:
                job.start_writers()
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
    (newest,) = job.prepare([job.newest_modification_probe()])
    watermark = job.newest_modification(newest) or since
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
    job.prepare([])
    chunks = [unique[i : i + MAX_IN_VALUES] for i in range(0, len(unique), MAX_IN_VALUES)]
    slices = [_Slice(q.in_(spec.key, chunk), None, None) for chunk in chunks]
    return job.run("targeted", slices, run_id, None)


def next_since(engine: Engine, spec: ObjectSpec) -> datetime | None:
    """Where the next incremental read of `spec` starts: the newest complete full/incremental watermark."""
    latest = staging.latest_batch(engine, spec.name, kinds=("full", "incremental"))
    return latest.watermark if latest else None
