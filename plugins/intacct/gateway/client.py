"""The Intacct XML Web Services client: sessions, transport, retries, concurrency slots, call counting.

It sends what `requests.py` builds and reads what `responses.py` parses. No Airflow here: the Airflow
hook (`intacct.airflow.hooks`) hands it a configured HTTP session and the connection's settings.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import requests as http
from lxml.etree import _Element as Element
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from intacct.gateway import requests as build
from intacct.gateway import responses
from intacct.gateway.counter import CallCounter
from intacct.gateway.errors import IntacctError, NotXmlResponseError, ResponseTooLargeError, TransportError
from intacct.gateway.retry import Pause, RetryBudget, RetryPolicy, TaskBudget

log = logging.getLogger(__name__)

# Intacct's documented entry point; every session then moves to the endpoint getAPISession returns.
DEFAULT_ENDPOINT = "https://api.intacct.com/ia/xml/xmlgw.phtml"
MIB = 1024 * 1024
# Bodies are read in pieces of up to this much (what one socket read returns) and joined once.
_READ_CHUNK = MIB
# A response still arriving is logged this often (or at each quarter of a shorter deadline).
_SLOW_LOG_EVERY = 30.0


@dataclass(frozen=True)
class ClientConfig:
    """What the client needs to talk to one Intacct company (secrets stay out of repr)."""

    sender: build.SenderCredentials
    login: build.LoginCredentials
    endpoint: str = DEFAULT_ENDPOINT
    # The company's concurrent-request entitlement: never more requests than this in flight at once.
    slots: int = 2
    connect_timeout: float = 10.0
    # Intacct can take minutes on a big page and keeps working after a client gives up.
    read_timeout: float = 300.0
    # The whole exchange, from sending the request to the last byte of the body: read_timeout bounds
    # each socket read only, and a server that trickles a byte at a time would never trip it.
    response_deadline: float = 600.0
    # A 2,000-record CUSTOMER page of the sandbox is 1.9 MiB with the fields extraction reads and
    # 4.5 MiB with all 53: a body beyond this is refused, the connection closed, and not retried.
    max_response_mb: float = 64.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Refresh a session this long before Intacct's sessiontimeout rather than racing it.
    session_margin: timedelta = timedelta(minutes=5)
    # Only for a gateway that does not report the user's GMT offset: the zone its timestamps are in.
    time_zone: tzinfo | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= 64:
            raise ValueError(f"slots must be between 1 and 64, got {self.slots}")
        if not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL, got {self.endpoint!r}")
        if self.response_deadline <= 0 or self.max_response_mb <= 0:
            raise ValueError(
                "response_deadline and max_response_mb must be positive, got "
                f"{self.response_deadline} and {self.max_response_mb}"
            )

    @property
    def max_response_bytes(self) -> int:
        """`max_response_mb` in bytes (MiB: 2**20 bytes each)."""
        return int(self.max_response_mb * MIB)


@dataclass
class _Session:
    session_id: str
    endpoint: str
    location_id: str | None
    expires_at: datetime | None


class IntacctClient:
    """A thread-safe client for one Intacct company; share one instance between worker threads."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        http_session: http.Session | None = None,
        counter: CallCounter | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        on_secret: Callable[[str], None] | None = None,
    ):
        self.config = config
        self.counter = counter or CallCounter()
        self._http = http_session or http.Session()
        self._now = now
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(config.slots)
        self._pause = Pause(sleep=sleep)
        self._task_budget = TaskBudget(config.retry.task_budget)
        self._session_lock = threading.Lock()
        self._session: _Session | None = None
        self._formatting: responses.UserFormatting | None = None
        # Told about every session id we receive, so a log masker can hide it.
        self._on_secret = on_secret

    # -- public API -------------------------------------------------------------------------------

    def call(
        self, function: Element, *, object_name: str = "", in_flight: threading.Semaphore | None = None
    ) -> responses.Result:
        """Send one function under a session and return its successful result.

        Retries what is worth retrying (see `retry.py`), signs in again when the session expired, and
        raises the typed `IntacctError` otherwise. `in_flight` is a further bound shared by a group of
        calls (an extraction that may use fewer slots than the company has), held like the client's own
        slots: only while the request is on the wire.
        """
        return self._with_retries(lambda: self._call_in_session([(function, object_name)], in_flight))[0]

    def call_many(self, functions: Sequence[tuple[Element, str]]) -> list[responses.Result]:
        """Send several `(function, object name)` pairs in one request and return their results in order.

        One round trip and one concurrency slot instead of one each, for reads that are needed together
        (extraction's probes); each function is still one Intacct transaction and is counted as one. The
        first failed function raises its error; a retry sends the whole request again.
        """
        if not functions:
            raise ValueError("call_many needs at least one function")
        return self._with_retries(lambda: self._call_in_session(list(functions)))

    def call_with_time_zone(
        self, functions: Sequence[tuple[Element, str]]
    ) -> tuple[tzinfo, list[responses.Result]]:
        """`user_time_zone()` and `call_many(functions)` in one request: reading the user's formatting, if
        not known yet, rides along with the functions."""
        if self.config.time_zone is None:
            results = self._with_formatting(functions)
        else:
            results = self.call_many(functions) if functions else []
        return self.user_time_zone(), results

    def user_time_zone(self) -> tzinfo:
        """The API user's time zone: Intacct renders and compares every timestamp in it."""
        if self.config.time_zone is not None:
            return self.config.time_zone
        formatting = self.user_formatting()
        # Every timestamp is parsed and filtered as MM/DD/YYYY HH:MM:SS: another preference would silently
        # swap days and months, so it is refused rather than guessed.
        if (formatting.date_format or "/mdY") != "/mdY" or (formatting.clock or "24") != "24":
            raise IntacctError(
                f"the Intacct API user's date preferences are {formatting.date_format!r} with a "
                f"{formatting.clock}-hour clock; this pipeline reads Intacct timestamps as /mdY, 24-hour",
                advice="set the Web Services user's date format to MM/DD/YYYY and its clock to 24 hours in Intacct",
            )
        zone = formatting.tzinfo
        if zone is None:
            raise IntacctError(
                "Intacct did not report the API user's GMT offset (readUserFormatting)",
                advice="set time_zone in the connection extra to the zone of the user's Intacct preferences",
            )
        return zone

    def user_formatting(self) -> responses.UserFormatting:
        """The API user's formatting preferences (read once per client)."""
        if self._formatting is None:
            self._with_formatting([])
        return self._formatting

    def _with_formatting(self, functions: Sequence[tuple[Element, str]]) -> list[responses.Result]:
        """`call_many(functions)`, reading the user's formatting in the same request when not known yet."""
        if self._formatting is not None:
            return self.call_many(functions) if functions else []
        reading = (build.read_user_formatting(self.config.login.user_id), "USERFORMATTING")
        *results, formatting = self.call_many([*functions, reading])
        self._formatting = responses.user_formatting(formatting)
        return results

    @property
    def location_id(self) -> str | None:
        """The entity the current session works in (None at the top level or before signing in)."""
        return self._session.location_id if self._session else None

    def sign_in(self) -> None:
        """Open a session now, so bad credentials surface before any work starts."""
        self._with_retries(self._current_session)

    def retry_summary(self) -> str:
        """What this client spent on retries, for a run's report: one line such as
        "retries: 3 (41 s of the 900 s budget per task)" (maintenance polls not included)."""
        return self._task_budget.summary()

    def close(self) -> None:
        self._http.close()

    # -- sessions ---------------------------------------------------------------------------------

    def _current_session(self) -> _Session:
        with self._session_lock:
            session = self._session
            if session is None or (
                session.expires_at is not None
                and self._now() >= session.expires_at - self.config.session_margin
            ):
                self._session = session = self._open_session()
            return session

    def _open_session(self) -> _Session:
        """Sign in with the user's credentials and move to the endpoint Intacct hands back.

        `getAPISession` goes alone in its request, as Intacct asks ("do not mix getAPISession with other
        functions").
        """
        function = build.get_api_session(self.config.login.entity_id)
        response, (result,) = self._send(self.config.endpoint, self.config.login, [(function, "")])
        result.raise_for_status()
        api = responses.api_session(result)
        if self._on_secret:
            self._on_secret(api.session_id)
        log.info(
            "Intacct session opened for company %s%s",
            self.config.login.company_id,
            f", entity {api.location_id}" if api.location_id else "",
        )
        return _Session(
            session_id=api.session_id,
            endpoint=api.endpoint or self.config.endpoint,
            location_id=api.location_id,
            expires_at=response.authentication.session_timeout if response.authentication else None,
        )

    def _forget_session(self, session: _Session) -> bool:
        """Drop `session` if it is still the current one; False when another thread already replaced it.

        Only the thread that saw the failure of *this* session replaces it; the others reuse the new one.
        """
        with self._session_lock:
            if self._session is session:
                self._session = None
                return True
            return False

    def _call_in_session(
        self, functions: list[tuple[Element, str]], in_flight: threading.Semaphore | None = None
    ) -> list[responses.Result]:
        session = self._current_session()
        try:
            response, results = self._send(
                session.endpoint, build.SessionAuth(session.session_id), functions, in_flight
            )
            response.raise_for_status()
        except IntacctError as error:
            if error.reauthenticate and not self._forget_session(session):
                raise _StaleSession from error  # resend on the session another thread opened meanwhile
            raise
        if response.authentication and response.authentication.session_timeout:
            session.expires_at = response.authentication.session_timeout  # Intacct slides it on every call
        return results

    # -- transport --------------------------------------------------------------------------------

    def _send(
        self,
        url: str,
        auth,
        functions: list[tuple[Element, str]],
        in_flight: threading.Semaphore | None = None,
    ) -> tuple[responses.Response, list[responses.Result]]:
        """POST one request holding `functions`; the parsed response and each function's result, in order."""
        control_ids = [uuid.uuid4().hex for _ in functions]
        body = build.build_request(
            self.config.sender,
            auth,
            [(cid, function) for cid, (function, _) in zip(control_ids, functions, strict=True)],
            control_id=control_ids[0],
        )
        function_name = ", ".join(dict.fromkeys(function.tag for function, _ in functions))
        self._pause.wait()
        with in_flight or nullcontext(), self._slots:
            self._pause.wait()  # a 429 may have come while this thread waited for its slot
            for function, object_name in functions:
                self.counter.record(function.tag, object_name)
            started = time.monotonic()
            try:
                reply = self._http.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/xml; charset=UTF-8"},
                    timeout=(
                        self.config.connect_timeout,
                        min(self.config.read_timeout, self.config.response_deadline),
                    ),
                    stream=True,
                )
            except http.Timeout as exc:
                raise TransportError(
                    f"Intacct did not answer {function_name} within "
                    f"{min(self.config.read_timeout, self.config.response_deadline):g} s",
                    function=function_name,
                ) from exc
            except http.ConnectionError as exc:
                raise TransportError(
                    f"the connection to Intacct dropped during {function_name} ({type(exc).__name__})",
                    function=function_name,
                ) from exc
            content = self._read_body(reply, started, function_name)
        response = responses.parse_response(
            content,
            http_status=reply.status_code,
            content_type=reply.headers.get("Content-Type"),
            retry_after=reply.headers.get("Retry-After"),
        )
        return response, _in_request_order(response, control_ids)

    def _read_body(self, reply: http.Response, started: float, function_name: str) -> bytes:
        """The whole (decoded) body of a streamed `reply`, or the typed error for one that is too large
        or not finished by `response_deadline` after `started`; either closes the connection at once.

        Each read returns what one socket read brings, so a trickle is seen byte by byte; a watchdog
        shuts the socket at the deadline, so no read (even inside a chunk header or the gzip decoder)
        outlives it.
        """
        limit = self.config.max_response_bytes
        declared = (reply.headers.get("Content-Length") or "").strip()
        if declared.isdigit() and int(declared) > limit:
            reply.close()  # before a byte of the body is read
            raise self._too_large(f"Content-Length: {int(declared):,} bytes", function_name)
        deadline = started + self.config.response_deadline
        cut = threading.Event()

        def cut_off() -> None:
            cut.set()
            with suppress(Exception):  # the body may have just been read and the connection released
                reply.raw.shutdown()

        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), cut_off)
        watchdog.daemon = True
        watchdog.start()
        log_every = min(_SLOW_LOG_EVERY, self.config.response_deadline / 4)
        next_log = started + log_every
        chunks: list[bytes] = []
        size = 0
        complete = False
        try:
            while not cut.is_set():
                try:
                    chunk = reply.raw.read1(_READ_CHUNK, decode_content=True)
                except Exception as exc:
                    if cut.is_set():
                        break
                    raise self._broken(exc, size, started, function_name) from exc
                if not chunk:
                    complete = not cut.is_set()  # a shut socket reads as the end of the body
                    break
                size += len(chunk)
                if size > limit:
                    raise self._too_large(f"more than {limit:,} bytes arrived", function_name)
                chunks.append(chunk)
                if (now := time.monotonic()) >= next_log:
                    log.warning(
                        "Intacct is slow to answer %s: %s bytes in %.1f s, response deadline in %.1f s",
                        function_name,
                        f"{size:,}",
                        now - started,
                        deadline - now,
                    )
                    next_log = now + log_every
        finally:
            watchdog.cancel()
            if not complete:
                reply.close()
        if not complete:
            raise TransportError(
                f"Intacct sent only {size:,} bytes in {time.monotonic() - started:.1f} s: response "
                f"deadline ({self.config.response_deadline:g} s) exceeded",
                advice=(
                    "the server kept the connection open without finishing its answer; retrying is safe "
                    "for reads; raise response_deadline in the connection extra only if real pages need "
                    "longer"
                ),
                function=function_name,
            )
        return b"".join(chunks)

    def _too_large(self, seen: str, function_name: str) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"Intacct's response is larger than the {self.config.max_response_mb:g} MiB limit ({seen}): "
            "refused, the connection closed",
            advice=(
                f"raise max_response_mb ({self.config.max_response_mb:g}) in the connection extra if real "
                "pages are this big (a 2,000-record page is a few MiB); otherwise check the endpoint"
            ),
            function=function_name,
        )

    def _broken(self, exc: Exception, size: int, started: float, function_name: str) -> Exception:
        """The TransportError for a body read that failed, or `exc` itself if it is not a transport fault."""
        if isinstance(exc, ReadTimeoutError):
            return TransportError(
                f"Intacct sent {size:,} bytes, then nothing for {self.config.read_timeout:g} s",
                function=function_name,
            )
        if isinstance(exc, Urllib3Error | OSError):
            return TransportError(
                f"the connection to Intacct dropped after {size:,} bytes of the response, "
                f"{time.monotonic() - started:.1f} s in ({type(exc).__name__})",
                function=function_name,
            )
        return exc

    def _with_retries(self, attempt: Callable[[], object]):
        budget = RetryBudget(self.config.retry, self._pause, task=self._task_budget)
        reauthentications = stale = 0
        while True:
            started = time.monotonic()
            try:
                return attempt()
            except _StaleSession as resend:
                # Costs no sign-in of this call's own: the thread that dropped the session opened the new one.
                stale += 1
                if stale > _STALE_SESSION_RESENDS:
                    raise resend.__cause__ from None
                continue
            except IntacctError as error:
                if error.reauthenticate and reauthentications < 2:
                    reauthentications += 1
                    log.warning("Intacct session expired; signing in again (%s)", error)
                    continue
                wait = budget.next_wait(error, attempt_started=started)
                if wait is None:
                    if budget.gave_up:
                        log.warning("Intacct call failed, not retrying: %s: %s", budget.gave_up, error)
                    raise
                log.warning(
                    "Intacct call failed, retrying in %.1f s (attempt %d): %s", wait, budget.attempts, error
                )
                self._sleep(wait)


_STALE_SESSION_RESENDS = 16  # sessions dying faster than threads can use them: stop at some point


class _StaleSession(Exception):
    """The session a call used expired, and another thread has already signed in again."""


def _in_request_order(response: responses.Response, control_ids: list[str]) -> list[responses.Result]:
    """Each function's result, matched by its control id (by position when Intacct echoed none)."""
    by_id = {result.control_id: result for result in response.results}
    if all(cid in by_id for cid in control_ids):
        return [by_id[cid] for cid in control_ids]
    if len(response.results) == len(control_ids):
        return list(response.results)
    raise NotXmlResponseError(
        f"Intacct answered {len(response.results)} of the {len(control_ids)} functions of a request"
    )


def query_page(
    client: IntacctClient,
    object_name: str,
    select: Sequence[str],
    *,
    filter: build.Filter | None = None,
    orderby: Sequence[tuple[str, bool]] = (),
    pagesize: int = 2000,
    show_private: bool = False,
) -> responses.Result:
    """One `query` page: a convenience over `client.call` used by extraction and the connection test."""
    return client.call(
        build.query(
            object_name,
            select,
            filter=filter,
            orderby=orderby,
            pagesize=pagesize,
            show_private=show_private,
        ),
        object_name=object_name,
    )
