"""Print a stored run report (the latest, or one by id) and optionally write its plan rows as CSV.

    python -m intacct.airflow.report_cli [--id N] [--dag DAG_ID] [--csv plan.csv] [--lists-csv lists.csv]

The state database is the one the DAGs use: the `intacct_state_db` Airflow connection (from the
environment, a secrets backend or Airflow's metadata database), or the embedded default under
AIRFLOW_HOME (`make report` points at the demo's).
"""

from __future__ import annotations

import argparse
import os
import sys

from intacct import report
from intacct.airflow import connections
from intacct.state import db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", type=int, help="report id (default: the latest)")
    parser.add_argument("--dag", help="only reports of this DAG")
    parser.add_argument("--csv", help="write the report's plan rows to this CSV file")
    parser.add_argument(
        "--lists-csv", help="write every list of the report in full (refused, imported, skipped, …) as CSV"
    )
    args = parser.parse_args(argv)

    # The CLI runs where Airflow's metadata database is reachable (a scheduler's or an API server's
    # machine): Airflow's server lookup chain also reads the connections stored there, which the SDK's
    # default chain outside a task (environment variables and external secrets backends) does not.
    os.environ.setdefault("_AIRFLOW_PROCESS_CONTEXT", "server")
    url = connections.state_db_url()
    engine = db.open_engine(url)
    try:
        stored = report.get_report(engine, args.id, dag_id=args.dag)
        if stored is None:
            what = f"report {args.id}" if args.id else "any report" + (f" of {args.dag}" if args.dag else "")
            print(f"no {what} in {db.describe(url)}", file=sys.stderr)
            return 1
        print(f"report {stored.id}, {stored.created_at:%Y-%m-%d %H:%M:%S} UTC\n")
        print(stored.markdown)
        if args.lists_csv:
            with open(args.lists_csv, "w", newline="", encoding="utf-8") as out:
                items = report.write_lists_csv(stored, out)
            print(f"wrote {items} list items of report {stored.id} to {args.lists_csv}")
        if args.csv:
            plan_id = stored.summary.get("plan_id")
            if plan_id is None:
                print(f"report {stored.id} has no plan (the run stopped before planning)", file=sys.stderr)
                return 1
            with open(args.csv, "w", newline="", encoding="utf-8") as out:
                rows = report.write_plan_csv(engine, plan_id, out)
            print(f"wrote {rows} plan rows of plan {plan_id} to {args.csv}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
