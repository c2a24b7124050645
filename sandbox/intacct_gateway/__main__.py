"""`python -m sandbox.intacct_gateway --port 8090 [options]`: run the sandbox gateway until stopped."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from ..serving import serve_until_signalled
from .faults import DEFAULT_SLOTS, FAULTS, Faults
from .gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD
from .generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD
from .server import GatewayServer
from .store import DEFAULT_COMPANY_ID, DEFAULT_TIMEZONE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.intacct_gateway",
        description="A local Sage Intacct XML gateway serving a generated company.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8090, help="port to bind; 0 picks a free one (default 8090)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated company (default 1)")
    parser.add_argument("--customers", type=int, default=200, help="CUSTOMER records (default 200)")
    parser.add_argument("--departments", type=int, default=25, help="DEPARTMENT records (default 25)")
    parser.add_argument("--users", type=int, default=40, help="USERINFO records, admin and API user included")
    parser.add_argument(
        "--timezone", default=DEFAULT_TIMEZONE, help="the API user's time zone (-08:00 or an IANA name)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every request")
    parser.add_argument(
        "--slots", type=int, default=DEFAULT_SLOTS, help="concurrent requests per company (0: no limit)"
    )
    parser.add_argument("--session-timeout-s", type=float, default=7200, help="API session lifetime, sliding")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[:k=v,...]",
        help=f"enable a fault, e.g. server_error:every=5,status=503 (repeatable). Faults: {', '.join(FAULTS)}",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        faults = dict(Faults.parse_spec(spec) for spec in args.fault)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    server = GatewayServer(
        host=args.host,
        port=args.port,
        seed=args.seed,
        customers=args.customers,
        departments=args.departments,
        users=args.users,
        timezone=args.timezone,
        latency_ms=args.latency_ms,
        slots=args.slots,
        faults=faults,
        session_timeout=timedelta(seconds=args.session_timeout_s),
    )
    endpoint = server.start()
    print(f"Intacct sandbox gateway listening on {endpoint}", flush=True)
    print(
        f"  sender {DEFAULT_SENDER_ID} / {DEFAULT_SENDER_PASSWORD}, company {DEFAULT_COMPANY_ID}, "
        f"user {DEFAULT_USER_ID} / {DEFAULT_USER_PASSWORD}; admin API at {server.admin_url}",
        flush=True,
    )
    serve_until_signalled(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
