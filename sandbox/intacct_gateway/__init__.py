"""A local stand-in for Sage Intacct's XML Web Services gateway (dtdversion 3.0), for tests and demos.

    from sandbox.intacct_gateway import GatewayServer
    with GatewayServer(customers=500) as server:
        ...  # POST Intacct XML to server.endpoint

See docs/sandbox.md for the protocol it speaks, its objects, faults, admin API and default credentials.
"""

from .clock import Clock
from .faults import FAULTS, Faults
from .gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD, GATEWAY_PATH, Gateway, Sender
from .generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD, PRIVATE_ENTITY, generate_company
from .ledger import FunctionCall, Ledger, LedgerEntry
from .server import GatewayServer
from .store import DEFAULT_COMPANY_ID, DEFAULT_TIMEZONE, Store, StoreError

__all__ = [
    "DEFAULT_COMPANY_ID",
    "DEFAULT_SENDER_ID",
    "DEFAULT_SENDER_PASSWORD",
    "DEFAULT_TIMEZONE",
    "DEFAULT_USER_ID",
    "DEFAULT_USER_PASSWORD",
    "FAULTS",
    "GATEWAY_PATH",
    "PRIVATE_ENTITY",
    "Clock",
    "Faults",
    "FunctionCall",
    "Gateway",
    "GatewayServer",
    "Ledger",
    "LedgerEntry",
    "Sender",
    "Store",
    "StoreError",
    "generate_company",
]
