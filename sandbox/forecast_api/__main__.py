"""`python -m sandbox.forecast_api --port 8091 [options]`: run the sandbox Forecast API until stopped."""

from __future__ import annotations

import argparse
import sys

from ..serving import serve_until_signalled
from .faults import FAULTS, Faults
from .keys import DEFAULT_API_KEY
from .server import ForecastApiServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.forecast_api",
        description="A local stand-in for Forecast's public REST API serving a generated company.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated company (default 1)")
    parser.add_argument("--clients", type=_size, default=20, help="clients (default 20)")
    parser.add_argument(
        "--people",
        type=_size,
        default=30,
        help="persons besides the API owner and the system user (default 30)",
    )
    parser.add_argument("--departments", type=_size, default=8, help="departments (default 8)")
    parser.add_argument(
        "--api-key", default=DEFAULT_API_KEY, help="the active API key (default: the documented sandbox key)"
    )
    parser.add_argument(
        "--rate",
        type=_non_negative,
        default=10.0,
        help="requests a second per API key; 0: no limit (default 10)",
    )
    parser.add_argument("--burst", type=float, default=None, help="bucket size (default max(1, rate))")
    parser.add_argument(
        "--latency-ms", type=_non_negative, default=0.0, help="delay before every /api answer"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[:k=v,...]",
        help=f"arm a fault, e.g. server_error:method=POST,count=2 (repeatable). Faults: {', '.join(FAULTS)}",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # bad arguments exit 2 with a message
    try:
        faults = [Faults.parse_spec(spec) for spec in args.fault]
        server = ForecastApiServer(
            args.host,
            args.port,
            seed=args.seed,
            clients=args.clients,
            people=args.people,
            departments=args.departments,
            api_key=args.api_key,
            rate=args.rate,
            burst=args.burst,
            latency_ms=args.latency_ms,
            faults=[{"name": name, **params} for name, params in faults],
        )
    except ValueError as error:
        parser.error(str(error))
    try:
        url = server.start()
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    print(
        f"Forecast sandbox API listening on {url} (API under {server.base_url}, admin view at {server.admin_url})",
        flush=True,
    )
    serve_until_signalled(server)
    return 0


def _size(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a size is at least 0, not {value}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"at least 0, not {text}")
    return value


if __name__ == "__main__":
    sys.exit(main())
