"""Typed errors of the Intacct XML gateway.

One hierarchy for everything that can go wrong between sending a request and reading its results. Each
class says, through class attributes, what a caller may do about it, so a retry policy needs no
isinstance lists:

- ``retryable``: sending the same request again later may succeed (throttling, 5xx, off-line service,
  dropped, stalled or trickling connections, non-XML pages from a proxy, truncated XML). A response that
  cannot become valid (hostile or malformed XML, a body over the size limit) is not retryable.
- ``throttles``: the server asked every caller to slow down (429 / GW-0010).
- ``reauthenticate``: the request may succeed after signing in again (an expired or invalid session).

Every error carries what Intacct said (``errorno``, ``description``, ``description2``, ``correction``,
all ``None`` when unknown), the HTTP status, the function and control id it concerns where known, and
all error entries of the response in ``details``. ``str(error)`` is one sentence naming the problem and
what to check. No error ever holds a credential or a session id: the parser redacts the session id that
Intacct echoes in "Invalid session" messages, and nothing here is given the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

__all__ = [
    "EntityError",
    "ErrorDetail",
    "GatewayServerError",
    "HostileXmlError",
    "IntacctError",
    "MalformedRequestError",
    "NotXmlResponseError",
    "PermissionDeniedError",
    "ProtocolError",
    "QueryError",
    "ResponseTooLargeError",
    "RetryableError",
    "SenderAuthenticationError",
    "ServiceOfflineError",
    "SessionExpiredError",
    "ThrottledError",
    "TransactionAbortedError",
    "TransportError",
    "UnknownObjectError",
    "UserAuthenticationError",
]


@dataclass(frozen=True)
class ErrorDetail:
    """One ``<error>`` entry of an Intacct ``<errormessage>``; empty elements are ``None``.

    ``errorno`` is usually a code such as ``XL03000006`` but Intacct sometimes puts free text there
    (``Query Failed``, ``Invalid fields list x``).
    """

    errorno: str | None = None
    description: str | None = None
    description2: str | None = None
    correction: str | None = None

    @property
    def text(self) -> str:
        """The human-readable parts joined, for matching and messages."""
        return " ".join(p for p in (self.description, self.description2, self.correction) if p)


def _rebuild(cls: type[IntacctError], state: dict[str, Any]) -> IntacctError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class IntacctError(Exception):
    """Base of every gateway error; also raised as is for failures no subclass describes."""

    retryable: ClassVar[bool] = False
    throttles: ClassVar[bool] = False
    reauthenticate: ClassVar[bool] = False
    problem: ClassVar[str] = "Intacct reported an error"
    advice: ClassVar[str] = "look the error number up in the Sage Intacct Web Services documentation"

    def __init__(
        self,
        problem: str | None = None,
        *,
        advice: str | None = None,
        errorno: str | None = None,
        description: str | None = None,
        description2: str | None = None,
        correction: str | None = None,
        http_status: int | None = None,
        function: str | None = None,
        control_id: str | None = None,
        company_id: str | None = None,
        details: tuple[ErrorDetail, ...] = (),
    ) -> None:
        self._problem = problem
        self._advice = advice
        self.errorno = errorno
        self.description = description
        self.description2 = description2
        self.correction = correction
        self.http_status = http_status
        self.function = function
        self.control_id = control_id
        self.company_id = company_id
        self.details = tuple(details)
        super().__init__(str(self))

    @classmethod
    def from_detail(cls, detail: ErrorDetail | None, **kwargs: Any) -> Self:
        """Build the error from the ``<error>`` entry that best describes it."""
        if detail is not None:
            kwargs.setdefault("errorno", detail.errorno)
            kwargs.setdefault("description", detail.description)
            kwargs.setdefault("description2", detail.description2)
            kwargs.setdefault("correction", detail.correction)
        return cls(**kwargs)

    def _codes(self) -> str:
        codes = [f"HTTP {self.http_status}"] if self.http_status not in (None, 200) else []
        if self.errorno:
            codes.append(self.errorno)
        return ", ".join(codes)

    def _intacct_said(self) -> str:
        codes = self._codes()
        said = (self.description2 or self.description or "").rstrip(".")
        if codes and said:
            return f" ({codes}: {said})"
        if codes or said:
            return f" ({codes or said})"
        return ""

    def _where(self) -> str:
        if self.function and self.control_id:
            return f" in function {self.function} (control id {self.control_id})"
        if self.function:
            return f" in function {self.function}"
        return ""

    def __str__(self) -> str:
        problem = self._problem or self.problem
        advice = self._advice or self.advice
        return f"{problem}{self._where()}{self._intacct_said()}: {advice}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default pickling of exceptions.
        return (_rebuild, (type(self), dict(self.__dict__)))


class RetryableError(IntacctError):
    """The same request may succeed when sent again later, with backoff."""

    retryable = True


class ThrottledError(RetryableError):
    """HTTP 429 or GW-0010: the company's concurrency or rate limit was hit.

    ``retry_after`` holds the seconds from a ``Retry-After`` header when one was given.
    """

    throttles = True
    problem = "Intacct throttled the request"
    advice = (
        "too many concurrent or rapid API calls for this company; back off, and lower the client's "
        "concurrency if it keeps happening (the default tier allows 2 concurrent requests)"
    )

    def __init__(self, problem: str | None = None, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(problem, **kwargs)

    def __str__(self) -> str:
        text = super().__str__()
        if self.retry_after is not None:
            text += f"; Intacct asked to retry after {self.retry_after:g} s"
        return text


class GatewayServerError(RetryableError):
    """HTTP 5xx: the gateway or its CDN failed.

    With 524 (the CDN gave up waiting) Intacct may still be running the request: safe to resend for
    reads, not for writes that are not protected by ``uniqueid``.
    """

    problem = "Intacct's gateway answered with a server error"
    advice = "usually transient; retry with backoff, and check Sage Intacct's status page if it persists"


class NotXmlResponseError(RetryableError):
    """The body was not an Intacct XML response: an HTML page, an empty body or truncated XML.

    XML that claims to be an Intacct response but breaks before its end is a `ProtocolError` instead.
    """

    problem = "Intacct returned a body that is not an Intacct XML response"
    advice = (
        "usually a proxy or CDN error page or a connection cut mid-response; retry with backoff, and "
        "check the endpoint URL if it persists"
    )


class ServiceOfflineError(RetryableError):
    """Intacct says "The Service is Temporarily Off-line" (maintenance or an outage)."""

    problem = "Intacct reports that the service is temporarily off-line"
    advice = "retry later; Intacct's weekly maintenance window is Saturday 02:30-05:30 UTC"


class TransportError(RetryableError):
    """The connection dropped or timed out before the whole response arrived (raised by the transport):
    no answer within ``read_timeout``, a body that stalled or trickled past ``response_deadline``.

    As with a 524, a request that timed out may still have run on Intacct's side.
    """

    problem = "The connection to Intacct failed before a response arrived"
    advice = "check that the endpoint is reachable from this worker; retrying is safe for reads"


class SenderAuthenticationError(IntacctError):
    """The Web Services sender id/password were rejected, or the sender is not authorised for the company."""

    problem = "Intacct rejected the Web Services sender credentials"
    advice = (
        "check sender_id/sender_password in the connection extra and that the sender is listed in the "
        "company's Web Services authorizations"
    )

    def __str__(self) -> str:
        if self.company_id and not self._advice:
            advice = (
                "check sender_id/sender_password in the connection extra and that the sender is "
                f"authorised for company {self.company_id}"
            )
            return f"{self._problem or self.problem}{self._where()}{self._intacct_said()}: {advice}"
        return super().__str__()


class UserAuthenticationError(IntacctError):
    """The company user's login was rejected (wrong user id, company id or password, or locked user)."""

    problem = "Intacct rejected the user login"
    advice = (
        "check user_id, company_id and password in the connection, and that the Web Services user is "
        "active and not locked out"
    )

    def __str__(self) -> str:
        if self.company_id and not self._problem:
            problem = f"Intacct rejected the user login for company {self.company_id}"
            return f"{problem}{self._where()}{self._intacct_said()}: {self._advice or self.advice}"
        return super().__str__()


