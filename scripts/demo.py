"""`make demo`: run the pipeline end to end on the embedded defaults and print what happened.

Everything runs on this machine: the state database and Forecast are SQLite files under the demo's
Airflow home, and Intacct is the sandbox gateway on loopback. It never waits on a human.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from intacct import db, migrations  # noqa: E402


def main() -> int:
    state_url = db.default_state_url()
    engine = db.open_engine(state_url)
    revision = migrations.upgrade(engine)
    print(f"state database {db.describe(state_url)} at schema revision {revision}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
