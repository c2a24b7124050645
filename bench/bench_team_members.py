"""The team-member import of 10,000 users end to end: the real DAG, against the sandbox, timed and counted.

Serves a sandbox gateway from this process (10,000 users, their employees, 200 departments; latency
200 ms, 2 concurrency slots, as `bench_extract.py`), makes a throwaway Airflow home (`airflow db migrate`,
the `intacct_api` pool), then, for each repetition, on fresh state and Forecast databases, runs in one
child process with `dag.test()`:

1. `intacct_import_departments` with `select_all`, which links the departments the way an operator does
   (not measured; it also starts `dag.test()`'s in-process execution API, about 7 s once per process,
   which a deployment's API server does not spend per run);
2. the measured run: `intacct_import_team_members` with `select_all`, `permission_level` and
   `assign_departments`, with `apply.import_selected` timed where the import task calls it.

The parent then reads each task instance's start and end from Airflow's metadata database, every Intacct
call of the run from the sandbox's ledger (emptied between the two runs), and the run's staging batches
from the state database; the child reports its own peak RSS (`VmHWM`), and the parent watches the peak of
every process the child starts (the extraction's writer processes, when there are any).

Prints, per run: the rows and pages per object, the floor (`ceil(pages / slots) x latency`, the pages of
all the objects together), the extraction's time (the first extraction task's start to the last one's
end), the API calls against the pages, the apply time (`apply.import_selected`) and the import task's
time, the DAG run's time (its start to end in Airflow's metadata: Airflow's overhead included), the peak
RSS, the time each task spent in cyclic garbage collections (and how many were full ones), and each ratio
beside its target. Asserts nothing.

    .venv/bin/python bench/bench_team_members.py [--runs 2] [--backends sqlite postgresql] [--keep]
        [--gc-unfrozen | --gc-off]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text

import bench_extract
from bench_extract import PAGE_SIZE, PG_ADMIN_URL, REPO, ScratchPostgres, floor_seconds
from dag_runs import (
    airflow_env,
    bench_workdir,
    dag_run_timings,
    prepare_airflow_home,
    sql_connection,
    time_calls,
)
from intacct.forecast.sql import ensure_forecast_schema
from intacct.state import db, migrations
from sandbox.intacct_gateway.server import GatewayServer

DAG_ID = "intacct_import_team_members"
OBJECTS = ("USERINFO", "EMPLOYEE", "DEPARTMENT")
CONF = {"select_all": True, "permission_level": "Collaborator", "assign_departments": True}
RUN_TIMEOUT = 900  # seconds; a stuck DAG run must not keep the benchmark alive
RSS_POLL = 0.02  # seconds between two reads of the processes' VmHWM
TARGET_EXTRACTION = 1.5  # x the floor
TARGET_RUN = 2.0  # x (the floor + the apply time)


class PeakRss:
    """The peak RSS of a process and of each writer process below it (`python -m intacct.extract_writers`), read
    from /proc while they run."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peaks: dict[int, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            for pid in [self.pid, *filter(self._is_writer, self._descendants(self.pid))]:
                try:
                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), bench_extract._peak_rss_mb(pid))
                except (OSError, RuntimeError):  # gone between the listing and the read
                    continue
            time.sleep(RSS_POLL)

    @staticmethod
    def _descendants(pid: int) -> list[int]:
        found = []
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return found
        for tid in threads:
            try:
                children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found += [child, *PeakRss._descendants(child)]
        return found

    @staticmethod
    def _is_writer(pid: int) -> bool:
        try:
            return b"intacct.extract_writers" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False

    def stop(self) -> tuple[float, list[float]]:
        """(the process's own peak, each writer process's peak)."""
        self._done.set()
        self._thread.join()
        main = self.peaks.pop(self.pid, 0.0)
        return main, sorted(self.peaks.values(), reverse=True)


class GcPauses:
    """The time this process spends in cyclic garbage collections, by Airflow task (the task runner exports
    AIRFLOW_CTX_TASK_ID as a task starts; the scheduling after it counts with it): [collections, seconds,
    full ones, their seconds]."""

    def __init__(self) -> None:
        self.by_task: dict[str, list] = {}
        self._started = 0.0

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        pauses = self.by_task.setdefault(os.environ.get("AIRFLOW_CTX_TASK_ID", "-"), [0, 0.0, 0, 0.0])
        pauses[0] += 1
        pauses[1] += seconds
        if info["generation"] == 2:
            pauses[2] += 1
            pauses[3] += seconds


