"""What changed in Intacct since a watermark, cheaply enough to ask every hour (the department sync).

`read_changes` stages the records created or modified since `since - lookback` in an `incremental`
batch and reads the deletions AUDITHISTORY recorded since the same start. Its first request carries both
first pages (two transactions, one round trip), so with the user's time zone handed in, an hour in which
nothing changed costs three calls: the sign-in, the page, the deletions. More than a page of changes
(2,000 records) is keyset-paged on RECORDNO as extraction does (`intacct.extract`), whose filter and
batch storage this reuses. There is no newest-modification probe: the watermark is the newest timestamp
that first request returned (see `read_changes` for why only that one).

`read_department_ids` is the periodic full compare: only a full batch proves that a record is gone.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

from lxml.etree import _Element as Element
from sqlalchemy import Engine, select

from intacct import staging
from intacct.entities import ENTITIES
from intacct.extract import (
    ExtractOptions,
    ExtractResult,
    OutOfOrderPageError,
    _Extraction,
    _recordnos,
    _Slice,
    changed_since,
    extract_full,
)
from intacct.extract_writers import Page
from intacct.gateway import requests as q
from intacct.gateway.client import IntacctClient
from intacct.gateway.errors import IntacctError, PermissionDeniedError, QueryError, UnknownObjectError
from intacct.gateway.responses import Result
from intacct.objects import ObjectSpec, convert, render_timestamp
from intacct.state.schema import intacct_batch, intacct_link, staging_tables

log = logging.getLogger(__name__)

AUDIT_OBJECT = "AUDITHISTORY"
AUDIT_SELECT = ("ID", "OBJECTKEY", "ACCESSTIME")
# The audit trail only grows, and each row gets a higher ID: keyset paging on it misses no deletion.
BY_AUDIT_ID = (("ID", False),)
# AUDITHISTORY needs a permission (and Platform Services): without them Intacct refuses it or does not
# know it. Either way this user cannot read deletions; retrying will not change that.
AUDIT_UNREADABLE = (PermissionDeniedError, UnknownObjectError)
# DL02000001, Intacct's generic failure, is known to hit AUDITHISTORY now and then: one attempt more.
AUDIT_ATTEMPTS = 2
# OBJECTKEY styles of a deleted record (reference §5): "<RECORDNO>--REC", a bare RECORDNO, or the ID.
_RECORDNO_KEY = re.compile(r"(\d+)--REC")


@dataclass(frozen=True)
class Changes:
    """One hourly read: the staged changes, the deletions, and where the next read starts.

    `deleted_keys` are business keys (DEPARTMENTID) in the order Intacct deleted them, or None when
    AUDITHISTORY could not be read (`audit_note` says why: then only a full compare finds deletions).
    A key can also be in the batch when Intacct let a new record take a deleted record's ID.
    `unmapped_deletions` are the OBJECTKEYs that name no record this state database ever staged or
    linked (a department created and deleted between two reads) or that could name two (a bare number
    that is one department's RECORDNO and another's ID): left to the full compare.
    `watermark` is the candidate for the next read's `since`; `time_zone` the one the read used (keep it
    and hand it to the next client, which then skips `readUserFormatting`). `api_calls` counts every call
    the read sent, sign-in included.
    """

    batch: ExtractResult
    deleted_keys: list[str] | None
    audit_note: str | None
    watermark: datetime
    api_calls: int
    time_zone: tzinfo
    unmapped_deletions: list[str] = field(default_factory=list)


def read_changes(
    client: IntacctClient,
    engine: Engine,
    spec: ObjectSpec,
    *,
    since: datetime,
    lookback: timedelta,
    run_id: str | None = None,
    options: ExtractOptions | None = None,
) -> Changes:
    """Stage the records of `spec` created or modified since `since - lookback` and read the deletions
    AUDITHISTORY recorded since then (`options.overlap` is not used: `lookback` is this read's).

    The watermark is the newest WHENMODIFIED (WHENCREATED where there is none) or ACCESSTIME in the
    *first* response, or `since` when that holds nothing newer. Later pages do not move it: a record
    modified while we page, behind the RECORDNO cursor, is missed by this batch, and its new WHENMODIFIED
    is later than the first response but may be earlier than a later page's newest. Anything the first
    response did not see is newer than it, so the next read, starting at this watermark, finds it.

    When AUDITHISTORY cannot be read (no permission: PL04000005; or DL02000001 twice) the changes are still
    staged and `deleted_keys` is None. Intacct then fails the whole first request, so the page is sent
    once more alone: one call, the only one re-spent.
    """
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    if lookback < timedelta(0):
        raise ValueError(f"lookback must not be negative, got {lookback}")
    calls_before = client.counter.total
    job = _ChangesExtraction(client, engine, spec, options or ExtractOptions())
    # Free when the client was given the zone; otherwise one readUserFormatting call: the filter needs it.
    job.tz = tz = client.user_time_zone()
    start = since - lookback
    first_slice = _Slice(changed_since(start, tz), None, None)
    page_query = job.query(filter=first_slice.base)
    deletions = _Deletions(spec, start, tz, job.options.page_size)
    try:
        page, audit = client.call_many([(page_query, spec.name), (deletions.query(), AUDIT_OBJECT)])
        audit_stamps = deletions.stamps(audit)
    except (*AUDIT_UNREADABLE, QueryError) as error:
        # A failed function fails the whole call and its sibling's result is gone: send the page alone.
        # Its own error, if it was the page's, is raised here. A deletion read after it is no part of
        # the first response: its ACCESSTIME does not move the watermark.
        page = client.call(page_query, object_name=spec.name)
        audit = deletions.after_failure(client, error)
        audit_stamps = []

    records = page.values(spec.select)
    recordnos = _ascending_recordnos(records, spec.select.index("RECORDNO"))
    watermark = max([since, *_stamps(records, spec, tz), *audit_stamps])
    slices = [first_slice]
    if not (len(records) < job.options.page_size or page.numremaining == 0):
        slices.append(_Slice(first_slice.base, recordnos[-1], None))  # keyset from the first page on
    job.first_page = (first_slice, records)
    del page
    batch = job.run("incremental", slices, run_id, watermark)

    object_keys = deletions.read_all(client, audit)
    deleted_keys = unmapped = None
    if object_keys is not None:
        deleted_keys, unmapped = map_deleted_keys(engine, spec, object_keys)
    changes = Changes(
        batch=batch,
        deleted_keys=deleted_keys,
        audit_note=deletions.note,
        watermark=watermark,
        api_calls=client.counter.total - calls_before,
        time_zone=tz,
        unmapped_deletions=unmapped or [],
    )
    log.info(
        "%s changes since %s: %d staged (batch %s), %s deleted, %d API calls, watermark %s%s",
        spec.name, render_timestamp(start, tz), batch.rows, batch.batch_id,
        "?" if deleted_keys is None else len(deleted_keys), changes.api_calls,
        render_timestamp(watermark, tz), f"; {deletions.note}" if deletions.note else "",
    )  # fmt: skip
    return changes


def read_department_ids(
    client: IntacctClient,
    engine: Engine,
    spec: ObjectSpec,
    *,
    run_id: str | None = None,
    options: ExtractOptions | None = None,
) -> ExtractResult:
    """The full compare: every record of `spec` in a `full` batch, the only kind that proves absence.

    `extract_full` on one slot (whatever `options.slots` says): ceil(n / 2,000) pages, the first of them
    in one request with its newest-modification probe (the batch's watermark: a full read needs one, no
    page sees every change), and the sign-in; `readUserFormatting` too when the client does not know the
    zone. With more slots the extraction adds a highest-RECORDNO probe and, where RECORDNOs are spread
    unevenly, a page or two, to save well under a second: once a day, the calls are worth more than the
    seconds (docs/extraction.md, "Department changes, hourly").
    """
    one_slot = replace(options or ExtractOptions(), slots=1)
    return extract_full(client, engine, spec, run_id=run_id, options=one_slot)


def map_deleted_keys(
    engine: Engine, spec: ObjectSpec, object_keys: Sequence[str]
) -> tuple[list[str], list[str]]:
    """AUDITHISTORY OBJECTKEYs of deleted `spec` records → (business keys, the OBJECTKEYs left unmapped).

    "<n>--REC" is a RECORDNO (what the sandbox writes for departments); a bare number is a RECORDNO or
    the business key, whichever a record staged or linked here has; any other text is the business key.
    A RECORDNO becomes a key through the links (`intacct_recordno`) or any complete staging batch:
    RECORDNOs never change. A bare number that is one record's RECORDNO and another's key is left
    unmapped rather than guessed (a wrong key would be a live record), and so is a RECORDNO never seen.
    """
    recordnos: set[int] = set()
    for key in object_keys:
        matched = _RECORDNO_KEY.fullmatch(key)
        if matched or key.isdigit():
            recordnos.add(int(matched.group(1) if matched else key))
    bare = sorted({key for key in object_keys if key.isdigit()})
    by_recordno, known_keys = _known_records(engine, spec, sorted(recordnos), bare)
    mapped: list[str] = []
    unmapped: list[str] = []
    for key in dict.fromkeys(object_keys):
        matched = _RECORDNO_KEY.fullmatch(key)
        if matched:
            found = by_recordno.get(int(matched.group(1)))
        elif key.isdigit():
            as_recordno = by_recordno.get(int(key))
            if as_recordno is not None and key in known_keys and as_recordno != key:
                found = None  # two readings, two different records
            else:
                found = as_recordno or (key if key in known_keys else None)
        else:
            found = key
        (mapped if found is not None else unmapped).append(found if found is not None else key)
    return list(dict.fromkeys(mapped)), unmapped


def _known_records(
    engine: Engine, spec: ObjectSpec, recordnos: Sequence[int], keys: Sequence[str]
) -> tuple[dict[int, str], set[str]]:
    """The business key of each of `recordnos` known here, and which of `keys` are known business keys."""
    table = staging_tables[spec.name]
    key_column = table.c[spec.key_column]
    complete = (intacct_batch.c.id == table.c.batch_id) & (intacct_batch.c.status == "complete")
    entity_types = [e.entity_type for e in ENTITIES.values() if e.intacct_object == spec.name]
    linked = intacct_link.c.entity_type.in_(entity_types)
    by_recordno: dict[int, str] = {}
    known: set[str] = set()
    with engine.connect() as connection:
        for chunk in staging.chunks(recordnos):
            queries = [
                select(intacct_link.c.intacct_recordno, intacct_link.c.intacct_key).where(
                    linked, intacct_link.c.intacct_recordno.in_(chunk)
                ),
                select(table.c.recordno, key_column)
                .join(intacct_batch, complete)
                .where(table.c.recordno.in_(chunk))
                .distinct(),
            ]
            for query in queries:
                for recordno, key in connection.execute(query):
                    by_recordno.setdefault(recordno, key)
        for chunk in staging.chunks(keys):
            queries = [
                select(intacct_link.c.intacct_key).where(linked, intacct_link.c.intacct_key.in_(chunk)),
                select(key_column).join(intacct_batch, complete).where(key_column.in_(chunk)).distinct(),
            ]
            for query in queries:
                known.update(connection.execute(query).scalars())
    return by_recordno, known


def _ascending_recordnos(records: Page, index: int) -> list[int]:
    """The RECORDNOs of the first page, which keyset paging continues from: strictly ascending or refused."""
    recordnos = _recordnos(records, index)
    if any(b <= a for a, b in itertools.pairwise(recordnos)):
        raise OutOfOrderPageError(function="query")
    return recordnos


def _stamps(records: Page, spec: ObjectSpec, tz: tzinfo) -> list[datetime]:
    """Each record's WHENMODIFIED, or its WHENCREATED when Intacct never stamped a WHENMODIFIED."""
    modified, created = spec.select.index("WHENMODIFIED"), spec.select.index("WHENCREATED")
    stamps = (record[modified] or record[created] for record in records)
    return [convert(stamp, "timestamp", tz) for stamp in stamps if stamp]


class _ChangesExtraction(_Extraction):
    """An extraction whose first page arrived with the deletions, before the batch began."""

    first_page: tuple[_Slice, Page] | None = None

    def page_slice(self, part: _Slice, hand_over: Callable[[Page], bool]) -> None:
        if self.first_page is not None and part is self.first_page[0]:
            if self.first_page[1]:
                hand_over(self.first_page[1])
            return
        super().page_slice(part, hand_over)


class _Deletions:
    """The AUDITHISTORY reads of one `read_changes`: deletions of `spec` records since `start`."""

    def __init__(self, spec: ObjectSpec, start: datetime, tz: tzinfo, page_size: int):
        self.spec = spec
        self.start = start
        self.tz = tz
        self.page_size = page_size
        self.note: str | None = None

    def query(self, after_id: int | None = None) -> Element:
        conditions = [
            q.equal_to("OBJECTTYPE", self.spec.name.lower()),
            q.equal_to("ACCESSMODE", "D"),
            q.greater_than_or_equal_to("ACCESSTIME", render_timestamp(self.start, self.tz)),
        ]
        if after_id is not None:
            conditions.append(q.greater_than("ID", after_id))
        return q.query(
            AUDIT_OBJECT,
            AUDIT_SELECT,
            filter=q.and_(*conditions),
            orderby=BY_AUDIT_ID,
            pagesize=self.page_size,
        )

    def call(self, client: IntacctClient, after_id: int | None = None) -> Result | None:
        """One page alone; None (and `note` says why) when it cannot be read."""
        try:
            return client.call(self.query(after_id), object_name=AUDIT_OBJECT)
        except (*AUDIT_UNREADABLE, QueryError) as error:
            return self.after_failure(client, error, after_id=after_id)

    def after_failure(
        self, client: IntacctClient, error: IntacctError, *, after_id: int | None = None
    ) -> Result | None:
        """The page read again, alone, after its first attempt failed with `error`, while DL02000001 may
        go away (`AUDIT_ATTEMPTS`); else None, with `note` saying why the deletions are not known."""
        attempts = 1
        while isinstance(error, QueryError) and attempts < AUDIT_ATTEMPTS:
            log.warning("AUDITHISTORY failed (%s); trying once more", error)
            attempts += 1
            try:
                return client.call(self.query(after_id), object_name=AUDIT_OBJECT)
            except (*AUDIT_UNREADABLE, QueryError) as again:
                error = again
        said = ": ".join(part for part in (error.errorno, error.description2 or error.description) if part)
        if isinstance(error, AUDIT_UNREADABLE):
            why = f"the Web Services user may not read AUDITHISTORY ({said or error})"
        else:
            why = f"AUDITHISTORY failed {attempts} times ({said or error})"
        since = render_timestamp(self.start, self.tz)
        self.note = f"{why}: deletions since {since} are not known; a full compare finds them"
        log.warning("%s", self.note)
        return None

    def stamps(self, result: Result | None) -> list[datetime]:
        if result is None:
            return []
        return [
            convert(stamp, "timestamp", self.tz)
            for (stamp,) in result.values(("ACCESSTIME",))
            if stamp  # a row without ACCESSTIME proves nothing about time
        ]

    def read_all(self, client: IntacctClient, first: Result | None) -> list[str] | None:
        """Every deleted record's OBJECTKEY, from the first page on, or None when they cannot all be read."""
        result = first
        keys: list[str] = []
        while result is not None:
            rows = result.values(AUDIT_SELECT)
            keys.extend(object_key for _, object_key, _ in rows if object_key)
            if len(rows) < self.page_size or result.numremaining == 0:
                return keys
            result = self.call(client, after_id=int(rows[-1][0]))
        return None
