"""The errors the gateway answers with, worded as Intacct words them where the reference records it.

Three levels, as in Intacct: a control failure stops the whole request, an authentication failure stops
its operation, a function failure stops only that function (unless the operation is a transaction).
"""

from __future__ import annotations

from dataclasses import dataclass

GENERIC_FUNCTION_ERROR = "There was an error processing the function"


@dataclass(frozen=True)
class ErrorDetail:
    """One `<error>` element."""

    errorno: str
    description: str = ""
    description2: str = ""
    correction: str = ""


class IntacctError(Exception):
    """An error reported inside the XML answer (HTTP 200): one or more `<error>` elements."""

    def __init__(self, *details: ErrorDetail):
        super().__init__("; ".join(f"{d.errorno}: {d.description2 or d.description}" for d in details))
        self.details = details
        self.data: list[bytes] | None = None  # a `<data>` element Intacct sends along with some failures


class SchemaError(IntacctError):
    """The request does not match the API schema: a control failure XL03000003, nothing runs."""

    def __init__(self, message: str, line: int | None = None, column: int = 0):
        where = f" Line: {line}, column: {column}." if line else ""
        super().__init__(ErrorDetail("XL03000003", "", f"XML Parse schema error: {message}{where}"))


class AuthenticationError(IntacctError):
    """The operation's credentials or session were refused: no function of the operation runs."""


def bad_sender() -> IntacctError:
    return IntacctError(ErrorDetail("XL03000006", "", "Incorrect Intacct XML Partner ID or password."))


def unauthorized_sender(sender_id: str, company_id: str) -> AuthenticationError:
    return AuthenticationError(
        ErrorDetail(
            "XL03000006",
            "Invalid Web Services Authorization",
            f"The sender ID '{sender_id}' is not authorized to make Web Services requests to company ID "
            f"'{company_id}'.",
            "Contact the company administrator to grant Web Services authorization to this sender ID.",
        )
    )


def bad_sign_in() -> AuthenticationError:
    return AuthenticationError(ErrorDetail("XL03000006", "", "Sign-in information is incorrect"))


def invalid_session(session_id: str) -> AuthenticationError:
    # Intacct echoes a truncated id ("Invalid session q....").
    return AuthenticationError(ErrorDetail("XL03000006", "", f"Invalid session {session_id[:1]}...."))


def unknown_entity(location_id: str) -> AuthenticationError:
    return AuthenticationError(
        ErrorDetail(
            "XL03000006",
            "",
            f"Sign-in information is incorrect: entity '{location_id}' does not exist or the user has no "
            "access to it",
        )
    )


def object_not_found(object_name: str, errorno: str = "XL03000009") -> IntacctError:
    """`query` reports XL03000009; readByQuery reports the literal errorno "Query Failed"."""
    description = GENERIC_FUNCTION_ERROR if errorno == "XL03000009" else ""
    return IntacctError(ErrorDetail(errorno, description, f"Object definition {object_name} not found"))


def processing_error(detail: str = "") -> IntacctError:
    """DL02000001, Intacct's catch-all; `detail` adds a second error naming the cause."""
    details = [ErrorDetail("DL02000001", "", "There was an error processing the request.")]
    if detail:
        details.append(ErrorDetail("DL02000001", "", detail))
    return IntacctError(*details)


def function_error(detail: str, correction: str = "") -> IntacctError:
    return IntacctError(ErrorDetail("XL03000009", GENERIC_FUNCTION_ERROR, detail, correction))


def permission_denied(function: str, object_name: str) -> IntacctError:
    return IntacctError(
        ErrorDetail(
            "PL04000005",
            "Permission Denied",
            f"You do not have permission for API operation {function.upper()} on objects of type "
            f"{object_name.lower()}",
            "Ask the company administrator for the permission.",
        )
    )


def temporarily_offline() -> IntacctError:
    return IntacctError(
        ErrorDetail(
            "XL03000009",
            GENERIC_FUNCTION_ERROR,
            "The Service is Temporarily Off-line. Please try again later.",
            "Please Try Again Later",
        )
    )


def transaction_aborted() -> ErrorDetail:
    return ErrorDetail(
        "XL03000009",
        "",
        "The entire transaction in this operation has been rolled back due to an error.",
    )
