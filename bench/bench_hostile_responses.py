"""What the Intacct client does with hostile and broken responses: how long, how many requests, how much memory.

For each behaviour of the hostile test server (`tests/intacct/gateway/hostile_server.py`, on 127.0.0.1,
run here in this process) a fresh child process signs in and reads one page with the real `IntacctClient`,
so its peak RSS is the client's own. Prints, per case, the error the read ended with, whether it may be
retried, the requests the server answered, the seconds the read took and the child's peak RSS (and its
growth during the read). Asserts nothing.

The size limit and the parser are the production defaults (`max_response_mb` 64); the timing settings
are scaled down so the whole run takes about a minute (printed at the top; `--deadline` and
`--task-budget` change them).

    .venv/bin/python bench/bench_hostile_responses.py [--deadline 3] [--task-budget 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO), str(REPO / "tests" / "intacct" / "gateway")]
CHILD_TIMEOUT = 300  # seconds; a stuck child must not keep the benchmark alive

CASES = [  # (name, behaviour, its parameters)
    ("XXE (external entity)", "xxe", {}),
    ("entity expansion", "entity_expansion", {}),
    ("malformed XML", "malformed", {}),
    ("200 MB, Content-Length", "oversized", {"length": True}),
    ("200 MB, chunked", "oversized", {"length": False}),
    ("gzip bomb (200 MB of zeros)", "gzip_bomb", {}),
    ("HTML page, HTTP 200", "html_200", {}),
    ("truncated XML", "truncated", {}),
    ("dropped connection", "drop", {}),
    ("no answer", "silent", {"seconds": 30.0}),
    ("trickle, 1 byte / 0.5 s", "trickle", {"interval": 0.5}),
    ("slow but in time", "slow", {"pieces": 4, "seconds": 1.0}),
]


def child(settings: dict, endpoint: str) -> None:
    from intacct.gateway import errors
    from intacct.gateway import requests as build
    from intacct.gateway.client import ClientConfig, IntacctClient, query_page
    from intacct.gateway.retry import RetryPolicy

    client = IntacctClient(
        ClientConfig(
            sender=build.SenderCredentials("sender", "sender-secret"),
            login=build.LoginCredentials("user", "HOSTILE", "user-secret"),
            endpoint=endpoint,
            read_timeout=settings["read_timeout"],
            response_deadline=settings["deadline"],
            retry=RetryPolicy(
                base_delay=settings["base_delay"],
                max_delay=settings["max_delay"],
                task_budget=settings["task_budget"],
            ),
        )
    )
    client.sign_in()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    outcome, retryable = "read", None
    try:
        query_page(client, "CUSTOMER", ("RECORDNO", "NAME"))
    except errors.IntacctError as error:
        outcome, retryable = type(error).__name__, error.retryable
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": time.monotonic() - started,
                "outcome": outcome,
                "retryable": retryable,
                "peak_mb": peak / 1024,
                "growth_mb": (peak - before) / 1024,
                "summary": client.retry_summary(),
            }
        )
    )


def measure(settings: dict) -> list[dict]:
    from hostile_server import HostileServer

    rows = []
    for label, behaviour, params in CASES:
        with HostileServer(behaviour, **params) as server:
            done = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(settings), server.endpoint],
                capture_output=True,
                text=True,
                timeout=CHILD_TIMEOUT,
                check=True,
            )
            attempts = server.hostile_requests
        rows.append({"case": label, "attempts": attempts, **json.loads(done.stdout.splitlines()[-1])})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=3.0, help="response_deadline, seconds")
    parser.add_argument("--task-budget", type=float, default=10.0, help="RetryPolicy.task_budget, seconds")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child[0]), args.child[1])
        return
    settings = {
        "deadline": args.deadline,
        "read_timeout": args.deadline,
        "base_delay": 0.1,
        "max_delay": 1.0,
        "task_budget": args.task_budget,
    }
    print(
        f"response_deadline = read_timeout = {args.deadline:g} s, back-off 0.1..1 s, 8 attempts per call, "
        f"task budget {args.task_budget:g} s, max_response_mb 64 (the default)\n"
    )
    print("| case | outcome | retryable | requests | seconds | peak RSS MB | growth MB | retry summary |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    for row in measure(settings):
        retryable = "-" if row["retryable"] is None else ("yes" if row["retryable"] else "no")
        print(
            f"| {row['case']} | {row['outcome']} | {retryable} | {row['attempts']} | {row['seconds']:.2f} | "
            f"{row['peak_mb']:.1f} | {row['growth_mb']:.1f} | {row['summary']} |"
        )


if __name__ == "__main__":
    main()
