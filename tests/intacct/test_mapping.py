from __future__ import annotations

from pathlib import Path

import pytest

from intacct import mapping

DOC = Path(__file__).resolve().parents[2] / "docs" / "field-mapping.md"


def test_the_docs_show_exactly_the_mapping_in_the_code():
    assert mapping.markdown_tables() in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("code", "name", "expected"),
    [
        ("DE", None, "DE"),
        ("de", "whatever", "DE"),
        (None, "Germany", "DE"),
        (None, "Deutschland", "DE"),
        (None, "United States", "US"),
        (None, "USA", "US"),
        (None, "U.K.", "GB"),
        ("XX", "Côte d’Ivoire", "CI"),  # noqa: RUF001  (a typographic apostrophe, as people type it)
        (None, "Atlantis", None),
        (None, None, None),
    ],
)
def test_country_codes(code, name, expected):
    assert mapping.country_code(code, name) == expected


def test_client_values_join_the_street_and_drop_blanks():
    values = mapping.client_values(
        {"name": "  Acme  ", "address1": "1 Main St", "address2": " Suite 5 ", "zip": "", "tax_id": None}
    )
    assert values == {
        "name": "Acme",
        "street": "1 Main St, Suite 5",
        "zip": None,
        "city": None,
        "country": None,
        "vat_number": None,
    }


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"first_name": "Ada", "last_name": "Lovelace"}, ("Ada", "Lovelace")),
        ({"contact_name": "Lovelace, Ada"}, ("Ada", "Lovelace")),
        ({"contact_name": "Grace Brewster Hopper"}, ("Grace", "Brewster Hopper")),
        ({}, (None, None)),
    ],
)
def test_person_names_fall_back_to_the_contact_name(row, expected):
    values = mapping.person_values(row)
    assert (values["first_name"], values["last_name"]) == expected


def test_department_name_falls_back_to_its_id():
    assert mapping.department_values({"title": " ", "department_id": "D-7"}) == {"name": "D-7"}
