"""The SQL files under `include/`: where they are and how a file becomes statements."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, TextClause, text

_PARAM = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)")


def include_dir() -> Path:
    """This checkout's `include/` folder, or INTACCT_INCLUDE_DIR where the code is deployed apart from it."""
    override = os.environ.get("INTACCT_INCLUDE_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[3] / "include"


@cache
def statements(name: str) -> tuple[tuple[TextClause, frozenset[str]], ...]:
    """The statements of `include/sql/<name>` with the parameter names each one uses.

    Statements end with a semicolon at the end of a line; our SQL never has one inside a literal.
    """
    source = (include_dir() / "sql" / name).read_text(encoding="utf-8")
    parts = [p.strip() for p in re.split(r";\s*$", source, flags=re.MULTILINE)]
    result = []
    for part in parts:
        body = "\n".join(line for line in part.splitlines() if not line.lstrip().startswith("--")).strip()
        if body:
            result.append((text(body), frozenset(_PARAM.findall(body))))
    return tuple(result)


def run_file(connection: Connection, name: str, params: dict[str, object]) -> None:
    """Execute every statement of a SQL file; each gets the parameters it names (all must be given)."""
    for statement, names in statements(name):
        missing = names - params.keys()
        if missing:
            raise KeyError(f"{name} needs parameter(s) {', '.join(sorted(missing))}")
        connection.execute(statement, {k: params[k] for k in names})
