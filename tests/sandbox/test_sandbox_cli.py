"""`python -m sandbox.intacct_gateway`: the gateway in a process of its own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests
from lxml import etree
from tests.sandbox.xml_client import function, login, query_xml, request_xml

REPO = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox.intacct_gateway", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_gateway_runs_as_a_process_on_a_free_port_with_faults():
    process = start("--port", "0", "--customers", "40", "--departments", "8", "--users", "6", "--seed", "3",
                    "--timezone", "America/Chicago", "--fault", "throttle:nth=2", "--fault", "unstable_order")  # fmt: skip
    try:
        banner = process.stdout.readline()
        endpoint = re.search(r"listening on (http://127\.0\.0\.1:\d+/ia/xml/xmlgw\.phtml)", banner).group(1)
        assert "sandbox_sender" in process.stdout.readline()
        body = request_xml(function(query_xml("CUSTOMER", "RECORDNO", pagesize=2000)), auth=login())
        first = requests.post(endpoint, data=body.encode(), timeout=10)
        assert first.status_code == 200
        served = [
            int(r.findtext("RECORDNO")) for r in etree.fromstring(first.content).find("operation/result/data")
        ]
        assert requests.post(endpoint, data=body.encode(), timeout=10).status_code == 429
        admin = endpoint.split("/ia/")[0] + "/_admin"
        customers = requests.get(f"{admin}/records/CUSTOMER", timeout=10).json()["records"]
        top_level = [int(c["RECORDNO"]) for c in customers if not c["MEGAENTITYID"]]
        assert sorted(served) == top_level and served != top_level  # all of them, shuffled
        summary = requests.get(admin, timeout=10).json()
        assert summary["records"]["CUSTOMER"] == 40 and summary["gmtoffset"] in ("-06:00", "-05:00")
        assert set(summary["faults"]) == {"slots", "throttle", "unstable_order"}
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_a_bad_fault_spec_is_refused_before_starting():
    process = start("--port", "0", "--fault", "gremlins:every=2")
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "unknown fault 'gremlins'" in stderr