class SessionExpiredError(IntacctError):
    """The API session expired or is invalid: sign in again (``reauthenticate``) and resend."""

    reauthenticate = True
    problem = "The Intacct API session is no longer valid"
    advice = "sign in again to get a new session and resend the request"

    def _intacct_said(self) -> str:
        # Intacct's text for this error can echo the session id: name the codes only.
        codes = self._codes()
        return f" ({codes})" if codes else ""


class EntityError(IntacctError):
    """The entity (location) context was refused: unknown, invalid, or required but missing."""

    problem = "Intacct refused the entity (location) context of the request"
    advice = (
        "check entity_id in the connection names an existing entity (LOCATIONENTITY) the user may "
        "access, or leave it empty to work at the top level"
    )


class PermissionDeniedError(IntacctError):
    """The user lacks permission for the object or function (PL04000005 and similar)."""

    problem = "The Intacct user lacks permission for this request"
    advice = "grant the Web Services user read access to this object in its role or user permissions"


class UnknownObjectError(IntacctError):
    """Intacct does not know the object ("Object definition X not found")."""

    problem = "Intacct does not know the requested object"
    advice = "check the object name and that the company subscribes to the application that owns it"


class QueryError(IntacctError):
    """A function failed for a query or data reason (bad field, bad filter value, DL02000001, ...).

    DL02000001 ("There was an error processing the request") is Intacct's generic failure: it is
    returned for invalid fields or values, and also, sometimes, transiently (AUDITHISTORY is known for
    it). This class is not retryable; the caller decides whether one more attempt is worth it.
    """

    problem = "Intacct reported a query or data failure"
    advice = "check the object's fields (lookup) and the filter values; DL02000001 is sometimes transient"


