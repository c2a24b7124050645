"""`make stack` / `make stack-stop`: the pipeline on this machine as a deployment runs it, Celery and all.

    python scripts/stack.py start [--api-port 8080 ...]    # starts what is not running yet
    python scripts/stack.py status
    python scripts/stack.py stop                           # stops what `start` started, by pid

PostgreSQL (Airflow's metadata database, the Celery results and our state database) and Redis (the Celery
broker) are expected on 127.0.0.1; when one is not answering, Debian's package is started (PostgreSQL's
cluster, the redis-server service) or the script says what is missing and exits non-zero. Then: the
sandbox Intacct gateway, Airflow's api-server, scheduler, dag-processor, triggerer and one Celery worker,
with the same settings docker-compose.yaml gives its services (CeleryExecutor, the generated Fernet key,
JWT secret and API secret key read through `*_CMD`, the `intacct_api` pool, FORECAST_TARGET).

Everything the stack keeps is under `--home` (default var/stack, git-ignored): `airflow/` (the Airflow
home: config, task logs, the admin password), `pids/` (one JSON record per process it started: pid and
start time, so a reused pid is never taken for ours), `logs/` (one log per component) and `secrets/`.
The connections are AIRFLOW_CONN_* variables of every component, as in `make airflow`: `intacct_default`
(the sandbox), `intacct_state_db` (PostgreSQL) and `forecast_db` (the SQL Forecast target: a SQLite file
under the Airflow home, the embedded default).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

# The project's own modules are imported where `start` needs them: `stop` and `status` rely on nothing
# but the pid records, so they work even while the code is half-edited.

BIN = REPO / ".venv" / "bin"
PYTHON = str(BIN / "python")
AIRFLOW = str(BIN / "airflow")
DEFAULT_HOME = REPO / "var" / "stack"
SECRETS = ("fernet_key", "jwt_secret", "api_secret_key")
# What each Airflow service of docker-compose.yaml runs, in the order they start (and the reverse of the
# order they stop: the worker finishes its tasks while the API server they report to is still up).
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "celery-worker")
SANDBOX = "intacct-sandbox"
ADMIN_USER = "admin"  # the simple auth manager's default user ([core] simple_auth_manager_users)
STOP_TIMEOUT_S = 60.0
START_MARK = "== started by scripts/stack.py at"


class StackError(Exception):
    """A reason the stack cannot start, in one sentence the operator can act on."""


@dataclass(frozen=True)
class StackConfig:
    home: Path
    api_port: int
    sandbox_port: int
    worker_log_port: int
    triggerer_log_port: int
    pg_url: str  # any database of the server: the stack's databases are created beside it
    airflow_db: str
    state_db: str
    redis_url: str
    queue: str
    slots: int
    worker_concurrency: int
    sandbox_seed: int
    sandbox_customers: int

    @property
    def airflow_home(self) -> Path:
        return airflow_home(self.home)

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def secrets(self) -> Path:
        return self.home / "secrets"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def passwords_file(self) -> Path:
        return passwords_path(self.home)

    @property
    def worker_name(self) -> str:
        return f"intacct-stack-{self.api_port}@{socket.gethostname()}"

    def database_url(self, name: str, driver: str = "postgresql+psycopg") -> str:
        """A database of the server at `pg_url`, through psycopg 3 (the driver the lock pins)."""
        url = make_url(self.pg_url).set(drivername=driver, database=name)
        return url.render_as_string(hide_password=False)

    def state_db_connection(self) -> dict:
        url = make_url(self.pg_url)
        return {
            "conn_type": "postgres",
            "host": url.host or "127.0.0.1",
            "port": url.port or 5432,
            "schema": self.state_db,
            "login": url.username or "",
            "password": url.password or "",
        }


# -- the processes the stack starts -----------------------------------------------------------------------


def component_argv(config: StackConfig, name: str) -> list[str]:
    if name == SANDBOX:
        return [
            PYTHON,
            "-m",
            "sandbox.intacct_gateway",
            "--port",
            str(config.sandbox_port),
            "--seed",
            str(config.sandbox_seed),
            "--customers",
            str(config.sandbox_customers),
            "--slots",
            str(config.slots),
        ]
    if name == "celery-worker":
        return [
            AIRFLOW,
            "celery",
            "worker",
            "--celery-hostname",
            config.worker_name,
            "--queues",
            config.queue,
            "--concurrency",
            str(config.worker_concurrency),
            # Other workers may share the Redis server: no start-up sync or gossip with them.
            "--without-mingle",
            "--without-gossip",
        ]
    return [AIRFLOW, name]


def stack_env(config: StackConfig) -> dict[str, str]:
    """The environment of every component: docker-compose.yaml's x-airflow-common, on this machine."""
    from intacct.state import db
    from sandbox.intacct_gateway.server import GatewayServer

    env = dict(os.environ)
    secret_cmd = {name: f"cat {shlex.quote(str(config.secrets / name))}" for name in SECRETS}
    gateway = GatewayServer(
        port=config.sandbox_port, seed=config.sandbox_seed, customers=config.sandbox_customers
    )  # not started: it only says what connection reaches the sandbox process on that port
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', os.defpath)}",
            # Plain `python` imports `intacct` too, as in compose.
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "plugins"), env.get("PYTHONPATH")) if p),
            "PYTHONUNBUFFERED": "1",  # each log line reaches the component's log file as it is written
            "AIRFLOW_HOME": str(config.airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": config.database_url(config.airflow_db),
            # Airflow would derive asyncpg, which the lock does not have; psycopg 3 is async itself.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": config.database_url(
                config.airflow_db, driver="postgresql+psycopg_async"
            ),
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + config.database_url(config.airflow_db),
            "AIRFLOW__CELERY__BROKER_URL": config.redis_url,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": config.queue,
            "AIRFLOW__CORE__FERNET_KEY_CMD": secret_cmd["fernet_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET_CMD": secret_cmd["jwt_secret"],
            "AIRFLOW__API__SECRET_KEY_CMD": secret_cmd["api_secret_key"],
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.api_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(config.api_port),
            "AIRFLOW__API__BASE_URL": config.api_url,
            "AIRFLOW__API__WORKERS": "1",  # two cores: one API worker process is plenty here
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(config.worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(config.triggerer_log_port),
            "INTACCT_API_SLOTS": str(config.slots),
            "FORECAST_TARGET": "sql",
            "AIRFLOW_CONN_INTACCT_DEFAULT": json.dumps(
                gateway.airflow_connection(slots=config.slots, retry_max_total=60)
            ),
            "AIRFLOW_CONN_INTACCT_STATE_DB": json.dumps(config.state_db_connection()),
            "AIRFLOW_CONN_FORECAST_DB": json.dumps(
                {"conn_type": "sqlite", "host": str(config.airflow_home / db.FORECAST_DB_FILE)}
            ),
        }
    )
    return env