def child_dag_runs(admin_url: str, *, gc_off: bool = False, unfrozen: bool = False) -> dict:
    """In this (child) process: link the departments, then the measured team-member run, by `dag.test()`.

    The departments' run comes first in the same process, so the team-member run does not pay for
    starting `dag.test()`'s in-process execution API (about 7 s, once per process; a deployment's API
    server starts once, not per run). `apply.import_selected` is timed where the import task calls it.
    `gc_off` runs the team-member DAG with the cyclic garbage collector off: a diagnostic of what its
    collections cost. `unfrozen` makes the tasks' `gc.freeze()` (`tasks.freeze_long_lived_objects`, their
    `pre_execute`) do nothing: a diagnostic of what it saves.
    """
    import requests
    from airflow.dag_processing.dagbag import DagBag

    from intacct import apply
    from intacct.airflow import tasks

    if unfrozen:  # before the DAGs are parsed: their tasks take the function when they are made
        tasks.freeze_long_lived_objects = lambda context=None: None

    applied = time_calls(apply, "import_selected")
    # A freshly parsed DAG for every run: dag.test() merges run_conf into the parsed DAG's params in place.
    departments = DagBag(dag_folder=str(REPO / "dags")).dags["intacct_import_departments"]
    if departments.test(run_conf={"select_all": True}).state != "success":
        raise SystemExit("intacct_import_departments failed")
    requests.delete(f"{admin_url}/ledger", timeout=10).raise_for_status()
    rss_before = bench_extract._peak_rss_mb()
    team_members = DagBag(dag_folder=str(REPO / "dags")).dags[DAG_ID]
    if gc_off:
        gc.disable()
    started = time.perf_counter()
    with GcPauses() as pauses:
        run = team_members.test(run_conf=CONF)
    seconds = time.perf_counter() - started
    return {
        "gc_pauses": pauses.by_task,
        "state": run.state,
        "run_id": run.run_id,
        "test_seconds": seconds,
        "apply_seconds": applied["seconds"],
        "rss_before_mb": rss_before,
        "peak_rss_mb": bench_extract._peak_rss_mb(),
    }


def run_child(env: dict[str, str], admin_url: str, workdir: Path, *, gc_off: bool, unfrozen: bool) -> dict:
    """`child_dag_runs` in a child process (its output in the workdir's airflow.log), with the peak RSS
    of the processes it starts (the writer processes)."""
    result = workdir / "child.json"
    result.unlink(missing_ok=True)
    log = workdir / "airflow.log"
    command = [sys.executable, str(Path(__file__).resolve()), "--child", admin_url, str(result)]
    if gc_off:
        command.append("--gc-off")
    if unfrozen:
        command.append("--gc-unfrozen")
    with log.open("a") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        watch = PeakRss(process.pid)
        try:
            process.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        finally:
            _, others = watch.stop()
    if process.returncode != 0:
        raise SystemExit(f"the DAG runs failed (exit {process.returncode}); their output is in {log}")
    outcome = json.loads(result.read_text())
    if outcome["state"] != "success":
        raise SystemExit(f"{DAG_ID} ended {outcome['state']}; its output is in {log}")
    return {**outcome, "other_peaks_mb": others}


def staged_batches(state_url: str, run_id: str) -> dict[str, dict]:
    """The staging batches of the run, by object."""
    engine = db.open_engine(state_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT object, kind, status, row_count FROM intacct_batch WHERE run_id = :run"),
                {"run": run_id},
            ).fetchall()
    finally:
        engine.dispose()
    return {r.object: {"kind": r.kind, "status": r.status, "rows": r.row_count} for r in rows}


def fresh_databases(backend: str, workdir: Path, n: int, scratch: list[ScratchPostgres]) -> tuple[str, str]:
    """A state and a Forecast database of `backend`, empty, migrated and seeded (Forecast's profiles)."""
    if backend == "sqlite":
        state_url = f"sqlite:///{workdir / f'state-{n}.db'}"
        forecast_url = f"sqlite:///{workdir / f'forecast-{n}.db'}"
    else:
        scratch += [ScratchPostgres(PG_ADMIN_URL), ScratchPostgres(PG_ADMIN_URL)]
        state_url, forecast_url = scratch[-2].url, scratch[-1].url
    for url, prepare in ((state_url, migrations.upgrade), (forecast_url, ensure_forecast_schema)):
        engine = db.open_engine(url)
        prepare(engine)
        engine.dispose()
    return state_url, forecast_url


