"""`make demo`: run the real DAGs end to end on the embedded defaults and print their reports.

Everything runs on this machine and nothing waits on a human:
- Intacct is the sandbox gateway (a generated company) on a free loopback port, served by this process;
- the state database and Forecast are SQLite files under the demo's Airflow home (reset each run), and
  Forecast is seeded with a few clients, a department and a person that already exist, so the plans have
  links to suggest;
- the DAGs run with `airflow dags test` and parameters, exactly as a data engineer would trigger them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

from intacct import report  # noqa: E402
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema  # noqa: E402
from intacct.forecast.target import NewClient, NewDepartment, NewPerson  # noqa: E402
from intacct.state import db, migrations  # noqa: E402
from sandbox.intacct_gateway.server import GatewayServer  # noqa: E402

AIRFLOW = str(REPO / ".venv" / "bin" / "airflow")


def airflow_env(home: Path, gateway: GatewayServer) -> dict[str, str]:
    connection = gateway.airflow_connection(retry_max_total=60)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_INTACCT_DEFAULT": json.dumps(connection),
        "AIRFLOW_CONN_INTACCT_STATE_DB": json.dumps(
            {"conn_type": "sqlite", "host": str(home / db.STATE_DB_FILE)}
        ),
        "AIRFLOW_CONN_FORECAST_DB": json.dumps(
            {"conn_type": "sqlite", "host": str(home / db.FORECAST_DB_FILE)}
        ),
    }


def run(cmd: list[str], env: dict[str, str], log: Path) -> int:
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        return subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode


def seed_forecast(
    home: Path, customers: list[dict[str, str]], users: list[dict[str, str]]
) -> dict[str, list[int]]:
    """Forecast already has some records: clients named like Intacct customers (to be linked) and one of
    its own, a department of its own, and a person with an Intacct user's email (a suggested link)."""
    engine = db.open_engine(f"sqlite:///{home / db.FORECAST_DB_FILE}")
    ensure_forecast_schema(engine)
    target = SqlForecastTarget(engine)
    clients = target.create_clients(
        [
            NewClient(name=customers[0]["NAME"].upper()),
            NewClient(name=customers[1]["NAME"]),
            NewClient(name="Forecast-only Client A/S", city="Aarhus", country="DK"),
        ]
    )
    target.create_departments([NewDepartment("Forecast-only Studio")])
    profile = next(p.id for p in target.list_profiles() if p.name == "Collaborator")
    people = target.create_people(
        [
            NewPerson(
                users[0]["CONTACTINFO.FIRSTNAME"],
                users[0]["CONTACTINFO.LASTNAME"],
                users[0]["CONTACTINFO.EMAIL1"].upper(),
                profile,
            )
        ]
    )
    engine.dispose()
    return {"clients": [c.id for c in clients], "people": [p.id for p in people]}


def own_email_users(users: list[dict[str, str]]) -> list[dict[str, str]]:
    """Active users who can sign in and whose email is theirs alone: the ones Forecast can take."""
    emails = [u["CONTACTINFO.EMAIL1"].lower() for u in users if u["CONTACTINFO.EMAIL1"]]
    return [
        u
        for u in sorted(users, key=lambda u: u["LOGINID"])
        if u["STATUS"] == "active"
        and u["LOGINDISABLED"] == "false"
        and u["CONTACTINFO.EMAIL1"]
        and emails.count(u["CONTACTINFO.EMAIL1"].lower()) == 1
    ]


CHANGE_DEPARTMENTS = "(change departments in the sandbox)"


def change_departments(gateway: GatewayServer) -> str:
    """Rename one active department and deactivate another in the sandbox's Intacct, an hour later."""
    active = sorted(
        (d for d in gateway.store.records("DEPARTMENT") if d["STATUS"] == "active"),
        key=lambda d: d["DEPARTMENTID"],
    )
    renamed, retired = active[1], active[2]
    gateway.store.clock.advance(3600)
    gateway.store.update("DEPARTMENT", renamed["DEPARTMENTID"], {"TITLE": f"{renamed['TITLE']} (renamed)"})
    gateway.store.update("DEPARTMENT", retired["DEPARTMENTID"], {"STATUS": "inactive"})
    gateway.store.clock.advance(3600)
    return (
        f"# in Intacct: {renamed['DEPARTMENTID']} renamed to {renamed['TITLE']!r} (renamed), "
        f"{retired['DEPARTMENTID']} made inactive"
    )