@dataclass(frozen=True)
class ProcessRecord:
    """What `pids/<name>.json` says: enough to find the very process again, never a reused pid."""

    name: str
    pid: int
    create_time: float
    stop_signal: int = signal.SIGTERM

    @classmethod
    def of(cls, name: str, pid: int, stop_signal: int = signal.SIGTERM) -> ProcessRecord:
        return cls(name, pid, psutil.Process(pid).create_time(), stop_signal)

    def process(self) -> psutil.Process | None:
        """The recorded process while it runs; None once it has exited (a zombie counts as exited)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.5 or proc.status() == psutil.STATUS_ZOMBIE:
                return None
        except psutil.Error:
            return None
        return proc


def airflow_home(home: Path) -> Path:
    return home / "airflow"


def passwords_path(home: Path) -> Path:
    """Where the simple auth manager writes the admin password when the API server first starts."""
    return airflow_home(home) / "simple_auth_manager_passwords.json.generated"


def record_path(home: Path, name: str) -> Path:
    return home / "pids" / f"{name}.json"


def log_path(home: Path, name: str) -> Path:
    """Where a component's output goes (stdout and stderr, appended on every start)."""
    return home / "logs" / f"{name}.log"


def read_record(home: Path, name: str) -> ProcessRecord | None:
    path = record_path(home, name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ProcessRecord(data["name"], data["pid"], data["create_time"], data["stop_signal"])
    except (OSError, ValueError, KeyError):
        return None


def write_record(home: Path, record: ProcessRecord) -> None:
    path = record_path(home, record.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.__dict__) + "\n", encoding="utf-8")


