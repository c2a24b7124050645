"""Fixtures for the sandbox gateway tests: running gateways and clients that speak hand-written XML."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.sandbox.xml_client import XmlClient, make_server

from sandbox.intacct_gateway import GatewayServer


@pytest.fixture(scope="module")
def gateway() -> Iterator[GatewayServer]:
    """A running gateway shared by a module's read-only tests."""
    with make_server() as server:
        yield server


@pytest.fixture
def fresh_gateway() -> Iterator[GatewayServer]:
    """A running gateway of its own, for tests that change data or faults."""
    with make_server() as server:
        yield server


@pytest.fixture
def client(gateway: GatewayServer) -> Iterator[XmlClient]:
    xml_client = XmlClient(gateway)
    yield xml_client
    xml_client.http.close()


@pytest.fixture
def fresh_client(fresh_gateway: GatewayServer) -> Iterator[XmlClient]:
    xml_client = XmlClient(fresh_gateway)
    yield xml_client
    xml_client.http.close()