def measure(gateway, home, workdir, backend: str, n: int, args: argparse.Namespace, scratch) -> dict:
    state_url, forecast_url = fresh_databases(backend, workdir, n, scratch)
    env = airflow_env(
        home, gateway, state_url, args.slots, {"AIRFLOW_CONN_FORECAST_DB": sql_connection(forecast_url)}
    )
    child = run_child(env, gateway.admin_url, workdir, gc_off=args.gc_off, unfrozen=args.gc_unfrozen)
    counts = gateway.ledger.counts()
    requests_served = gateway.ledger.requests()
    timings = dag_run_timings(home, DAG_ID)
    assert timings["run_id"] == child["run_id"], (timings["run_id"], child["run_id"])
    batches = staged_batches(state_url, timings["run_id"])
    tasks = timings["tasks"]
    extraction = [t for task_id, t in tasks.items() if task_id.startswith("extract_") and t["start"]]
    pages = {obj: math.ceil(batches[obj]["rows"] / PAGE_SIZE) for obj in OBJECTS if obj in batches}
    total_pages = sum(pages.values())
    import_task = tasks["import_selected"]
    outcome = {
        "backend": backend + (", no GC" if args.gc_off else ", unfrozen" if args.gc_unfrozen else ""),
        "rows": {obj: batches[obj]["rows"] for obj in OBJECTS if obj in batches},
        "pages": pages,
        "floor": floor_seconds(total_pages * PAGE_SIZE, args.slots, args.latency_ms),
        "extraction_tasks": len(extraction),
        "extraction_seconds": (
            max(t["end"] for t in extraction) - min(t["start"] for t in extraction)
        ).total_seconds(),
        "api_calls": sum(counts.values()),
        "calls_by_function": {f"{fn} {obj}".strip(): c for (fn, obj), c in sorted(counts.items())},
        "requests": requests_served,
        "import_task_seconds": (import_task["end"] - import_task["start"]).total_seconds(),
        "run_seconds": (timings["end"] - timings["start"]).total_seconds(),
        "task_seconds": {
            task_id: round((t["end"] - t["start"]).total_seconds(), 2)
            for task_id, t in sorted(tasks.items(), key=lambda item: item[1]["start"] or timings["end"])
            if t["start"] and t["end"]
        },
        **child,
    }
    outcome["api_calls_over_pages"] = outcome["api_calls"] - total_pages
    print(
        f"  {backend} run {n}: extraction {outcome['extraction_seconds']:.2f} s, apply "
        f"{outcome['apply_seconds']:.2f} s, DAG run {outcome['run_seconds']:.2f} s",
        flush=True,
    )
    return outcome