def running(home: Path, name: str) -> ProcessRecord | None:
    record = read_record(home, name)
    return record if record and record.process() else None


def start_component(config: StackConfig, name: str, env: dict[str, str]) -> ProcessRecord:
    config.logs.mkdir(parents=True, exist_ok=True)
    with log_path(config.home, name).open("ab") as log:
        log.write(f"\n{START_MARK} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        log.flush()
        # A session of its own: Ctrl-C in the terminal that ran `make stack` does not reach it.
        proc = subprocess.Popen(
            component_argv(config, name),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    record = ProcessRecord.of(name, proc.pid)
    write_record(config.home, record)
    return record


def _wait_gone(procs: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; returns those still running after `timeout`."""
    left = list(procs)
    deadline = time.monotonic() + timeout
    while left:
        left = [p for p in left if _alive(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return left


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_process(record: ProcessRecord, timeout: float = STOP_TIMEOUT_S) -> bool:
    """Signal the recorded process, wait for it and for the children it had; True when all are gone.

    Only the recorded pid gets the stop signal, so it shuts down its own children the way it means to
    (Celery's warm shutdown, uvicorn's workers); children left behind then get SIGTERM, and SIGKILL last.
    PostgreSQL is never killed: it is left running, and said so, rather than risk its data.
    """
    proc = record.process()
    if proc is None:
        return True
    try:
        children = proc.children(recursive=True)
        proc.send_signal(record.stop_signal)
    except psutil.Error:
        return True
    if _wait_gone([proc], timeout) and record.name != "postgresql":
        proc.kill()
        _wait_gone([proc], 10)
    orphans = [p for p in children if _alive(p)]
    for child in orphans:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    for child in _wait_gone(orphans, 10):
        with contextlib.suppress(psutil.Error):
            child.kill()
    return not _wait_gone([proc, *orphans], 5)


# -- PostgreSQL and Redis: used where they run, started from Debian's packages where they do not ---------


def _loopback(host: str | None) -> bool:
    return host in (None, "", "127.0.0.1", "localhost", "::1")


def _postgres_answers(url: str) -> bool:
    from intacct.state import db

    engine = db.open_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def ensure_postgres(config: StackConfig) -> None:
    server = config.database_url(make_url(config.pg_url).database or "postgres")
    if _postgres_answers(server):
        return
    url = make_url(config.pg_url)
    where = f"{url.host or '127.0.0.1'}:{url.port or 5432}"
    missing = (
        f"PostgreSQL is not answering on {where} and could not be started: install Debian's postgresql "
        "package (apt-get install postgresql, its cluster listens on 127.0.0.1:5432) or pass --pg-url "
        "for a running server"
    )
    if not (_loopback(url.host) and (url.port or 5432) == 5432):
        raise StackError(missing)
    print(f"PostgreSQL is not answering on {where}: starting Debian's cluster (scripts/ensure_postgres.sh)")
    done = subprocess.run(
        [str(REPO / "scripts" / "ensure_postgres.sh")],
        env={**os.environ, "PGHOST_TEST": url.host or "127.0.0.1", "PGPORT_TEST": str(url.port or 5432)},
        check=False,
    )
    if done.returncode != 0 or not _postgres_answers(server):
        raise StackError(missing)
    from intacct.state import db

    engine = db.open_engine(server)
    try:
        with engine.connect() as connection:
            data_dir = connection.scalar(text("SHOW data_directory"))
        # The postmaster's pid is the first line of its pid file; SIGINT is pg_ctl's default "fast" stop.
        pid = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
        write_record(config.home, ProcessRecord.of("postgresql", pid, signal.SIGINT))
    except Exception as error:  # the role may not read the setting or the file: the server still works
        print(f"PostgreSQL started; its pid is unknown ({error}), so `make stack-stop` leaves it running")
    finally:
        engine.dispose()


def _redis_server_pid(url: str) -> int | None:
    import redis

    try:
        return int(redis.Redis.from_url(url, socket_timeout=2).info("server")["process_id"])
    except (redis.RedisError, OSError):
        return None


def ensure_redis(config: StackConfig) -> None:
    if _redis_server_pid(config.redis_url) is not None:
        return
    url = urlsplit(config.redis_url)
    where = f"{url.hostname or '127.0.0.1'}:{url.port or 6379}"
    debian_service = Path("/etc/init.d/redis-server")  # it listens on 127.0.0.1:6379
    if not (_loopback(url.hostname) and (url.port or 6379) == 6379 and debian_service.exists()):
        raise StackError(
            f"Redis is not answering on {where} and could not be started: install Debian's redis-server "
            "package (apt-get install redis-server, it listens on 127.0.0.1:6379) or pass --redis-url for "
            "a running server"
        )
    print(f"Redis is not answering on {where}: starting Debian's redis-server service")
    subprocess.run(["service", "redis-server", "start"], check=False)
    for _ in range(30):
        pid = _redis_server_pid(config.redis_url)
        if pid is not None:
            write_record(config.home, ProcessRecord.of("redis", pid))
            return
        time.sleep(1)
    raise StackError(f"the redis-server service started but Redis does not answer on {where}")


# -- set-up: secrets, databases, migrations, the pool (each step idempotent) ------------------------------


def ensure_secrets(config: StackConfig) -> None:
    """The Fernet key, JWT secret and API secret key, generated once (as docker-compose's init does): a
    new Fernet key would make stored connections unreadable, a JWT secret that differs between components
    fails the worker's calls to the Execution API."""
    config.secrets.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in SECRETS:
        path = config.secrets / name
        if path.exists() and path.stat().st_size:
            continue
        # 32 random bytes, urlsafe base64: a valid Fernet key and a strong HMAC secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(base64.urlsafe_b64encode(os.urandom(32)).decode())


def ensure_databases(config: StackConfig) -> None:
    from intacct.state import db

    server = db.open_engine(config.database_url(make_url(config.pg_url).database or "postgres"))
    try:
        with server.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            for name in (config.airflow_db, config.state_db):
                exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
                if exists is None:
                    connection.execute(text('CREATE DATABASE "' + name.replace('"', '""') + '"'))
                    print(f"created database {name}")
    finally:
        server.dispose()


def run_airflow(config: StackConfig, env: dict[str, str], *args: str) -> None:
    config.logs.mkdir(parents=True, exist_ok=True)
    with (config.logs / "setup.log").open("ab") as log:
        log.write(f"\n$ airflow {' '.join(args)}\n".encode())
        log.flush()
        done = subprocess.run(
            [AIRFLOW, *args], check=False, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        raise StackError(f"`airflow {' '.join(args)}` failed; see {config.logs / 'setup.log'}")


def set_up(config: StackConfig, env: dict[str, str]) -> None:
    from intacct.airflow import defaults as dag_defaults
    from intacct.forecast.sql import ensure_forecast_schema
    from intacct.state import db, migrations

    ensure_secrets(config)
    ensure_postgres(config)
    ensure_redis(config)
    ensure_databases(config)
    print("migrating Airflow's database …", flush=True)
    run_airflow(config, env, "db", "migrate")
    state = db.open_engine(config.database_url(config.state_db))
    try:
        print(f"state database {db.describe(str(state.url))} at revision {migrations.upgrade(state)}")
    finally:
        state.dispose()
    forecast = db.open_engine(f"sqlite:///{config.airflow_home / db.FORECAST_DB_FILE}")
    try:
        ensure_forecast_schema(forecast)
    finally:
        forecast.dispose()
    run_airflow(
        config,
        env,
        "pools",
        "set",
        dag_defaults.INTACCT_POOL,
        str(config.slots),
        "Intacct API concurrency (the company's slots)",
    )


# -- start, wait, stop ------------------------------------------------------------------------------------


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _check_ports(config: StackConfig, missing: list[str]) -> None:
    ports = {
        SANDBOX: [("--sandbox-port", config.sandbox_port)],
        "api-server": [("--api-port", config.api_port)],
        "celery-worker": [("--worker-log-port", config.worker_log_port)],
        "triggerer": [("--triggerer-log-port", config.triggerer_log_port)],
    }
    busy = [
        f"{port} ({option})" for name in missing for option, port in ports.get(name, []) if _port_in_use(port)
    ]
    if busy:
        raise StackError(
            f"ports in use by another program: {', '.join(busy)} (is `make airflow` or another stack "
            "running?); pass other ports"
        )


def _log_tail(config: StackConfig, name: str, lines: int = 12) -> str:
    """The end of this start's part of a component's log, and the first error in it (a traceback's end
    often names only the error it caused)."""
    try:
        content = log_path(config.home, name).read_text(errors="replace")
    except OSError:
        return "(no log)"
    this_start = content.rsplit(START_MARK, 1)[-1].splitlines()
    first_error = next((line for line in this_start if re.match(r"[\w.]+(Error|Exception): ", line)), None)
    tail = "\n".join(this_start[-lines:])
    return f"{tail}\nfirst error: {first_error}" if first_error and first_error not in tail else tail


def _not_ready(config: StackConfig) -> list[str]:
    """The components that are not serving yet, judged the way their compose healthchecks do."""
    import requests
    from celery import Celery

    waiting = []
    try:
        health = requests.get(f"{config.api_url}/api/v2/monitor/health", timeout=5).json()
        for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
            if (health.get(part) or {}).get("status") != "healthy":
                waiting.append(part.replace("_", "-"))
    except (requests.RequestException, ValueError):
        waiting.append("api-server")
    app = Celery(broker=config.redis_url)
    try:
        if not app.control.ping(destination=[config.worker_name], timeout=1.0):
            waiting.append("celery-worker")
    except Exception:  # the broker's errors are many; any of them means "not ready yet"
        waiting.append("celery-worker")
    finally:
        app.close()
    return waiting


def wait_until_ready(config: StackConfig, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = ["api-server"]
    while time.monotonic() < deadline:
        for name in (SANDBOX, *AIRFLOW_COMPONENTS):
            if running(config.home, name) is None:
                raise StackError(
                    f"{name} exited while starting; its log ends with:\n{_log_tail(config, name)}"
                )
        waiting = _not_ready(config)
        if not waiting:
            return
        time.sleep(2)
    raise StackError(f"not ready after {timeout:.0f} s: {', '.join(waiting)} (logs in {config.logs})")


def start(config: StackConfig, ready_timeout: float) -> int:
    names = [SANDBOX, *AIRFLOW_COMPONENTS]
    missing = [name for name in names if running(config.home, name) is None]
    for name in names:
        if name not in missing:
            print(f"{name}: already running (pid {running(config.home, name).pid})")
    started: list[str] = []
    try:
        if missing:
            _check_ports(config, missing)
            env = stack_env(config)
            set_up(config, env)
            for name in missing:
                record = start_component(config, name, env)
                started.append(name)
                print(f"{name}: started (pid {record.pid}, log {log_path(config.home, name)})")
        print("waiting for every component to report healthy …", flush=True)
        wait_until_ready(config, ready_timeout)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        for name in reversed(started):
            record = read_record(config.home, name)
            if record and stop_process(record):
                record_path(config.home, name).unlink(missing_ok=True)
        if started:
            print(f"stopped what this run started: {', '.join(started)}", file=sys.stderr)
        return 1
    print(f"\nAirflow UI: {config.api_url}")
    print(f"  user {ADMIN_USER}, password in {config.passwords_file}")
    print(f"Sandbox Intacct gateway: http://127.0.0.1:{config.sandbox_port}/ia/xml/xmlgw.phtml")
    print(f"Logs: {config.logs}/<component>.log; task logs under {config.airflow_home / 'logs'}")
    print("Stop: make stack-stop")
    return 0


STOP_ORDER = tuple(reversed((SANDBOX, *AIRFLOW_COMPONENTS)))


def stop(home: Path) -> int:
    """Stop every process `start` recorded under `home`, newest layer first; PostgreSQL and Redis only
    when `start` was the one that started them (only then is there a record)."""
    failed = []
    for name in (*STOP_ORDER, "redis", "postgresql"):
        record = read_record(home, name)
        if record is None:
            continue
        if record.process() is None:
            print(f"{name}: not running")
        elif stop_process(record):
            print(f"{name}: stopped (pid {record.pid})")
        else:
            print(f"{name}: still running (pid {record.pid})", file=sys.stderr)
            failed.append(name)
            continue
        record_path(home, name).unlink(missing_ok=True)
    return 1 if failed else 0


def status(home: Path) -> int:
    names = ("postgresql", "redis", SANDBOX, *AIRFLOW_COMPONENTS)
    down = 0
    for name in names:
        record = read_record(home, name)
        if record is None and name in ("postgresql", "redis"):
            continue  # not started by the stack
        alive = record is not None and record.process() is not None
        down += not alive
        print(f"{name}: {'running (pid ' + str(record.pid) + ')' if alive else 'not running'}")
    return 1 if down else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/stack.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command",
        choices=("start", "stop", "status"),
        help="start what is not running; stop what start started; list what start started",
    )
    parser.add_argument(
        "--home", type=Path, default=DEFAULT_HOME, help=f"the stack's folder ({DEFAULT_HOME})"
    )
    parser.add_argument("--api-port", type=int, default=8080, help="Airflow's API server and UI (8080)")
    parser.add_argument("--sandbox-port", type=int, default=18991, help="the sandbox Intacct gateway (18991)")
    parser.add_argument("--worker-log-port", type=int, default=18793, help="the worker's log server (18793)")
    parser.add_argument("--triggerer-log-port", type=int, default=18794, help="the triggerer's log server")
    parser.add_argument(
        "--pg-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server (any database on it); the stack's databases are created there",
    )
    parser.add_argument("--airflow-db", default="airflow_stack", help="Airflow's metadata database")
    parser.add_argument("--state-db", default="intacct_stack", help="our state database")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0", help="the Celery broker")
    parser.add_argument("--queue", default="default", help="the Celery queue the worker serves")
    parser.add_argument(
        "--slots", type=int, help="the intacct_api pool's slots and the tasks' INTACCT_API_SLOTS (2)"
    )
    parser.add_argument("--worker-concurrency", type=int, default=4, help="task processes of the worker")
    parser.add_argument("--sandbox-seed", type=int, default=42, help="the sandbox company's seed")
    parser.add_argument("--sandbox-customers", type=int, default=1200, help="the sandbox's customers")
    parser.add_argument("--ready-timeout", type=float, default=240, help="seconds to wait for health")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    home = args.home.resolve()
    if args.command == "stop":
        return stop(home)
    if args.command == "status":
        return status(home)
    from intacct.airflow import defaults as dag_defaults

    config = StackConfig(
        home=home,
        api_port=args.api_port,
        sandbox_port=args.sandbox_port,
        worker_log_port=args.worker_log_port,
        triggerer_log_port=args.triggerer_log_port,
        pg_url=args.pg_url,
        airflow_db=args.airflow_db,
        state_db=args.state_db,
        redis_url=args.redis_url,
        queue=args.queue,
        slots=args.slots or dag_defaults.INTACCT_SLOTS,
        worker_concurrency=args.worker_concurrency,
        sandbox_seed=args.sandbox_seed,
        sandbox_customers=args.sandbox_customers,
    )
    return start(config, args.ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
