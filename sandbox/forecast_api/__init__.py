"""A local stand-in for Forecast's public REST API (forecast.app / forecast.it), for tests and demos.

    from sandbox.forecast_api import ForecastApiServer
    with ForecastApiServer(clients=20, people=30, departments=8) as server:
        requests.get(server.base_url + "/v1/clients", headers={"X-FORECAST-API-KEY": server.api_key})

It serves clients v1, persons v2, departments v1 (read-only) and profiles v1 as Forecast documents them
(see `api` for the routes and the order of checks, `resources` for the fields), a per-key rate limit
(`ratelimit`), faults (`faults`), a ledger of requests (`ledger`) and an admin view to seed and inspect
the company (`admin`). It imports nothing from `plugins/`: the real API is one connection change away.

Run it on its own with `python -m sandbox.forecast_api --port 0` (see `--help`); the default API key is
`DEFAULT_API_KEY`. Person 1 ("API Owner", an admin) owns the key and authors every API write; person 2
("Forecast Integrations") is a system user, which the API can read but not change.
"""

from .admin import AdminApi
from .api import KEY_HEADER, ForecastApi
from .faults import FAULTS, Faults
from .generator import generate_company
from .keys import DEFAULT_API_KEY, ApiKeys
from .ledger import Ledger, LedgerEntry
from .ratelimit import RateLimiter
from .resources import RESOURCES, RecordError
from .server import ForecastApiServer
from .store import BUILTIN_PROFILES, OWNER_ID, SYSTEM_USER_ID, Store

__all__ = [
    "BUILTIN_PROFILES",
    "DEFAULT_API_KEY",
    "FAULTS",
    "KEY_HEADER",
    "OWNER_ID",
    "RESOURCES",
    "SYSTEM_USER_ID",
    "AdminApi",
    "ApiKeys",
    "Faults",
    "ForecastApi",
    "ForecastApiServer",
    "Ledger",
    "LedgerEntry",
    "RateLimiter",
    "RecordError",
    "Store",
    "generate_company",
]