def print_results(results: list[dict], latency_ms: float, slots: int) -> None:
    print()
    print(f"Team-member import ({DAG_ID}, {json.dumps(CONF)}), latency {latency_ms:.0f} ms, {slots} slots:")
    first = results[0]
    print("rows: " + ", ".join(f"{obj} {n:,}" for obj, n in first["rows"].items()))
    print("pages: " + ", ".join(f"{obj} {n}" for obj, n in first["pages"].items()))
    header = (
        f"{'state DB':<16} {'floor s':>7} {'extract s':>9} {'/floor':>6} {'API calls':>9} {'pages +':>7} "
        f"{'apply s':>7} {'task s':>6} {'DAG run s':>9} {'/(f+a)':>6} {'/(f+t)':>6} {'peak MB':>7} "
        f"{'writers MB':>10}"
    )
    print(header)
    print("-" * len(header))
    for o in results:
        others = o["other_peaks_mb"]
        print(
            f"{o['backend']:<16} {o['floor']:>7.2f} {o['extraction_seconds']:>9.2f} "
            f"{o['extraction_seconds'] / o['floor']:>6.2f} {o['api_calls']:>9} {o['api_calls_over_pages']:>7} "
            f"{o['apply_seconds']:>7.2f} {o['import_task_seconds']:>6.2f} {o['run_seconds']:>9.2f} "
            f"{o['run_seconds'] / (o['floor'] + o['apply_seconds']):>6.2f} "
            f"{o['run_seconds'] / (o['floor'] + o['import_task_seconds']):>6.2f} {o['peak_rss_mb']:>7.1f} "
            f"{(f'{len(others)} x {max(others):.1f}' if others else '-'):>10}"
        )
    print(
        "extract s: first extraction task's start to the last one's end; apply s: apply.import_selected; "
        "task s: the import_selected task; DAG run s: the run's start to end in Airflow's metadata "
        "(dag.test() took: " + ", ".join(f"{o['test_seconds']:.2f} s" for o in results) + ")"
    )
    print()
    for o in results:
        print(f"{o['backend']} tasks (s): " + ", ".join(f"{k} {v}" for k, v in o["task_seconds"].items()))
        print(
            f"{o['backend']} GC (s, full ones): "
            + ", ".join(
                f"{task} {seconds:.2f} ({full} {full_seconds:.2f})"
                for task, (_, seconds, full, full_seconds) in o["gc_pauses"].items()
            )
        )
        print(f"{o['backend']} calls: " + ", ".join(f"{k} {v}" for k, v in o["calls_by_function"].items()))
        print(
            f"{o['backend']} extraction tasks: {o['extraction_tasks']}, HTTP requests: {o['requests']}, "
            f"peak RSS before the team-member run {o['rss_before_mb']:.1f} MB"
        )
    print()
    for backend in dict.fromkeys(o["backend"] for o in results):
        mine = [o for o in results if o["backend"] == backend]
        extraction = [o["extraction_seconds"] / o["floor"] for o in mine]
        run = [o["run_seconds"] / (o["floor"] + o["apply_seconds"]) for o in mine]
        run_task = [o["run_seconds"] / (o["floor"] + o["import_task_seconds"]) for o in mine]
        constant = sorted({o["api_calls_over_pages"] for o in mine})
        print(
            f"{backend}: (a) extraction {', '.join(f'{r:.2f}x' for r in extraction)} the floor "
            f"(median {statistics.median(extraction):.2f}x; target <= {TARGET_EXTRACTION}x); "
            f"(b) API calls = pages + {', '.join(map(str, constant))}; "
            f"(c) DAG run {', '.join(f'{r:.2f}x' for r in run)} (floor + apply), "
            f"{', '.join(f'{r:.2f}x' for r in run_task)} (floor + import task) "
            f"(target <= {TARGET_RUN}x); peak RSS {max(o['peak_rss_mb'] for o in mine):.1f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--departments", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument(
        "--runs", type=int, default=2, help="repetitions per backend, each on fresh databases"
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=["sqlite", "postgresql"],
        default=["sqlite"],
        help=f"the state and Forecast databases' backends (postgresql: scratch databases on {PG_ADMIN_URL})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory, to read its logs")
    gc_diagnostics = parser.add_mutually_exclusive_group()
    gc_diagnostics.add_argument(
        "--gc-off",
        action="store_true",
        help="a diagnostic: run the team-member DAG with the cyclic garbage collector off",
    )
    gc_diagnostics.add_argument(
        "--gc-unfrozen",
        action="store_true",
        help="a diagnostic: the tasks' gc.freeze() (their pre_execute) does nothing",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        admin_url, result = args.child
        Path(result).write_text(
            json.dumps(child_dag_runs(admin_url, gc_off=args.gc_off, unfrozen=args.gc_unfrozen))
        )
        return

    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; {args.users:,} users, "
        f"{args.departments} departments; latency {args.latency_ms:.0f} ms, {args.slots} slots",
        flush=True,
    )
    results = []
    with bench_workdir("bench-team-members-", keep=args.keep) as (workdir, scratch):
        home = workdir / "airflow_home"
        with GatewayServer(
            seed=1,
            customers=200,
            departments=args.departments,
            users=args.users,
            latency_ms=args.latency_ms,
            slots=args.slots,
        ) as gateway:
            forecast = {"AIRFLOW_CONN_FORECAST_DB": sql_connection("sqlite://")}
            prepare_airflow_home(airflow_env(home, gateway, "sqlite://", args.slots, forecast), args.slots)
            for backend in args.backends:
                for n in range(1, args.runs + 1):
                    results.append(measure(gateway, home, workdir, backend, n, args, scratch))
        print_results(results, args.latency_ms, args.slots)


if __name__ == "__main__":
    main()