class TransactionAbortedError(IntacctError):
    """The function was rolled back because another function in the same transaction failed (XL03000009)."""

    problem = "Intacct rolled back a function of a failed transaction"
    advice = "look at the failed function of the same request for the cause"


class MalformedRequestError(IntacctError):
    """The gateway could not parse or validate the request (XL03000003, GW-0011): a client bug."""

    problem = "Intacct could not parse or validate the request"
    advice = "this is a bug in the request builder; compare the request with the 3.0 schema"


class ProtocolError(IntacctError):
    """XML that claims to be an Intacct response but cannot be parsed, for a reason other than being cut
    short (a mismatched tag, an undefined entity, a value breaking libxml2's limits): the same request
    would get the same bytes again, so it is not retried."""

    problem = "Intacct's endpoint sent XML that cannot be parsed"
    advice = (
        "retrying cannot fix it; check that the endpoint URL is Intacct's gateway, and report the "
        "response to Sage Intacct support if it is"
    )


class HostileXmlError(ProtocolError):
    """The response declares XML entities (a DOCTYPE) or expands them without bound.

    Intacct never sends a DOCTYPE; the parser never resolves entities or reaches the network anyway,
    but such a response is refused whole rather than read with holes where its entities were.
    """

    problem = "the response declares XML entities (a DOCTYPE), which Intacct never sends: refused as hostile"
    advice = "check the endpoint URL, and that no proxy between this worker and Intacct rewrites responses"


class ResponseTooLargeError(IntacctError):
    """The response is larger than ``ClientConfig.max_response_mb``; the connection is closed at once.

    Not retryable: the same page would be as large again.
    """

    problem = "Intacct's response is larger than the client accepts"
    advice = (
        "raise max_response_mb in the connection extra if real pages are this big (a 2,000-record "
        "page is a few MiB)"
    )
