"""The error hierarchy: what a retry policy can read off each class, and the sentences people read."""

from __future__ import annotations

import pickle

import pytest

from intacct.gateway import errors
from intacct.gateway.errors import ErrorDetail

RETRYABLE = {
    errors.ThrottledError,
    errors.GatewayServerError,
    errors.NotXmlResponseError,
    errors.ServiceOfflineError,
    errors.TransportError,
}
NOT_RETRYABLE = {
    errors.SenderAuthenticationError,
    errors.UserAuthenticationError,
    errors.SessionExpiredError,
    errors.EntityError,
    errors.PermissionDeniedError,
    errors.UnknownObjectError,
    errors.QueryError,
    errors.TransactionAbortedError,
    errors.MalformedRequestError,
    errors.ProtocolError,
    errors.HostileXmlError,
    errors.ResponseTooLargeError,
}


@pytest.mark.parametrize("cls", sorted(RETRYABLE, key=lambda c: c.__name__))
def test_retryable_classes(cls: type[errors.IntacctError]) -> None:
    assert issubclass(cls, errors.RetryableError)
    assert cls.retryable is True
    assert cls.reauthenticate is False


@pytest.mark.parametrize("cls", sorted(NOT_RETRYABLE, key=lambda c: c.__name__))
def test_non_retryable_classes(cls: type[errors.IntacctError]) -> None:
    assert issubclass(cls, errors.IntacctError)
    assert not issubclass(cls, errors.RetryableError)
    assert cls.retryable is False


def test_only_an_expired_session_asks_for_reauthentication() -> None:
    flagged = {cls for cls in RETRYABLE | NOT_RETRYABLE if cls.reauthenticate}
    assert flagged == {errors.SessionExpiredError}


def test_every_error_class_is_listed_here() -> None:
    defined = {
        obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, errors.IntacctError)
    }
    assert defined - {errors.IntacctError, errors.RetryableError} == RETRYABLE | NOT_RETRYABLE


def test_sender_error_names_the_fix_and_the_company() -> None:
    error = errors.SenderAuthenticationError(
        errorno="XL03000006",
        description2="Incorrect Intacct XML Partner ID or password.",
        company_id="ACME",
    )
    assert str(error) == (
        "Intacct rejected the Web Services sender credentials (XL03000006: Incorrect Intacct XML Partner ID "
        "or password): check sender_id/sender_password in the connection extra and that the sender is "
        "authorised for company ACME"
    )


def test_function_errors_say_where_they_happened() -> None:
    error = errors.PermissionDeniedError(
        errorno="PL04000005", description2="Permission denied", function="query", control_id="f-7"
    )
    assert str(error) == (
        "The Intacct user lacks permission for this request in function query (control id f-7) "
        "(PL04000005: Permission denied): grant the Web Services user read access to this object in its "
        "role or user permissions"
    )


def test_error_without_intacct_details_is_still_one_sentence() -> None:
    error = errors.TransportError("The connection to Intacct dropped during query (ConnectionError)")
    assert str(error) == (
        "The connection to Intacct dropped during query (ConnectionError): check that the endpoint is "
        "reachable from this worker; retrying is safe for reads"
    )
    assert error.retryable


def test_throttled_error_carries_retry_after() -> None:
    error = errors.ThrottledError(http_status=429, errorno="GW-0010", retry_after=12.5)
    assert error.retry_after == 12.5
    assert str(error).startswith("Intacct throttled the request (HTTP 429, GW-0010): too many concurrent")
    assert str(error).endswith("Intacct asked to retry after 12.5 s")
    assert errors.ThrottledError().retry_after is None


def test_session_error_never_repeats_intacct_text() -> None:
    error = errors.SessionExpiredError(errorno="XL03000006", description2="Invalid session abc123..")
    assert "abc123" not in str(error)
    assert str(error).startswith("The Intacct API session is no longer valid (XL03000006): sign in again")


def test_from_detail_copies_intacct_fields_and_keeps_overrides() -> None:
    detail = ErrorDetail("DL02000001", None, "There was an error processing the request.", None)
    error = errors.QueryError.from_detail(detail, function="query", details=(detail,))
    assert (error.errorno, error.description2, error.function) == (
        "DL02000001",
        "There was an error processing the request.",
        "query",
    )
    assert error.details == (detail,)
    assert errors.IntacctError.from_detail(None).errorno is None


def test_errors_survive_pickling_with_their_fields() -> None:
    original = errors.ThrottledError(retry_after=3.0, http_status=429, errorno="GW-0010", control_id="c")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is errors.ThrottledError
    assert (copy.retry_after, copy.http_status, copy.errorno, copy.control_id) == (3.0, 429, "GW-0010", "c")
    assert str(copy) == str(original)
    assert copy.args == original.args


def test_error_detail_text_joins_the_readable_parts() -> None:
    detail = ErrorDetail("BL01001973", "Duplicate", None, "Enter unique account number")
    assert detail.text == "Duplicate Enter unique account number"


def test_responses_that_cannot_become_valid_say_so() -> None:
    hostile = errors.HostileXmlError(http_status=200)
    assert str(hostile) == (
        "the response declares XML entities (a DOCTYPE), which Intacct never sends: refused as hostile: "
        "check the endpoint URL, and that no proxy between this worker and Intacct rewrites responses"
    )
    assert isinstance(hostile, errors.ProtocolError) and not hostile.retryable
    assert "retrying cannot fix it" in str(errors.ProtocolError())
    assert "raise max_response_mb in the connection extra" in str(errors.ResponseTooLargeError())
