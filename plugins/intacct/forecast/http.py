"""The HTTP side of Forecast's public REST API: one request helper, its errors, its pace and its count.

`ForecastApi.request` sends one JSON request with the API key in `X-FORECAST-API-KEY` and returns the
decoded body. It owns what every call needs:
- a pace: at most `max_requests_per_second` requests leave this client (Forecast's fair-use policy asks
  for a reasonable rate; the stand-in enforces one with 429), spaced evenly so no burst is sent;
- timeouts (connect, read) and a cap on the body's size, read as it streams;
- retries with the product's one retry policy (`intacct.gateway.retry`): reads and PUTs (idempotent)
  are sent again after 429, 5xx, HTML error pages and broken connections; a POST only when it surely did
  not reach Forecast (429, a connection never made). A POST whose fate is unknown (5xx, a timeout, a
  connection dropped after sending) is sent again only after the caller's `settle` looked for the
  record in Forecast and found none (`intacct.forecast.rest`); without one it raises `WriteOutcomeUnknown`;
- a count of calls, reads and writes apart, for the run's report.

Nothing here ever holds the API key in a message, a log line or an exception.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import requests as http

from intacct.gateway.retry import Pause, RetryBudget, RetryPolicy, TaskBudget

API_KEY_HEADER = "X-FORECAST-API-KEY"
MIB = 1024 * 1024
READ_METHODS = frozenset({"GET"})


class ForecastApiError(Exception):
    """Forecast refused or failed a request; `str()` names the request, the status and what Forecast said."""

    retryable: ClassVar[bool] = False
    throttles: ClassVar[bool] = False
    # Whether a write may have been applied although no success came back.
    may_have_applied: ClassVar[bool] = False

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class ForecastAuthError(ForecastApiError):
    """401: the API key is missing, wrong or deactivated."""


class ForecastRejected(ForecastApiError, ValueError):
    """400, 403, 405, 409, 415, 422: Forecast refused the request as it is; sending it again cannot help."""


class ForecastNotFound(ForecastApiError, LookupError):
    """404: no such record (or no such endpoint)."""


class ForecastThrottled(ForecastApiError):
    """429: too many requests; never applied, so safe to send again after `retry_after`."""

    retryable = True
    throttles = True


class ForecastUnavailable(ForecastApiError):
    """5xx, a proxy's HTML page, or a body that is not JSON: Forecast failed, perhaps after applying."""

    retryable = True
    may_have_applied = True


class ForecastConnectionFailed(ForecastApiError):
    """No connection could be made: the request never reached Forecast."""

    retryable = True


class ForecastConnectionLost(ForecastApiError):
    """The connection broke or timed out after the request was sent: Forecast may have applied it."""

    retryable = True
    may_have_applied = True


class ResponseTooLarge(ForecastApiError):
    """The body is over `max_response_mb`; the same request would be as large again."""


class WriteOutcomeUnknown(ForecastApiError):
    """A POST failed in a way that leaves open whether Forecast created the record (`cause` says how)."""

    def __init__(self, cause: ForecastApiError):
        self.cause = cause
        super().__init__(f"{cause} (the record may have been created)", status=cause.status)


@dataclass(frozen=True)
class ApiConfig:
    """Where Forecast's API is and how to talk to it. `base_url` ends before the version: `.../api`."""

    base_url: str
    api_key: str = field(repr=False)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_requests_per_second: float = 10.0  # 0: no bound of our own
    max_response_mb: float = 64.0
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_total=120.0))

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"Forecast base_url must start with http:// or https://, got {self.base_url!r}")
        if not self.api_key:
            raise ValueError("the Forecast API key is empty")
        if self.max_requests_per_second < 0:
            raise ValueError(
                f"max_requests_per_second must be 0 (no bound) or more, got {self.max_requests_per_second}"
            )
        if min(self.connect_timeout, self.read_timeout, self.max_response_mb) <= 0:
            raise ValueError("connect_timeout, read_timeout and max_response_mb must be positive")


class Pace:
    """Spaces requests `1 / rate` seconds apart, across threads: the rate bound of one client."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


class ForecastCalls:
    """Thread-safe count of requests sent to Forecast, retries included, per (method, resource)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def record(self, method: str, path: str) -> None:
        resource = "/".join(
            "{id}" if part.lstrip("-").isdigit() else part for part in path.strip("/").split("/")
        )
        with self._lock:
            self._counts[(method, resource)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)

    @property
    def reads(self) -> int:
        return sum(n for (method, _), n in self.snapshot().items() if method in READ_METHODS)

    @property
    def writes(self) -> int:
        return sum(n for (method, _), n in self.snapshot().items() if method not in READ_METHODS)

    def drain(self) -> dict[tuple[str, str], int]:
        """Return the counts and reset them, so a caller can persist each call exactly once."""
        with self._lock:
            counts = dict(self._counts)
            self._counts.clear()
            return counts