def main() -> int:
    home = Path(os.environ.get("AIRFLOW_HOME") or REPO / "airflow_home")
    home.mkdir(parents=True, exist_ok=True)
    for name in (db.STATE_DB_FILE, db.FORECAST_DB_FILE):
        for suffix in ("", "-wal", "-shm"):
            (home / f"{name}{suffix}").unlink(missing_ok=True)
    log = home / "demo.log"
    log.write_text("")

    started = time.monotonic()
    with GatewayServer(seed=42, customers=1200, departments=25, users=60) as gateway:
        customers = sorted(gateway.store.records("CUSTOMER"), key=lambda r: int(r["RECORDNO"]))
        active = [c for c in customers if c.get("STATUS") == "active" and c.get("NAME")]
        print(f"sandbox Intacct gateway on {gateway.endpoint}: {len(customers)} customers (seed 42)")
        users = own_email_users(gateway.store.records("USERINFO"))
        seeded = seed_forecast(home, active, users)
        state = db.open_engine(f"sqlite:///{home / db.STATE_DB_FILE}")
        migrations.upgrade(state)
        env = airflow_env(home, gateway)

        print("preparing Airflow (metadata database, intacct_api pool) …")
        if run([AIRFLOW, "db", "migrate"], env, log) or run(
            [AIRFLOW, "pools", "set", "intacct_api", "2", "Intacct API concurrency"], env, log
        ):
            print(f"Airflow set-up failed; see {log}")
            return 1

        to_import = [c["CUSTOMERID"] for c in active[2:7]]
        runs = [
            ("intacct_import_clients", {"customer_ids": to_import, "dry_run": True}),
            ("intacct_import_clients", {"customer_ids": to_import}),
            ("intacct_import_clients", {"customer_ids": to_import}),  # a rerun: nothing changes
            (
                "intacct_link_clients",
                {
                    "links": [
                        {
                            "forecast_client_id": seeded["clients"][0],
                            "intacct_customer_id": active[0]["CUSTOMERID"],
                        },
                        {
                            "forecast_client_id": seeded["clients"][1],
                            "intacct_customer_id": active[1]["CUSTOMERID"],
                        },
                    ]
                },
            ),
            ("intacct_import_departments", {"select_all": True}),
            (
                "intacct_import_team_members",
                {
                    "user_ids": [u["LOGINID"] for u in users[1:9]],
                    "permission_level": "Collaborator",
                    "assign_departments": True,
                },
            ),
            (
                "intacct_link_team_members",
                {
                    "links": [
                        {"forecast_person_id": seeded["people"][0], "intacct_user_id": users[0]["LOGINID"]}
                    ]
                },
            ),
        ]
        # The hourly sync: a first run (a full compare), then a rename and a deactivation in Intacct,
        # an hour later, and the sync again.
        runs += [("intacct_department_sync", {}), (CHANGE_DEPARTMENTS, {}), ("intacct_department_sync", {})]
        failures = 0
        for dag_id, conf in runs:
            if dag_id == CHANGE_DEPARTMENTS:
                print("\n" + change_departments(gateway))
                continue
            print(f"\n$ airflow dags test {dag_id} -c '{json.dumps(conf)}'")
            code = run([AIRFLOW, "dags", "test", dag_id, "-c", json.dumps(conf)], env, log)
            stored = report.get_report(state, dag_id=dag_id)
            if stored is not None:
                print(stored.markdown)
            if code != 0:
                failures += 1
                print(f"{dag_id} failed (exit {code}); the Airflow output is in {log}")
        print(f"Intacct requests served by the sandbox: {gateway.ledger.requests()}")
        state.dispose()
    print(f"demo finished in {time.monotonic() - started:.0f} s; Airflow output: {log}")
    print(
        "To see these runs in the Airflow UI: make airflow, then open http://127.0.0.1:8080 and sign in as "
        "admin with the password in airflow_home/simple_auth_manager_passwords.json.generated; "
        "make report prints a stored report again"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
