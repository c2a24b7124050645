"""The gateway itself: one POSTed request body in, one answer out, with faults, slots and the ledger.

Order of work, as in Intacct: transport faults and throttling first, then the XML and its schema
(control failure), the sender's credentials (control failure), each operation's authentication
(authentication failure), and finally the functions, one `<result>` each.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus

from .envelope import (
    Authentication,
    Control,
    ControlEcho,
    GatewayRequest,
    Login,
    Operation,
    RequestRejected,
    parse_request,
)
from .errors import (
    AuthenticationError,
    ErrorDetail,
    IntacctError,
    bad_sender,
    bad_sign_in,
    function_error,
    invalid_session,
    temporarily_offline,
    transaction_aborted,
    unauthorized_sender,
    unknown_entity,
)
from .faults import Faults
from .functions import HANDLERS, PAGING_FUNCTIONS, CallContext
from .ledger import FunctionCall, Ledger
from .responses import (
    XML_CONTENT_TYPE,
    AuthenticationEcho,
    FunctionResult,
    OperationAnswer,
    control_failure_document,
    gateway_error_document,
    html_error_page,
    success_document,
)
from .sessions import DEFAULT_SESSION_TIMEOUT, Session, SessionRegistry
from .store import Store

GATEWAY_PATH = "/ia/xml/xmlgw.phtml"
DEFAULT_SENDER_ID = "sandbox_sender"
DEFAULT_SENDER_PASSWORD = "sandbox-sender-secret"  # noqa: S105 (the sandbox's documented default)
MAX_REMEMBERED_CONTROLIDS = 100_000


@dataclass(frozen=True)
class Sender:
    """Web Services sender credentials; `companies` None means authorized for every company."""

    sender_id: str
    password: str
    companies: frozenset[str] | None = None


@dataclass
class Reply:
    """An HTTP answer; `drop` means close the connection without one."""

    status: int
    body: bytes
    content_type: str = XML_CONTENT_TYPE
    drop: bool = False


class Gateway:
    """Intacct's XML gateway for one company (`store`)."""

    def __init__(
        self,
        store: Store,
        *,
        senders: Iterable[Sender] | None = None,
        faults: Faults | None = None,
        ledger: Ledger | None = None,
        session_timeout: timedelta = DEFAULT_SESSION_TIMEOUT,
        public_url: str | None = None,
        console_id: str | None = None,
    ):
        self.store = store
        self.console_id = console_id  # a console (practice) company whose users may slide into `store`
        self.senders = {
            s.sender_id: s for s in (senders or [Sender(DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD)])
        }
        self.faults = faults or Faults(store)
        self.ledger = ledger or Ledger()
        self.sessions = SessionRegistry(store.clock, session_timeout)
        self.public_url = public_url
        self._processed: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._processed_lock = threading.Lock()

    def handle(self, body: bytes, host: str) -> Reply:
        """Answer one POST to the gateway path; `host` is where the client reached us (host:port)."""
        started = time.perf_counter()
        fault = self.faults.transport_fault()
        if fault is not None:
            reply, outcome = _fault_reply(*fault)
            return self._log(reply, outcome, started)
        if not body.strip():
            return self._log(_gateway_error(HTTPStatus.BAD_REQUEST), "invalid_request", started)
        try:
            request = parse_request(body)
        except RequestRejected as rejected:
            return self._log(_control_failure(rejected.echo, rejected.error), "control_failure", started)
        company = self._company_of(request)
        slot = (request.control.senderid, company)
        if not self.faults.acquire_slot(slot):
            return self._log(_gateway_error(HTTPStatus.TOO_MANY_REQUESTS), "throttled", started, company)
        try:
            delay = self.faults.latency_seconds
            if delay:
                time.sleep(delay)
            reply, outcome, calls = self._answer(request, host)
        finally:
            self.faults.release_slot(slot)
        return self._log(reply, outcome, started, company, calls)

    # ---- the steps ----------------------------------------------------------------------------------

    def _answer(self, request: GatewayRequest, host: str) -> tuple[Reply, str, tuple[FunctionCall, ...]]:
        control = request.control
        try:  # the whole request is checked against the schema before anything runs
            for operation in request.operations:
                for call in operation.functions:
                    handler = HANDLERS.get(call.name)
                    call.args = handler.parse(call.element) if handler else None
        except IntacctError as error:
            return _control_failure(control.echo, error), "control_failure", ()
        sender = self.senders.get(control.senderid)
        if sender is None or sender.password != control.password:
            return _control_failure(control.echo, bad_sender()), "control_failure", ()
        maintenance = self.faults.in_maintenance()
        endpoint = self.public_url or f"http://{host}{GATEWAY_PATH}"
        answers: list[OperationAnswer] = []
        for operation in request.operations:
            try:
                session = self._authenticate(operation.authentication, sender)
            except AuthenticationError as error:
                answers.append(OperationAnswer(_failed_echo(operation.authentication), errors=error.details))
                continue
            context = CallContext(self.store, session, self.sessions, self.faults, endpoint)
            results = self._run(operation, context, control, maintenance)
            answers.append(OperationAnswer(self._echo(session), results))
        results = [result for answer in answers for result in answer.results]
        calls = tuple(
            FunctionCall(r.function, r.object, r.status, r.errors[0].errorno if r.errors else "")
            for r in results
        )
        if len(results) == 1 and results[0].raw is not None:
            content_type, body = results[0].raw
            reply = Reply(HTTPStatus.OK, body, content_type)
        else:
            reply = Reply(HTTPStatus.OK, success_document(control.echo, answers))
        for result in results:
            if result.status == "success" and result.function in PAGING_FUNCTIONS:
                self.faults.page_served(result.object)
        outcome = (
            "maintenance" if maintenance else "ok" if any(a.results for a in answers) else "auth_failure"
        )
        return reply, outcome, calls

    def _authenticate(self, authentication: Authentication, sender: Sender) -> Session:
        store = self.store
        if authentication.kind == "oauth":
            raise AuthenticationError(
                ErrorDetail("XL03000006", "", "OAuth is not served by the sandbox gateway")
            )
        if authentication.kind == "sessionid":
            session = self.sessions.authenticate(authentication.sessionid)
            limit = self.faults.session_request_limit()
            if limit is not None and session.requests > limit:
                self.sessions.end(session.session_id)
                raise invalid_session(session.session_id)
            self._check_sender(sender, session.company_id)
            return session
        login = authentication.login
        company, location = self._sign_in_company(login)
        self._check_sender(sender, company)
        user = store.authenticate(login.userid, login.password)
        if user is None:
            raise bad_sign_in()
        if location and store.entity(location) is None:
            raise unknown_entity(location)
        user_key = user[store.tables["USERINFO"].key_column]
        return self.sessions.open(
            company_id=store.company_id, user_id=login.userid, user_key=user_key, location_id=location
        )

    def _sign_in_company(self, login: Login) -> tuple[str, str]:
        """(company, entity) a login signs in to; a console user slides in with clientid or console|client|entity."""
        company, client, location = login.companyid, login.clientid, login.locationid or ""
        if "|" in company:
            company, client, *entity = company.split("|")
            location = entity[0] if entity else location
        if client:
            if self.console_id is None or company != self.console_id:
                raise bad_sign_in()
            company = client
        if company != self.store.company_id:
            raise bad_sign_in()
        return company, location

    @staticmethod
    def _check_sender(sender: Sender, company_id: str) -> None:
        if sender.companies is not None and company_id not in sender.companies:
            raise unauthorized_sender(sender.sender_id, company_id)

    def _run(
        self, operation: Operation, context: CallContext, control: Control, maintenance: bool
    ) -> list[FunctionResult]:
        results: list[FunctionResult] = []
        for position, call in enumerate(operation.functions):
            result = FunctionResult(call.name, call.controlid, object=getattr(call.args, "object", ""))
            try:
                if maintenance:
                    raise temporarily_offline()
                handler = HANDLERS.get(call.name)
                if handler is None:
                    raise function_error(f"The sandbox gateway does not serve the function '{call.name}'")
                claim = (control.senderid, context.session.company_id, call.controlid)
                if control.uniqueid:
                    self._refuse_repeat(claim)
                answer = handler.run(context, call.args)
                result.data, result.raw, result.object = (
                    answer.data,
                    answer.raw,
                    answer.object or result.object,
                )
                if control.uniqueid:
                    self._remember(claim)
            except IntacctError as error:
                result.status, result.errors, result.data = "failure", error.details, error.data
            results.append(result)
            if operation.transaction and result.status == "failure":
                # one failure rolls the whole operation back: the others are reported as aborted
                for other in results[:-1]:
                    _abort(other)
                for rest in operation.functions[position + 1 :]:
                    results.append(_abort(FunctionResult(rest.name, rest.controlid)))
                break
        return results

    def _refuse_repeat(self, claim: tuple[str, str, str]) -> None:
        with self._processed_lock:
            if claim in self._processed:
                raise function_error(
                    f"A function with control ID '{claim[2]}' was already processed for this sender and company "
                    "(uniqueid is true)",
                    "Send a new function control ID, or uniqueid false for functions that may repeat.",
                )

    def _remember(self, claim: tuple[str, str, str]) -> None:
        with self._processed_lock:
            self._processed[claim] = None
            if len(self._processed) > MAX_REMEMBERED_CONTROLIDS:
                self._processed.popitem(last=False)

    def _echo(self, session: Session) -> AuthenticationEcho:
        zone = self.store.zone
        return AuthenticationEcho(
            "success",
            session.user_id,
            session.company_id,
            session.location_id,
            session.started.astimezone(zone).isoformat(),
            session.expires.astimezone(zone).isoformat(),
        )

    def _company_of(self, request: GatewayRequest) -> str:
        authentication = request.operations[0].authentication
        if authentication.login is not None:
            return authentication.login.clientid or authentication.login.companyid
        session = self.sessions.peek(authentication.sessionid or "")
        return session.company_id if session else ""

    def _log(
        self,
        reply: Reply,
        outcome: str,
        started: float,
        company: str = "",
        calls: tuple[FunctionCall, ...] = (),
    ) -> Reply:
        elapsed = (time.perf_counter() - started) * 1000
        status = 0 if reply.drop else reply.status
        self.ledger.record(
            http_status=status, outcome=outcome, company=company, duration_ms=elapsed, calls=calls
        )
        return reply