class ForecastApi:
    """Sends requests to one Forecast company's API (see the module doc). Thread-safe."""

    def __init__(
        self,
        config: ApiConfig,
        *,
        session: http.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config
        self.calls = ForecastCalls()
        self._session = session or http.Session()
        self._sleep = sleep
        self._pace = Pace(config.max_requests_per_second, sleep=sleep)
        self._pause = Pause(sleep=sleep)
        self._budget = TaskBudget(config.retry.task_budget)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        settle: Callable[[], Any | None] | None = None,
    ) -> Any:
        """Send `method path` (path from the version on: `v1/clients`) and return the decoded JSON.

        A POST that may have been applied without saying so is sent again only when `settle` is given
        and finds nothing: `settle()` looks in Forecast for the record the POST would have made and
        returns it (then that is the result) or None. Without `settle`, such a POST raises
        `WriteOutcomeUnknown`.
        """
        retry = RetryBudget(self.config.retry, self._pause, task=self._budget)
        while True:
            started = time.monotonic()
            try:
                return self._send(method, path, body)
            except ForecastApiError as error:
                if method == "POST" and error.may_have_applied:
                    if settle is None:
                        raise WriteOutcomeUnknown(error) from error
                    found = settle()
                    if found is not None:
                        return found
                wait = retry.next_wait(error, attempt_started=started)
                if wait is None:
                    if retry.gave_up:
                        raise type(error)(
                            f"{error}; gave up after {retry.attempts} attempt(s): {retry.gave_up}",
                            status=error.status,
                            retry_after=error.retry_after,
                        ) from error
                    raise
                self._sleep(wait)

    def retry_summary(self) -> str:
        """One line for the report: retries made and the share of the task's retry budget spent."""
        return self._budget.summary()

    def describe(self) -> str:
        return f"Forecast REST API at {self.config.base_url}"

    def close(self) -> None:
        self._session.close()

    # -- one attempt ------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        url = f"{self.config.base_url.rstrip('/')}/{path.lstrip('/')}"
        what = f"Forecast {method} /{path.lstrip('/')}"
        headers = {API_KEY_HEADER: self.config.api_key, "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
            data = json.dumps(body).encode()
        self._pause.wait()
        self._pace.wait()
        self.calls.record(method, path)
        try:
            reply = self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                stream=True,
                allow_redirects=False,
            )
        except http.exceptions.ConnectTimeout as exc:
            raise ForecastConnectionFailed(
                f"{what}: no connection within {self.config.connect_timeout:g} s"
            ) from exc
        except http.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise ForecastConnectionFailed(f"{what}: cannot connect ({_reason(exc)})") from exc
            raise ForecastConnectionLost(f"{what}: the connection broke ({_reason(exc)})") from exc
        except http.exceptions.Timeout as exc:
            raise ForecastConnectionLost(
                f"{what}: no response within {self.config.read_timeout:g} s"
            ) from exc
        with reply:
            content = self._read_body(reply, what)
        return _decode(reply, content, what)

    def _read_body(self, reply: http.Response, what: str) -> bytes:
        limit = int(self.config.max_response_mb * MIB)
        declared = reply.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(
                f"{what}: the response is {int(declared):,} bytes, over the {self.config.max_response_mb:g} MiB "
                "limit (max_response_mb in the connection extra)",
                status=reply.status_code,
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in reply.iter_content(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise ResponseTooLarge(
                        f"{what}: the response is over the {self.config.max_response_mb:g} MiB limit "
                        "(max_response_mb in the connection extra)",
                        status=reply.status_code,
                    )
                chunks.append(chunk)
        except (http.exceptions.ConnectionError, http.exceptions.ChunkedEncodingError) as exc:
            raise ForecastConnectionLost(f"{what}: the response broke off after {size:,} bytes") from exc
        return b"".join(chunks)


def _decode(reply: http.Response, content: bytes, what: str) -> Any:
    status = reply.status_code
    is_json = "json" in reply.headers.get("Content-Type", "")
    payload: Any = None
    if is_json and content:
        try:
            payload = json.loads(content)
        except ValueError:
            payload = None
            is_json = False
    if 200 <= status < 300:
        if not is_json:
            raise ForecastUnavailable(
                f"{what}: HTTP {status} without a JSON body ({_page_kind(reply)})", status=status
            )
        return payload
    said = payload.get("message") if isinstance(payload, dict) else None
    said_text = f": Forecast said {said!r}" if said else f" ({_page_kind(reply)})" if not is_json else ""
    message = f"{what}: HTTP {status}{said_text}"
    if status == 401:
        raise ForecastAuthError(
            f"{message}; the API key was refused: check the password of the Forecast connection "
            "(Forecast: Admin > API Keys; a deactivated key is refused too)",
            status=status,
        )
    if status == 404:
        raise ForecastNotFound(message, status=status)
    if status == 429:
        retry_after = _retry_after(reply.headers.get("Retry-After"))
        asked = f"; Forecast asked to wait {retry_after:g} s" if retry_after is not None else ""
        raise ForecastThrottled(
            f"{message}{asked} (lower max_requests_per_second in the connection extra if this keeps happening)",
            status=status,
            retry_after=retry_after,
        )
    if status >= 500:
        raise ForecastUnavailable(message, status=status)
    raise ForecastRejected(message, status=status)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, math.ceil(seconds)) if math.isfinite(seconds) else None


def _page_kind(reply: http.Response) -> str:
    kind = reply.headers.get("Content-Type", "").split(";")[0].strip()
    return f"a {kind} page" if kind else "no content type"


def _never_connected(exc: http.exceptions.ConnectionError) -> bool:
    """Whether the request surely never left: the connection itself could not be made."""
    from urllib3.exceptions import NewConnectionError

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, NewConnectionError | ConnectionRefusedError):
            return True
        reason = getattr(cause, "reason", None)
        cause = reason if isinstance(reason, BaseException) else (cause.__cause__ or cause.__context__)
    return False


def _reason(exc: Exception) -> str:
    text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text[:200]
