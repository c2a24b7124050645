"""How fast the sandbox gateway serves `query` pages: 100,000 customers, pages of 2,000, latency 0.

Starts `python -m sandbox.intacct_gateway` in its own process (as a client's benchmark would), signs in,
then pages every customer with keyset paging on RECORDNO over real HTTP: one client reading each page
the cheap way (its size and last RECORDNO), one client parsing every page with lxml like a real client,
and two clients side by side on two halves of the RECORDNO range (the company's two slots). Prints
pages per second for each, and the server's own time per page from its request ledger.

    .venv/bin/python bench/bench_sandbox_query_pages.py [--customers 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from lxml import etree

REPO = Path(__file__).resolve().parents[1]
SENDER = ("sandbox_sender", "sandbox-sender-secret")
USER = ("xml_gateway", "SANDBOX-CO", "sandbox-user-secret")
FIELDS = (
    "RECORDNO", "CUSTOMERID", "NAME", "STATUS", "PARENTID", "TAXID", "COMMENTS", "CURRENCY",
    "DISPLAYCONTACT.EMAIL1", "DISPLAYCONTACT.PHONE1", "DISPLAYCONTACT.MAILADDRESS.ADDRESS1",
    "DISPLAYCONTACT.MAILADDRESS.CITY", "DISPLAYCONTACT.MAILADDRESS.ZIP", "DISPLAYCONTACT.MAILADDRESS.COUNTRYCODE",
    "MEGAENTITYID", "WHENCREATED", "WHENMODIFIED",
)  # fmt: skip
PAGE_SIZE = 2000
_LAST_RECORDNO = re.compile(rb"<RECORDNO>(\d+)</RECORDNO>(?!.*<RECORDNO>)", re.DOTALL)
_COUNT = re.compile(rb'<data listtype="CUSTOMER"[^>]* count="(\d+)"')


def envelope(auth: str, function: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><request><control>'
        f"<senderid>{SENDER[0]}</senderid><password>{SENDER[1]}</password><controlid>bench</controlid>"
        "<uniqueid>false</uniqueid><dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace>"
        f'</control><operation><authentication>{auth}</authentication><content><function controlid="f">'
        f"{function}</function></content></operation></request>"
    ).encode()


def page_request(session_id: str, after: int, last: int | None) -> bytes:
    select = "".join(f"<field>{name}</field>" for name in FIELDS)
    keyset = f"<greaterthan><field>RECORDNO</field><value>{after}</value></greaterthan>"
    if last is not None:
        keyset = f"<and>{keyset}<lessthanorequalto><field>RECORDNO</field><value>{last}</value></lessthanorequalto></and>"
    query = (
        f"<query><object>CUSTOMER</object><select>{select}</select><filter>{keyset}</filter>"
        "<orderby><order><field>RECORDNO</field><ascending/></order></orderby>"
        f"<options><showprivate>true</showprivate></options><pagesize>{PAGE_SIZE}</pagesize></query>"
    )
    return envelope(f"<sessionid>{session_id}</sessionid>", query)


def start_gateway(customers: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "sandbox.intacct_gateway", "--port", "0", "--customers", str(customers)]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    line = process.stdout.readline()
    match = re.search(r"(http://\S+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"the gateway did not start: {line!r}")
    return process, match.group(1)


def sign_in(http: requests.Session, endpoint: str) -> str:
    login = f"<login><userid>{USER[0]}</userid><companyid>{USER[1]}</companyid><password>{USER[2]}</password></login>"
    answer = http.post(
        endpoint, data=envelope(login, "<getAPISession/>"), headers={"Content-Type": "application/xml"}
    )
    return etree.fromstring(answer.content).findtext(".//sessionid")


def page_range(
    endpoint: str, session_id: str, after: int, last: int | None, full_parse: bool
) -> tuple[int, int, int]:
    """(pages, records, bytes) of keyset paging over RECORDNO in (after, last]."""
    pages, records, size = 0, 0, 0
    with requests.Session() as http:
        while True:
            request = page_request(session_id, after, last)
            body = http.post(endpoint, data=request, headers={"Content-Type": "application/xml"}).content
            size += len(body)
            if full_parse:
                rows = etree.fromstring(body).find(".//data")
                count = len(rows)
                newest = int(rows[-1].findtext("RECORDNO")) if count else after
            else:
                count = int(_COUNT.search(body).group(1))
                newest = (
                    int(_LAST_RECORDNO.search(body, max(0, len(body) - 8000)).group(1)) if count else after
                )
            pages += 1
            records += count
            if count < PAGE_SIZE:
                return pages, records, size
            after = newest


def page_all(
    endpoint: str, session_id: str, full_parse: bool, clients: int, customers: int
) -> tuple[int, int, float, int]:
    """(pages, records, seconds, bytes) for one pass over every customer, split among `clients`."""
    bounds = [customers * i // clients for i in range(clients + 1)]  # RECORDNOs run about 1..customers
    ranges = [(bounds[i], bounds[i + 1] if i + 1 < clients else None) for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        parts = list(pool.map(lambda r: page_range(endpoint, session_id, r[0], r[1], full_parse), ranges))
    seconds = time.perf_counter() - started
    return sum(p[0] for p in parts), sum(p[1] for p in parts), seconds, sum(p[2] for p in parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument(
        "--rounds", type=int, default=3, help="passes per client kind; the best one is reported"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    process, endpoint = start_gateway(args.customers)
    print(
        f"gateway up with {args.customers:,} customers in {time.perf_counter() - started:.1f} s ({os.cpu_count()} cores)"
    )
    try:
        with requests.Session() as http:
            session_id = sign_in(http, endpoint)
            admin = endpoint.split("/ia/")[0] + "/_admin/ledger"
            runs = (
                ("1 client, reads each page's size and last RECORDNO", False, 1),
                ("1 client, parses every page with lxml", True, 1),
                ("2 clients in parallel (the company's 2 slots), cheap reads", False, 2),
            )
            for label, full_parse, clients in runs:
                passes = []
                for _ in range(args.rounds):
                    http.delete(admin)
                    passes.append(page_all(endpoint, session_id, full_parse, clients, args.customers))
                    served = [e["duration_ms"] for e in http.get(admin).json()["entries"]]
                pages, records, seconds, size = min(passes, key=lambda p: p[2])
                assert records == args.customers, f"paged {records} customers, expected {args.customers}"
                print(
                    f"{label}: {pages / seconds:.1f} pages/s ({records / seconds:,.0f} records/s, "
                    f"{size / seconds / 1e6:.1f} MB/s, {pages} pages in {seconds:.2f} s); "
                    f"server time per page: median {statistics.median(served):.1f} ms"
                )
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    main()
