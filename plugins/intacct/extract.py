"""Extraction: Intacct records → a staging batch, page by page, in parallel within the company's slots.

Paging is keyset on RECORDNO (`RECORDNO > last ORDER BY RECORDNO`), never offsets: Intacct's data moves
while we page, and offsets then skip or repeat rows. A full extraction reads the first page with its
probes, splits the rest of the RECORDNO range into slices (two per concurrency slot) and pages each slice
by keyset; the last slice is open-ended so rows created while we page are still read. Several objects a
run needs together (`extract_full_many`) share one client session, one request of probes and the slots,
each into a batch of its own. Incremental reads filter on WHENMODIFIED (or WHENCREATED for the records
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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from lxml.etree import _Element as Element
from sqlalchemy import Engine

from intacct import staging
from intacct.extract_writers import Page, PageWriters
from intacct.gateway import requests as q
from intacct.gateway.client import IntacctClient
from intacct.gateway.errors import IntacctError
from intacct.gateway.responses import Result
from intacct.objects import ObjectSpec, convert, render_timestamp

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
    # Processes that convert and insert the pages of a big full extraction (see `extract_writers.py`); 0 stores
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


# A unit of work: keyset-page the records matching `base` with low < RECORDNO <= high (None = unbounded);
# or, with `records`, hand over a page already read (a first page that came with the probes): a one-page
# list, emptied as it is handed over, so the slice does not keep the page for the rest of the batch.
@dataclass(frozen=True)
class _Slice:
    base: q.Filter | None
    low: int | None
    high: int | None
    records: list[Page] | None = None


class _Group:
    """What extractions read together share: one client (so one session), its slots, one page store.

    Their probes go in one request (`prepare`) and their slices page side by side within the same slots
    (`fill`), each into its own batch: several objects cost one sign-in and one round of probes, and a
    slot never idles while any of them still has pages. One extraction alone is a group of one.
    """

    def __init__(self, client: IntacctClient, engine: Engine, options: ExtractOptions):
        self.client = client
        self.engine = engine
        self.options = options
        self.slots = min(options.slots or client.config.slots, client.config.slots)
        # Bounds these extractions' requests in flight (the client bounds the company's), held only while
        # a request is on the wire: a worker parsing its page leaves the slot to another slice.
        self.in_flight = threading.BoundedSemaphore(self.slots)
        # Stores in the calling thread unless writer processes are started (`start_writers`).
        self.store = PageWriters(engine)
        self.stop = threading.Event()

    def start_writers(self) -> None:
        """Store the pages in `options.writers` processes (see `extract_writers.py`)."""
        self.store.start(self.options.writers)

    def prepare(self, probes: Sequence[tuple[_Extraction, Sequence[Element]]]) -> list[list[Result]]:
        """Read the user's time zone and run each extraction's probes before any page, all in one request
        (the sign-in, when the client has no session yet, goes before it, alone); their results in order."""
        functions = [(probe, job.spec.name) for job, job_probes in probes for probe in job_probes]
        # Sent and parsed by a thread of its own, as pages are by the slice workers: the response holds
        # first pages, whose parse would stay in the storing (calling) thread's malloc arena for the
        # whole batch, +7 MB of peak RSS with 2,000-customer pages; a finished thread's arena serves the
        # next thread started, a slice worker.
        with ThreadPoolExecutor(1, thread_name_prefix="extract-probes") as pool:
            tz, results = pool.submit(self.client.call_with_time_zone, functions).result()
        answers = iter(results)
        out = []
        for job, job_probes in probes:
            job.tz = tz
            out.append([next(answers) for _ in job_probes])
        return out

    def fill(
        self,
        kind: str,
        work: Sequence[tuple[_Extraction, Sequence[_Slice], datetime | None]],
        run_id: str | None,
    ) -> list[ExtractResult]:
        """Fill a new batch per extraction from its slices (with its watermark), the slices of all of them
        interleaved over the slots and their pages stored through `self.store`; a failure fails them all."""
        writers = self.store.processes
        # One page waits here and each worker holds at most one more: memory stays flat whatever the
        # company's size, and a database slower than Intacct slows the fetching instead of filling memory.
        pages: queue.Queue[tuple[_Extraction, Page] | _SliceDone] = queue.Queue(maxsize=1)

        def hand_over(item: tuple[_Extraction, Page] | _SliceDone) -> bool:
            while not self.stop.is_set():
                try:
                    pages.put(item, timeout=_HAND_OVER_POLL)
                    return True
                except queue.Full:
                    continue
            return False

        def fetch(job: _Extraction, part: _Slice) -> None:
            try:
                job.page_slice(part, lambda page: hand_over((job, page)))
            except Exception as error:  # raised again by the storing thread
                hand_over(_SliceDone(error))
            else:
                hand_over(_SliceDone(None))

        slices = _interleaved([[(job, part) for part in parts] for job, parts, _ in work])
        names = "-".join(job.spec.name for job, _, _ in work)
        batch_ids: dict[_Extraction, int] = {}
        try:
            for job, _, _ in work:
                batch_ids[job] = staging.begin_batch(self.engine, job.spec, kind, run_id)
            workers = max(1, min(self.slots * SLICES_PER_SLOT, len(slices)))
            with self.store, ThreadPoolExecutor(workers, thread_name_prefix=f"extract-{names}") as pool:
                try:
                    for job, part in slices:
                        pool.submit(fetch, job, part)  # outcomes arrive through the queue as _SliceDone
                    self._store_pages(pages, len(slices), batch_ids)
                finally:
                    self.stop.set()  # workers still paging finish their current page and stop
        except BaseException:
            for job, batch_id in batch_ids.items():
                staging.fail_batch(self.engine, job.spec, batch_id, api_calls=job.api_calls)
            raise
        results = []
        for job, _, watermark in work:
            batch_id = batch_ids[job]
            rows = staging.complete_batch(
                self.engine, job.spec, batch_id, api_calls=job.api_calls, watermark=watermark
            )
            log.info(
                "%s %s batch %s: %d rows, %d API calls, pages stored %s",
                job.spec.name, kind, batch_id, rows, job.api_calls,
                f"by {writers} writer processes" if writers else "in the fetching process",
            )  # fmt: skip
            results.append(ExtractResult(batch_id, job.spec.name, kind, rows, job.api_calls, watermark))
        return results

    def _store_pages(self, pages: queue.Queue, slices: int, batch_ids: Mapping[_Extraction, int]) -> None:
        """Store pages until every slice is done; a slice's failure ends every batch."""
        remaining = slices
        while remaining:
            item = pages.get()
            if isinstance(item, _SliceDone):
                if item.error is not None:
                    raise item.error
                remaining -= 1
                continue
            job, page = item
            self.store.put(job.spec, batch_ids[job], page, job.tz)
        self.store.finish()


