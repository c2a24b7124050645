"""An independent client, the PyPI package `sageintacctsdk`, reads a generated company exactly.

The package posts its login to Intacct's hard-coded URL. The test points that URL at the sandbox by
standing in for the `requests` module the package imported (the package itself is unchanged). Only the
package's base object follows the endpoint `getAPISession` returns; its per-object APIs keep posting to
the hard-coded URL, so the redirect carries those calls too.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests
import sageintacctsdk.apis.api_base as sdk_api_base
from sageintacctsdk import SageIntacctSDK
from sageintacctsdk.apis.constants import dimensions_fields_mapping
from tests.sandbox.xml_client import NOW

from sandbox.intacct_gateway import (
    DEFAULT_COMPANY_ID,
    DEFAULT_SENDER_ID,
    DEFAULT_SENDER_PASSWORD,
    DEFAULT_USER_ID,
    DEFAULT_USER_PASSWORD,
    Clock,
    GatewayServer,
    generate_company,
)

INTACCT_URL = "https://api.intacct.com/ia/xml/xmlgw.phtml"


@pytest.fixture(scope="module")
def sdk_and_gateway():
    # 4,500 customers: the package pages them 2,000 at a time, by offset
    store = generate_company(21, customers=4500, departments=35, users=50, clock=Clock(NOW))
    with GatewayServer(store) as server, pytest.MonkeyPatch.context() as patch:
        posted_to: list[str] = []

        def post(url: str, *args, **kwargs):
            posted_to.append(url)
            return requests.post(server.endpoint if url == INTACCT_URL else url, *args, **kwargs)

        patch.setattr(sdk_api_base, "requests", SimpleNamespace(post=post))
        sdk = SageIntacctSDK(
            sender_id=DEFAULT_SENDER_ID,
            sender_password=DEFAULT_SENDER_PASSWORD,
            user_id=DEFAULT_USER_ID,
            company_id=DEFAULT_COMPANY_ID,
            user_password=DEFAULT_USER_PASSWORD,
            show_private=True,
        )
        assert posted_to == [INTACCT_URL]  # the login, redirected
        yield sdk, server


def expected(server: GatewayServer, object_name: str) -> list[dict[str, str | None]]:
    """The generated records as the package reports them: its default fields, empty values as None.

    The package parses with xmltodict, which strips whitespace around text ("Acme " -> "Acme").
    EMPLOYEE's CONTACT.* relationship fields read the same contact as its PERSONALINFO.* fields.
    """
    rows = []
    for record in server.store.records(object_name):
        row = {}
        for field in dimensions_fields_mapping[object_name]:
            value = record[
                field.replace("CONTACT.", "PERSONALINFO.", 1) if field.startswith("CONTACT.") else field
            ]
            row[field] = value.strip() or None
        rows.append(row)
    return rows


@pytest.mark.parametrize(
    ("api", "object_name"),
    [("customers", "CUSTOMER"), ("departments", "DEPARTMENT"), ("employees", "EMPLOYEE")],
)
def test_sageintacctsdk_reads_exactly_the_generated_records(sdk_and_gateway, api, object_name):
    sdk, server = sdk_and_gateway
    got = getattr(sdk, api).get_all()
    assert got == expected(server, object_name)
    assert len(got) == server.store.count(object_name)


def test_sageintacctsdk_generator_pages_the_same_records(sdk_and_gateway):
    sdk, server = sdk_and_gateway
    server.ledger.reset()
    pages = list(sdk.customers.get_all_generator())
    assert [record for page in pages for record in page] == expected(server, "CUSTOMER")
    # one count, then every page twice: the package sends each page request twice (a known footgun)
    assert server.ledger.calls("query", "CUSTOMER") == 1 + 2 * len(pages)
