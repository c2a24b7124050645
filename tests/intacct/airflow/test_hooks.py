from __future__ import annotations

import json

import pytest

from intacct.airflow.hooks import IntacctConnectionError, IntacctHook

SENDER_PASSWORD = "sender-secret-4f9a"
USER_PASSWORD = "user-secret-77c1"


def connection(**overrides) -> str:
    extra = {"sender_id": "forecastISV", "sender_password": SENDER_PASSWORD, "company_id": "ACME"}
    extra.update(overrides.pop("extra", {}))
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": 18990,
        "schema": "http",
        "login": "ws_user",
        "password": USER_PASSWORD,
        "extra": extra,
    }
    conn.update(overrides)
    return json.dumps(conn)


@pytest.fixture
def set_conn(monkeypatch):
    def _set(value: str, conn_id: str = "intacct_default"):
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)

    return _set


def test_settings_from_a_complete_connection(set_conn):
    set_conn(
        connection(extra={"entity_id": "E200", "slots": "4", "show_private": "true", "monthly_quota": 250000})
    )
    settings = IntacctHook().settings()
    config = settings.config
    assert config.endpoint == "http://127.0.0.1:18990/ia/xml/xmlgw.phtml"
    assert (config.login.user_id, config.login.company_id, config.login.entity_id) == (
        "ws_user",
        "ACME",
        "E200",
    )
    assert config.sender.sender_id == "forecastISV"
    assert config.slots == 4 and settings.show_private is True and settings.monthly_quota == 250000
    # secrets never show in the settings' repr
    assert SENDER_PASSWORD not in repr(settings) and USER_PASSWORD not in repr(settings)


def test_missing_connection_is_one_clear_sentence(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_INTACCT_NOWHERE", raising=False)
    with pytest.raises(IntacctConnectionError, match="Airflow connection 'intacct_nowhere' is not defined"):
        IntacctHook("intacct_nowhere").settings()


def test_missing_fields_are_all_named(set_conn):
    set_conn(json.dumps({"conn_type": "http", "host": "gw", "extra": {"sender_id": "s"}}))
    with pytest.raises(IntacctConnectionError) as info:
        IntacctHook().settings()
    message = str(info.value)
    for missing in ("sender_password", "company_id", "login", "password"):
        assert missing in message


def test_unknown_extra_keys_are_refused_so_they_never_become_http_headers(set_conn):
    set_conn(connection(extra={"sender_pasword": "typo"}))
    with pytest.raises(IntacctConnectionError, match="unknown extra key\\(s\\) sender_pasword"):
        IntacctHook().settings()


def test_bad_values_are_named(set_conn):
    set_conn(connection(extra={"slots": "many"}))
    with pytest.raises(IntacctConnectionError, match="extra 'slots' must be a int, got 'many'"):
        IntacctHook().settings()
    set_conn(connection(extra={"slots": 0}))
    with pytest.raises(IntacctConnectionError, match="slots must be between 1 and 64, got 0"):
        IntacctHook().settings()
    set_conn(connection(extra={"time_zone": "Mars/Olympus"}))
    with pytest.raises(IntacctConnectionError, match="time_zone 'Mars/Olympus' is not an IANA zone name"):
        IntacctHook().settings()


def test_http_session_carries_no_credentials(set_conn):
    set_conn(connection(extra={"verify": False}))
    hook = IntacctHook()
    session = hook.get_conn()
    assert session.auth is None
    assert session.verify is False
    sent = " ".join(f"{k}={v}" for k, v in session.headers.items())
    assert SENDER_PASSWORD not in sent and "sender_id" not in sent and USER_PASSWORD not in sent


def test_secrets_are_registered_with_the_log_masker(set_conn):
    from airflow.sdk.log import redact

    set_conn(connection())
    IntacctHook().settings()
    assert redact(f"password is {SENDER_PASSWORD}") == "password is ***"
    assert redact(f"password is {USER_PASSWORD}") == "password is ***"


def test_secrets_too_short_to_mask_are_warned_about(set_conn, caplog):
    set_conn(connection(extra={"sender_password": "abc"}))
    IntacctHook().settings()
    assert "cannot mask secrets this short" in caplog.text


def test_test_connection_reports_a_gateway_that_is_not_there(set_conn):
    set_conn(connection(port=9, extra={"retry_max_attempts": 1, "connect_timeout": 2}))
    ok, message = IntacctHook().test_connection()
    assert ok is False
    assert "connection to Intacct dropped" in message


def test_test_connection_signs_in_to_the_sandbox_and_reports_the_zone(set_conn):
    from sandbox.intacct_gateway.server import GatewayServer

    with GatewayServer(customers=5, departments=3, users=4) as gateway:
        good = gateway.airflow_connection()
        set_conn(json.dumps(good))
        ok, message = IntacctHook().test_connection()
        assert ok, message
        assert message == (
            f"Signed in to Intacct company {good['extra']['company_id']} as {good['login']}; user time zone UTC-08:00"
        )
        assert gateway.ledger.counts() == {("getAPISession", ""): 1, ("readUserFormatting", "USERINFO"): 1}

        set_conn(json.dumps({**good, "password": "not-the-password"}))
        ok, message = IntacctHook().test_connection()
        assert not ok and "not-the-password" not in message
