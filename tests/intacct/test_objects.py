from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from intacct import objects
from intacct.objects import CUSTOMER, USERINFO, convert, render_timestamp, spec_for

PACIFIC = timezone(timedelta(hours=-8))


def test_intacct_timestamps_are_wall_clock_times_of_the_user_zone():
    value = convert("11/25/2026 16:05:09", "timestamp", PACIFIC)
    assert value == datetime(2026, 11, 26, 0, 5, 9, tzinfo=UTC)
    assert render_timestamp(value, PACIFIC) == "11/25/2026 16:05:09"


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("42", "int", 42),
        ("true", "bool", True),
        ("F", "bool", False),
        ("03/01/2026", "date", date(2026, 3, 1)),
        ("  ", "text", None),
        (None, "int", None),
        ("Ünïcødé & <Co>", "text", "Ünïcødé & <Co>"),
    ],
)
def test_convert(raw, kind, expected):
    assert convert(raw, kind, UTC) == expected


def test_bad_value_is_named_with_its_record_and_field():
    with pytest.raises(ValueError, match=r"CUSTOMER 7: field WHENMODIFIED has value 'yesterday'"):
        CUSTOMER.to_row({"RECORDNO": "7", "WHENMODIFIED": "yesterday"}, UTC)


def test_rows_carry_every_spec_column_even_when_intacct_omits_fields():
    row = USERINFO.to_row({"RECORDNO": "3", "LOGINID": "jdoe"}, UTC)
    assert set(row) == {f.column for f in USERINFO.fields} | set(USERINFO.derived)
    assert row["recordno"] == 3 and row["login_id"] == "jdoe" and row["email"] is None


def test_specs_select_their_key_and_recordno():
    for spec in objects.OBJECTS.values():
        assert "RECORDNO" in spec.select and spec.key in spec.select
        assert "WHENMODIFIED" in spec.select and "WHENCREATED" in spec.select


def test_unknown_object_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown Intacct object 'VENDOR': expected one of CUSTOMER"):
        spec_for("VENDOR")
    assert spec_for("customer") is CUSTOMER


def test_a_page_converts_column_by_column_into_the_same_rows_as_record_by_record():
    records = [
        {"RECORDNO": "1", "CUSTOMERID": "C1", "NAME": "Acme, Inc.", "WHENCREATED": "01/02/2026 03:04:05"},
        {"RECORDNO": "2", "CUSTOMERID": "C2", "NAME": "  ", "WHENMODIFIED": " 12/31/2025 23:59:59 "},
    ]
    page = [tuple(r.get(f) for f in CUSTOMER.select) for r in records]
    columns = CUSTOMER.to_columns(page, UTC)
    assert tuple(columns) == CUSTOMER.columns
    assert columns["name_key"] == ["acme", None]
    assert CUSTOMER.to_rows(page, UTC) == [CUSTOMER.to_row(r, UTC) for r in records]
    assert CUSTOMER.to_columns([], UTC) == {name: [] for name in CUSTOMER.columns}
    with pytest.raises(ValueError, match="CUSTOMER 2: field WHENCREATED has value 'soon'"):
        CUSTOMER.to_columns([*page, (*page[1][:-2], "soon", None)], UTC)
    with pytest.raises(ValueError, match="carry 2 values, expected 18"):
        CUSTOMER.to_columns([("1", "C1")], UTC)
