"""Refusals: requests that cannot be carried out, turned down before anything is written.

Every refusal names each offending value in `problems`; its message names only the first few and counts
the rest, so 10,000 unknown ids make one readable log line, and the run report keeps the whole list
(its CSV export writes every item).
"""

from __future__ import annotations

from collections.abc import Sequence

# Problems named in a refusal's message; the rest are counted.
SHOWN = 10


class Refused(ValueError):
    """Base of every refusal. `problems` holds each offending value; str() names the first `SHOWN`."""

    prefix = "refused, nothing was written"

    def __init__(self, problems: str | Sequence[str]):
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__(f"{self.prefix}: {summarise(self.problems)}")


def summarise(items: Sequence[str], shown: int = SHOWN) -> str:
    """The first `shown` items joined, and how many more there are."""
    head = "; ".join(items[:shown])
    rest = len(items) - shown
    if rest <= 0:
        return head
    return f"{head}; and {rest:,} more ({len(items):,} in all: the run report's CSV export lists each)"


class ImportRefused(Refused):
    """An import request that cannot be carried out; nothing was written. `problems` names each value."""

    prefix = "import refused, nothing was written"