class _Extraction:
    """One batch being filled: slice workers fetch pages, the calling thread converts and stores them.

    Fetching and storing overlap: a worker asks for its next page as soon as it knows the current
    page's last RECORDNO, while the calling thread turns the page into staging rows. A small queue
    between them bounds how many pages are in memory at once, whatever the company's size. Extractions
    of one `group` are read together (see `_Group`); without one, an extraction is a group of its own.
    """

    def __init__(
        self,
        client: IntacctClient,
        engine: Engine,
        spec: ObjectSpec,
        options: ExtractOptions,
        *,
        group: _Group | None = None,
    ):
        self.group = group or _Group(client, engine, options)
        self.client = client
        self.engine = engine
        self.spec = spec
        self.options = options
        self.tz: tzinfo | None = None
        self.slots = self.group.slots
        self._in_flight = self.group.in_flight
        self._recordno_index = spec.select.index("RECORDNO")
        self.store = self.group.store
        self._stop = self.group.stop
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

    def prepare(self, probes: Sequence[Element]) -> list[Result]:
        """Read the user's time zone and run `probes` before any page, in one request (the sign-in, when
        the client has no session yet, goes before it, alone)."""
        (results,) = self.group.prepare([(self, probes)])
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

    def highest_recordno_probe(self) -> Element:
        """A query for the highest RECORDNO (read it with `highest_recordno`)."""
        return self.query(pagesize=1, select=("RECORDNO",), orderby=NEWEST_RECORDNO_FIRST)

    @staticmethod
    def highest_recordno(result: Result) -> int | None:
        records = list(result.records())
        return int(records[0]["RECORDNO"]) if records else None

    def ascending_recordnos(self, records: Page, after: int | None = None) -> list[int]:
        """The RECORDNOs of a page, refused unless strictly ascending and above `after`: keyset paging
        would skip rows otherwise."""
        recordnos = _recordnos(records, self._recordno_index)
        if any(b <= a for a, b in itertools.pairwise(recordnos)) or (
            after is not None and recordnos and recordnos[0] <= after
        ):
            raise OutOfOrderPageError(function="query")
        return recordnos

    def page_slice(self, part: _Slice, hand_over: Callable[[Page], bool]) -> None:
        """Keyset-page one slice, handing each page's records over as soon as its last RECORDNO is known."""
        if part.records is not None:  # read with the probes (and checked then)
            if part.records:
                hand_over(part.records.pop())
            return
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
            recordnos = self.ascending_recordnos(records, after=last)
            if not hand_over(records):
                return
            last = recordnos[-1]
            if last_page:
                return

    def run(self, kind: str, slices: Sequence[_Slice], run_id: str | None, watermark: datetime | None):
        """Fill a new batch from `slices`, its pages stored through `self.store`."""
        (result,) = self.group.fill(kind, [(self, slices, watermark)], run_id)
        return result


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