def _control_failure(echo: ControlEcho, error: IntacctError) -> Reply:
    return Reply(HTTPStatus.OK, control_failure_document(echo, error.details))


def _abort(result: FunctionResult) -> FunctionResult:
    result.status, result.data, result.raw, result.errors = "aborted", None, None, (transaction_aborted(),)
    return result


def _failed_echo(authentication: Authentication) -> AuthenticationEcho:
    login = authentication.login
    return AuthenticationEcho("failure", login.userid if login else "", login.companyid if login else "")


def _gateway_error(status: HTTPStatus) -> Reply:
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        body = gateway_error_document(
            "GW-0010",
            "API rate limit exceeded",
            "Too many concurrent requests for this company. Retry later, with a backoff.",
        )
    else:
        body = gateway_error_document("GW-0011", "Invalid Request")
    return Reply(status, body)


def _fault_reply(name: str, fault) -> tuple[Reply, str]:
    if name == "drop_connection":
        return Reply(0, b"", drop=True), "dropped"
    if name == "server_error":
        try:
            phrase = HTTPStatus(fault.status).phrase
        except ValueError:  # CDN codes such as 524 are not in the standard list
            phrase = "Server Error"
        return Reply(fault.status, f"{phrase}\n".encode(), "text/plain; charset=UTF-8"), "server_error"
    if name == "html_error":
        return Reply(fault.status, html_error_page(fault.status), "text/html; charset=UTF-8"), "html_error"
    if name == "invalid_request":
        return _gateway_error(HTTPStatus.BAD_REQUEST), "invalid_request"
    return _gateway_error(HTTPStatus.TOO_MANY_REQUESTS), "throttled"
