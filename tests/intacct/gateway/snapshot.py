"""Snapshot files for request XML: the exact bytes a builder emits, pretty-printed for readable diffs.

A mismatch fails with a unified diff. Run with ``UPDATE_SNAPSHOTS=1`` to (re)write the files, then
review the diff in version control like any other change.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
from lxml import etree

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE_ENV = "UPDATE_SNAPSHOTS"


def pretty_xml(body: bytes) -> str:
    """The request with its declaration line kept verbatim and the element tree indented.

    Parsed without dropping blank text, so a value made of spaces survives; our requests have no
    whitespace between elements, so indentation is the only thing pretty-printing adds.
    """
    declaration, end, rest = body.partition(b"?>")
    tree = etree.fromstring(rest)
    return (
        (declaration + end).decode("utf-8")
        + "\n"
        + etree.tostring(tree, pretty_print=True, encoding="unicode")
    )


def assert_matches_snapshot(name: str, actual: str, directory: Path = SNAPSHOT_DIR) -> None:
    path = directory / f"{name}.xml"
    if os.environ.get(UPDATE_ENV) == "1":
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path.name} yet: run with {UPDATE_ENV}=1 to write it", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"snapshots/{path.name}",
                tofile="built now",
            )
        )
        pytest.fail(
            f"request XML differs from snapshots/{path.name} "
            f"(run with {UPDATE_ENV}=1 to accept the change):\n{diff}",
            pytrace=False,
        )
