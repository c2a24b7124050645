"""IntacctHook: an Airflow `http` connection → a configured `IntacctClient`.

The connection:

| field | meaning |
|---|---|
| host, schema, port | the gateway, e.g. host `api.intacct.com`, schema `https` (the path defaults to `/ia/xml/xmlgw.phtml`) |
| login / password | the Intacct Web Services user and its password |
| extra (JSON) | `sender_id`, `sender_password`, `company_id` (required); `entity_id`, `client_id`, `slots` (2), `connect_timeout` (10), `read_timeout` (300), `response_deadline` (600), `max_response_mb` (64), `retry_max_attempts` (8), `retry_max_total` (300), `retry_task_budget` (900), `maintenance_patience` (1800), `show_private` (false), `monthly_quota` (100000), `time_zone` (IANA name, only when the gateway reports no GMT offset), `endpoint_path`; plus HttpHook's own options (`verify`, `proxies`, `cert`, `trust_env`) |

Secrets (both passwords and every session id) are registered with Airflow's log masker. Unknown extra keys
are refused: HttpHook would otherwise send them as HTTP headers, and a misspelt `sender_pasword` would
travel to the gateway in clear.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.exceptions import AirflowNotFoundException

from intacct import usage
from intacct.gateway import requests as build
from intacct.gateway.client import ClientConfig, IntacctClient
from intacct.gateway.counter import CallCounter
from intacct.gateway.errors import IntacctError
from intacct.gateway.retry import RetryPolicy

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT_PATH = "/ia/xml/xmlgw.phtml"
# Airflow does not mask secrets this short (they would mask ordinary words in logs).
MIN_MASKED_LENGTH = 6

_REQUIRED = ("sender_id", "sender_password", "company_id")
_OPTIONAL = {
    "entity_id": str,
    "client_id": str,
    "slots": int,
    "connect_timeout": float,
    "read_timeout": float,
    "response_deadline": float,
    "max_response_mb": float,
    "retry_max_attempts": int,
    "retry_max_total": float,
    "retry_task_budget": float,
    "maintenance_patience": float,
    "show_private": bool,
    "monthly_quota": int,
    "time_zone": str,
    "endpoint_path": str,
}
# Extra keys passed straight to ClientConfig / RetryPolicy when given; those classes own the defaults.
_CLIENT_OPTIONS = ("slots", "connect_timeout", "read_timeout", "response_deadline", "max_response_mb")
_RETRY_OPTIONS = {
    "retry_max_attempts": "max_attempts",
    "retry_max_total": "max_total",
    "retry_task_budget": "task_budget",
    "maintenance_patience": "maintenance_patience",
}
# HttpHook's own connection options: consumed by requests, never sent as headers.
_HTTP_OPTIONS = {"verify", "verify_ssl", "proxies", "proxy", "cert", "trust_env", "timeout", "stream"}


class IntacctConnectionError(ValueError):
    """The Airflow connection cannot describe an Intacct company; the message says what to fix."""


@dataclass(frozen=True)
class IntacctSettings:
    """What the hook read from the connection (secrets hidden from repr by the credential types)."""

    config: ClientConfig
    show_private: bool
    monthly_quota: int


def _coerce(conn_id: str, key: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
    else:
        try:
            return kind(value)
        except (TypeError, ValueError):
            pass
    raise IntacctConnectionError(
        f"connection {conn_id!r}: extra {key!r} must be a {kind.__name__}, got {value!r}"
    )


class IntacctHook(HttpHook):
    """Talks to one Intacct company through the Web Services XML gateway."""

    conn_name_attr = "intacct_conn_id"
    default_conn_name = "intacct_default"
    conn_type = "http"
    hook_name = "Sage Intacct (XML gateway)"

    def __init__(self, intacct_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(method="POST", http_conn_id=intacct_conn_id, **kwargs)
        self.intacct_conn_id = intacct_conn_id

    # -- connection → settings ----------------------------------------------------------------------

    def _connection(self):
        try:
            return self.get_connection(self.intacct_conn_id)
        except AirflowNotFoundException:
            raise IntacctConnectionError(
                f"Airflow connection {self.intacct_conn_id!r} is not defined: create an http connection "
                "with the gateway as host, the Intacct user as login/password and sender_id, "
                "sender_password and company_id in its extra (see docs/intacct-connection.md)"
            ) from None

    def settings(self) -> IntacctSettings:
        """Read and check the connection; every problem is named before any request is sent."""
        conn = self._connection()
        conn_id = self.intacct_conn_id
        try:
            extra = conn.extra_dejson if conn.extra else {}
        except json.JSONDecodeError:
            raise IntacctConnectionError(f"connection {conn_id!r}: extra is not valid JSON") from None
        unknown = sorted(set(extra) - set(_REQUIRED) - set(_OPTIONAL) - _HTTP_OPTIONS)
        if unknown:
            raise IntacctConnectionError(
                f"connection {conn_id!r}: unknown extra key(s) {', '.join(unknown)}; "
                f"expected {', '.join((*_REQUIRED, *_OPTIONAL))}"
            )
        missing = [k for k in _REQUIRED if not extra.get(k)]
        if not conn.login:
            missing.append("login (the Intacct user id)")
        if not conn.password:
            missing.append("password (the Intacct user's password)")
        if not conn.host:
            missing.append("host (the gateway, e.g. api.intacct.com)")
        if missing:
            raise IntacctConnectionError(f"connection {conn_id!r} is missing {', '.join(missing)}")
        options = {k: _coerce(conn_id, k, extra[k], kind) for k, kind in _OPTIONAL.items() if k in extra}

        self._mask(extra["sender_password"], "sender_password")
        self._mask(conn.password, "password")

        self._set_base_url(conn)
        path = options.get("endpoint_path", DEFAULT_ENDPOINT_PATH)
        endpoint = self.base_url.rstrip("/") + ("" if self.base_url.endswith(path) else path)
        time_zone = None
        if "time_zone" in options:
            try:
                time_zone = ZoneInfo(options["time_zone"])
            except (ZoneInfoNotFoundError, ValueError):
                raise IntacctConnectionError(
                    f"connection {conn_id!r}: time_zone {options['time_zone']!r} is not an IANA zone name"
                ) from None
        try:
            config = ClientConfig(
                sender=build.SenderCredentials(str(extra["sender_id"]), str(extra["sender_password"])),
                login=build.LoginCredentials(
                    user_id=conn.login,
                    company_id=str(extra["company_id"]),
                    password=conn.password,
                    entity_id=options.get("entity_id") or None,
                    client_id=options.get("client_id") or None,
                ),
                endpoint=endpoint,
                retry=RetryPolicy(
                    **{field: options[key] for key, field in _RETRY_OPTIONS.items() if key in options}
                ),
                time_zone=time_zone,
                **{key: options[key] for key in _CLIENT_OPTIONS if key in options},
            )
        except ValueError as exc:
            raise IntacctConnectionError(f"connection {conn_id!r}: {exc}") from None
        return IntacctSettings(
            config=config,
            show_private=options.get("show_private", False),
            monthly_quota=options.get("monthly_quota", usage.DEFAULT_MONTHLY_QUOTA),
        )

    @staticmethod
    def _mask(secret: str, what: str) -> None:
        from airflow.sdk.log import mask_secret

        if len(secret) < MIN_MASKED_LENGTH:
            log.warning(
                "the Intacct %s is %d characters long; Airflow cannot mask secrets this short in logs",
                what,
                len(secret),
            )
        mask_secret(secret)

    # -- client ---------------------------------------------------------------------------------------

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None):
        """HttpHook's session, minus what Intacct must never receive as HTTP auth or headers."""
        session = super().get_conn(headers, extra_options)
        session.auth = None  # Intacct authenticates inside the XML body
        for key in (*_REQUIRED, *_OPTIONAL):
            session.headers.pop(key, None)
        return session

    def get_client(
        self, counter: CallCounter | None = None, *, time_zone: tzinfo | None = None
    ) -> IntacctClient:
        """A client for this connection's company, counting its calls into `counter`.

        `time_zone` is the API user's zone as a previous run read it (`IntacctClient.user_time_zone()`):
        given, the client does not spend a `readUserFormatting` call on it. The connection's own
        `time_zone` extra, when set, wins.
        """
        from airflow.sdk.log import mask_secret

        config = self.settings().config
        if time_zone is not None and config.time_zone is None:
            config = replace(config, time_zone=time_zone)
        return IntacctClient(config, http_session=self.get_conn(), counter=counter, on_secret=mask_secret)

    def test_connection(self) -> tuple[bool, str]:
        """Sign in and read the user's formatting: proves sender, user, company and entity in two calls."""
        try:
            client = self.get_client()
            try:
                client.sign_in()
                zone = client.user_time_zone()
            finally:
                client.close()
        except (IntacctConnectionError, IntacctError) as exc:
            return False, str(exc)
        login = client.config.login
        where = f", entity {client.location_id}" if client.location_id else ""
        return (
            True,
            f"Signed in to Intacct company {login.company_id} as {login.user_id}{where}; user time zone {zone}",
        )