def _interleaved(groups: Sequence[Sequence[tuple]]) -> list[tuple]:
    """The items of `groups` taken in turns (a1 b1 c1 a2 b2 ...): every object's slices spread over the
    slots, rather than one object's after another's."""
    return [item for row in itertools.zip_longest(*groups) for item in row if item is not None]


def _page_slices(low: int, high: int, total: int, count: int, page_size: int) -> list[_Slice]:
    """Split low..high into `count` RECORDNO ranges that each hold a whole number of pages, as far as an
    even spread of the `total` records over the range lets us guess (a range holding a few records more
    than its pages costs one more request); the last range is open-ended to catch new records."""
    pages = math.ceil(total / page_size)
    per_slice = [pages // count + (1 if i < pages % count else 0) for i in range(count)]
    # The room left in the last page: whatever the guesses below fall short moves into the last slice.
    slack = pages * page_size - total
    bounds = [low - 1]
    for pages_before in itertools.accumulate(per_slice[:-1]):
        # A little short of full pages (a guess too high would spill a few records into a new page), but
        # never by more than the last slice has room for (else it would spill itself).
        records_before = pages_before * page_size - min(pages_before * page_size * _SLICE_MARGIN, slack)
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
    (result,) = extract_full_many(client, engine, [spec], run_id=run_id, options=options)
    return result


def extract_full_many(
    client: IntacctClient,
    engine: Engine,
    specs: Sequence[ObjectSpec],
    *,
    run_id: str | None = None,
    options: ExtractOptions | None = None,
) -> list[ExtractResult]:
    """Read every record of each of `specs` into a new `full` batch of its own, all together: one client
    session, every object's probes and first page in one request, then the rest of their pages side by
    side within the same slots. Reading users, employees and departments so costs one sign-in and one
    round trip before the paging, not three of each, and no slot idles while any object has pages left.
    Results in the order of `specs`; when one object fails, every batch of the call is failed.
    """
    names = [spec.name for spec in specs]
    if not names or len(set(names)) < len(names):
        raise ValueError(f"a full extraction reads each object once, and at least one: got {names}")
    options = options or ExtractOptions()
    group = _Group(client, engine, options)
    jobs = [_Extraction(client, engine, spec, options, group=group) for spec in specs]
    with group.store:
        work, biggest = _first_pages(group, jobs)
        # Starting a process costs about what storing a few pages does: only big batches get writers.
        if biggest >= WRITERS_FROM_PAGES:
            group.start_writers()
        return group.fill("full", work, run_id)


def _first_pages(
    group: _Group, jobs: Sequence[_Extraction]
) -> tuple[list[tuple[_Extraction, list[_Slice], datetime | None]], int]:
    """The request before any other page of a full read, for every object: its watermark, its first page
    (ordered by RECORDNO, so it also says the lowest RECORDNO, and its totalcount counts the object) and,
    to cut the rest into slices, the highest RECORDNO. Returns each object's slices (the first page, then
    the rest) with its watermark, and the pages of the biggest object. (A function of its own, so that
    the responses, whose parsed trees are several times their pages, are let go before the paging.)"""
    split = group.slots > 1
    probes = []
    for job in jobs:
        bounds = [job.highest_recordno_probe()] if split else []
        probes.append((job, [job.newest_modification_probe(), job.query(), *bounds]))
    work, biggest = [], 0
    page_size = group.options.page_size
    for job, (newest, first, *top) in zip(jobs, group.prepare(probes), strict=True):
        records = first.values(job.spec.select)
        recordnos = job.ascending_recordnos(records)
        slices = [_Slice(None, None, None, [records])]
        rest_pages = 0
        if not (len(records) < page_size or first.numremaining == 0):
            last = recordnos[-1]
            rest = max(0, (first.totalcount or 0) - len(records))
            rest_pages = math.ceil(rest / page_size)
            count = min(group.slots * SLICES_PER_SLOT, max(1, rest_pages))
            highest = job.highest_recordno(top[0]) if top else None
            if count > 1 and highest is not None and highest > last:
                slices += _page_slices(last + 1, highest, rest, count, page_size)
            else:  # the rest in one open slice, keyset-paged from the first page on
                slices.append(_Slice(None, last, None))
        biggest = max(biggest, 1 + rest_pages)
        work.append((job, slices, job.newest_modification(newest)))
    return work, biggest


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
    changed = changed_since(since - job.options.overlap, job.tz)
    return job.run("incremental", [_Slice(changed, None, None)], run_id, watermark)


def changed_since(start: datetime, tz: tzinfo) -> q.Filter:
    """Records created or modified at or after `start` (WHENCREATED counts for the records Intacct never
    stamped with a WHENMODIFIED), compared as wall-clock time in the user's zone `tz`."""
    text = render_timestamp(start, tz)
    return q.or_(
        q.greater_than_or_equal_to("WHENMODIFIED", text),
        q.and_(q.is_null("WHENMODIFIED"), q.greater_than_or_equal_to("WHENCREATED", text)),
    )


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
