"""docker-compose.yaml, the Dockerfile and .env.example, checked without a container engine.

No Docker runs where these tests run, so they read the files the way compose and docker build would: the
services, their commands and environment, the mounts, the COPY sources, the secrets that must not be
there, and the environment variables the product's code reads. The last test runs the init service's
script for real, outside a container, against SQLite (Airflow) and PostgreSQL (our state database).
"""

from __future__ import annotations

import ast
import json
import math
import re
import shlex
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from intacct.airflow import connections
from intacct.airflow import defaults as dag_defaults
from intacct.airflow.forecast_hook import ForecastHook
from intacct.airflow.hooks import IntacctHook
from intacct.state import db, migrations, sql_files
from sandbox.forecast_api import __main__ as forecast_main
from sandbox.forecast_api.keys import DEFAULT_API_KEY
from sandbox.intacct_gateway import __main__ as gateway_main
from sandbox.intacct_gateway.gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD
from sandbox.intacct_gateway.generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD
from sandbox.intacct_gateway.store import DEFAULT_COMPANY_ID

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"
DEPLOYMENT_DOC = REPO / "docs" / "deployment.md"
DOC_SECTION = "docker-compose (validated, not run here)"
CODE_ROOTS = ("plugins", "dags", "scripts", "sandbox")

REQUIRED_SERVICES = (
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
)
# What each long-running Airflow service runs (the image's entrypoint also accepts them without `airflow`).
AIRFLOW_COMMANDS = {
    "airflow-apiserver": ["airflow", "api-server"],
    "airflow-scheduler": ["airflow", "scheduler"],
    "airflow-dag-processor": ["airflow", "dag-processor"],
    "airflow-triggerer": ["airflow", "triggerer"],
    "airflow-worker": ["airflow", "celery", "worker"],
}
SANDBOX_SERVICES = {"intacct-sandbox": "sandbox.intacct_gateway", "forecast-sandbox": "sandbox.forecast_api"}

# Variables the code reads that compose leaves unset on purpose, each with why that is safe.
DEFAULTED = {
    "AIRFLOW_HOME": "the apache/airflow base image sets it (/opt/airflow); only the embedded SQLite "
    "defaults live under it, and the init defines intacct_state_db so production never uses them",
    "INTACCT_INCLUDE_DIR": "the image puts include/ beside plugins/, which is where "
    "intacct.state.sql_files looks when it is unset",
    "INTACCT_WRITER_PROCESSES": "unset means ExtractOptions.writers; compose cannot pass an optional "
    "variable through unset, and an empty value is refused by the worker",
}
# Literal secrets that may be committed, and where. None: anywhere; "sandbox": only in a sandbox service.
ALLOWED_SECRETS = {
    "airflow": None,  # the documented local PostgreSQL default (.env.example, docs/deployment.md)
    DEFAULT_USER_PASSWORD: "sandbox",  # the stand-ins' documented credentials (docs/sandbox.md)
    DEFAULT_SENDER_PASSWORD: "sandbox",
    DEFAULT_API_KEY: "sandbox",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|API_?KEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE)
LOCATION_NAME = re.compile(r"_(DIR|FILE|PATH)$", re.IGNORECASE)  # where secrets are, not a secret
FERNET_LIKE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=")
TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
URL_PASSWORD = re.compile(r"://[^/@\s:]*:(?P<password>[^@\s]+)@")
_INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?", re.DOTALL)


# -- reading the files the way compose and docker build do ---------------------------------------------


class UnsetVariable(LookupError):
    pass


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """What compose makes of a string: `$$` is `$`; `${VAR}`, `$VAR`, `${VAR:-default}`, `${VAR-default}`
    and `${VAR:?message}` are read from `env` (the shell and `.env`)."""

    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        spec = _BRACED.fullmatch(match.group("braced") or match.group("bare"))
        name, op, arg = spec.group("name"), spec.group("op"), spec.group("arg") or ""
        present = env.get(name)
        if op == ":-":
            return present or arg
        if op == "-":
            return arg if present is None else present
        if op in (":?", "?") and not present:
            raise UnsetVariable(f"{name}: {arg}")
        if op in (":+", "+"):
            return arg if present else ""
        return present or ""

    return _INTERPOLATION.sub(one, value)


def variables_used(value: str) -> list[tuple[str, str | None]]:
    """The (name, default) of every variable compose interpolates in `value` (not the `$$` escapes)."""
    found = []
    for match in _INTERPOLATION.finditer(value):
        if match.group(0) == "$$":
            continue
        spec = _BRACED.fullmatch(match.group("braced") or match.group("bare"))
        default = spec.group("arg") if spec.group("op") in (":-", "-") else None
        found.append((spec.group("name"), default))
    return found


def strings(node: object, path: tuple = ()) -> Iterator[tuple[tuple, str | None, str]]:
    """Every string value of a parsed YAML document with its path and the mapping key it sits under."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings(value, (*path, index))
    elif node is not None:
        key = path[-1] if path and isinstance(path[-1], str) else None
        yield path, key, str(node)


def environment(service: Mapping) -> dict[str, str]:
    """A service's environment as a mapping (compose also accepts a list of KEY=VALUE)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def bind_mount_sources(services: Mapping[str, Mapping]) -> Iterator[tuple[str, str]]:
    """(service, host path) of every bind mount, in the short (`./x:/y:ro`) and the long syntax."""
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, Mapping):
                if volume.get("type") == "bind":
                    yield name, interpolate(str(volume["source"]), {})
                continue
            source = interpolate(str(volume), {}).split(":", 1)[0]
            if source.startswith((".", "/", "~")):
                yield name, source


def named_volumes(services: Mapping[str, Mapping]) -> Iterator[tuple[str, str]]:
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            source = volume.get("source") if isinstance(volume, Mapping) else str(volume).split(":", 1)[0]
            kind = volume.get("type", "volume") if isinstance(volume, Mapping) else None
            if source and kind in (None, "volume") and not str(source).startswith((".", "/", "~", "$")):
                yield name, str(source)


def missing_bind_sources(services: Mapping[str, Mapping], root: Path) -> list[str]:
    return [
        f"service {name} bind-mounts {source}, which is not in the repository"
        for name, source in bind_mount_sources(services)
        if not (root / source).expanduser().exists()
    ]


def dockerfile_instructions(source: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments left out."""
    instructions, pending = [], ""
    for line in source.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def shannon_bits(token: str) -> float:
    counts = Counter(token)
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())


def looks_random(token: str) -> bool:
    return (
        shannon_bits(token) > 4.0
        and any(c.isdigit() for c in token)
        and any(c.isalpha() for c in token)
        and not re.fullmatch(r"[a-z0-9_./-]+", token)  # a lower-case path or dotted name, not a key
    )


def secret_problems(
    documents: Mapping[str, object], raw_texts: Mapping[str, str], allowed: Mapping[str, str | None]
) -> list[str]:
    """Secret-looking literals: a value under a secret-like name, a password in a URL or a connection's JSON,
    a secret-like variable's default, or anything shaped like a Fernet key or a random token."""
    problems: list[str] = []

    def check_literal(where: str, what: str, value: str, service_profiles: list[str]) -> None:
        if value in ("", None):
            return
        if value not in allowed:
            problems.append(f"{where}: {what} is a literal secret {value[:4]}…; read it from the environment")
        elif allowed[value] is not None and allowed[value] not in service_profiles:
            problems.append(
                f"{where}: {what} is the {allowed[value]} default, outside a {allowed[value]} service"
            )

    for document, tree in documents.items():
        for path, key, value in strings(tree):
            where = f"{document}: {'.'.join(map(str, path))}"
            profiles = []
            if len(path) > 1 and path[0] == "services" and isinstance(tree, Mapping):
                profiles = list(tree["services"][path[1]].get("profiles") or [])
            for name, default in variables_used(value):
                if SECRET_NAME.search(name) and not LOCATION_NAME.search(name) and default:
                    check_literal(where, f"the default of ${{{name}}}", default, profiles)
            if key and SECRET_NAME.search(key) and not LOCATION_NAME.search(key):
                if key.endswith("_CMD"):
                    if not re.fullmatch(r"cat /\S+", value):
                        problems.append(f"{where}: {key} must read a file (`cat /path`), not {value[:12]}…")
                else:
                    literal = _INTERPOLATION.sub("", value).strip()
                    check_literal(where, key, literal, profiles)
            # Interpolations become a NUL each (their defaults are checked above), so `${A:-x}` reads as one part.
            masked = _INTERPOLATION.sub(lambda m: "$" if m.group(0) == "$$" else "\0", value)
            for match in URL_PASSWORD.finditer(masked):
                check_literal(
                    where, "the URL's password", match.group("password").replace("\0", ""), profiles
                )
            if value.lstrip().startswith("{"):
                try:
                    blob = json.loads(interpolate(value, {}))
                except (json.JSONDecodeError, UnsetVariable):
                    blob = None
                for _, inner_key, inner in strings(blob):
                    if inner_key and SECRET_NAME.search(inner_key):
                        check_literal(where, f"{inner_key} in its JSON", inner, profiles)
    for document, raw in raw_texts.items():
        for match in FERNET_LIKE.finditer(raw):
            problems.append(f"{document}: {match.group(0)[:6]}… has the shape of a Fernet key")
        for match in TOKEN_LIKE.finditer(raw):
            if looks_random(match.group(0)) and not FERNET_LIKE.fullmatch(match.group(0)):
                problems.append(f"{document}: {match.group(0)[:6]}… looks like a random secret token")
    return problems


_ENVIRON = ("os.environ", "environ")
_GETTERS = ("os.environ.get", "os.getenv", "environ.get", "getenv")


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _variable_name_node(node: ast.AST) -> ast.AST | None:
    """The expression naming the variable when `node` reads the environment, else None."""
    if isinstance(node, ast.Call) and node.args and _dotted(node.func) in _GETTERS:
        return node.args[0]
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _dotted(node.value) in _ENVIRON:
        return node.slice
    if (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.ops[0], ast.In | ast.NotIn)
        and _dotted(node.comparators[0]) in _ENVIRON
    ):
        return node.left
    return None


def environment_reads(roots: Iterable[Path]) -> tuple[dict[str, list[str]], list[str]]:
    """The environment variables the code reads by name: `os.environ[...]`, `os.environ.get(...)`,
    `os.getenv(...)` and `... in os.environ`, with a literal or a module-level string constant as the name.
    Returns {name: [file:line, ...]} and the reads whose name cannot be told from the code."""
    reads: dict[str, list[str]] = {}
    unknown: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            constants = {
                target.id: node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for node in ast.walk(tree):
                name_node = _variable_name_node(node)
                if name_node is None:
                    continue
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
                    reads.setdefault(name_node.value, []).append(where)
                elif isinstance(name_node, ast.Name) and name_node.id in constants:
                    reads.setdefault(constants[name_node.id], []).append(where)
                else:
                    unknown.append(where)
    return reads, unknown


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    assert COMPOSE.is_file(), f"{COMPOSE.name} is missing at the repository root"
    try:
        parsed = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        pytest.fail(f"{COMPOSE.name} is not valid YAML: {exc}", pytrace=False)
    assert isinstance(parsed, dict) and isinstance(parsed.get("services"), dict), (
        f"{COMPOSE.name} has no `services` mapping"
    )
    return parsed


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def airflow_services(compose, services) -> dict[str, dict]:
    """The services that run the pipeline's Airflow image (the x-airflow-common anchor's)."""
    image = compose["x-airflow-common"]["image"]
    return {name: s for name, s in services.items() if s.get("image") == image}


@pytest.fixture(scope="module")
def init_script(services) -> str:
    command = services["airflow-init"].get("command")
    assert isinstance(command, list) and command[:2] == ["bash", "-c"] and len(command) == 3, (
        f"airflow-init's command should be [bash, -c, <script>], got {command!r}"
    )
    return command[2]


@pytest.fixture(scope="module")
def stages() -> dict[str, list[tuple[str, str]]]:
    """The Dockerfile's instructions per build stage (the stage's name, or its index)."""
    assert DOCKERFILE.is_file(), "Dockerfile is missing at the repository root"
    result: dict[str, list[tuple[str, str]]] = {}
    current = None
    for keyword, arguments in dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "FROM":
            parts = arguments.split()
            current = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else str(len(result))
            result[current] = []
        assert current is not None, f"Dockerfile: {keyword} before the first FROM"
        result[current].append((keyword, arguments))
    return result


# -- compose: services, commands, dependencies -----------------------------------------------------------


def test_every_required_service_exists_with_an_image_or_a_build(services):
    missing = [name for name in REQUIRED_SERVICES if name not in services]
    assert not missing, f"{COMPOSE.name} lacks the services {missing}"
    unnamed = [n for n, s in services.items() if not (s.get("image") or s.get("build"))]
    assert not unnamed, f"services without an image or a build: {unnamed}"


def test_airflow_services_run_the_pipeline_image_with_their_commands(services, airflow_services, stages):
    for name, command in AIRFLOW_COMMANDS.items():
        assert name in airflow_services, f"{name} does not use the x-airflow-common image"
        assert services[name].get("command") == command, (
            f"{name} runs {services[name].get('command')!r}, expected {command!r}"
        )
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "airflow-init" in airflow_services, "airflow-init does not use the x-airflow-common image"
    for name, service in services.items():
        build = service.get("build")
        if isinstance(build, Mapping) and build.get("target"):
            assert build["target"] in stages, (
                f"{name} builds the Dockerfile target {build['target']!r}; the stages are {sorted(stages)}"
            )


def test_dependencies_wait_for_health_and_for_the_init(services):
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, Mapping), f"{name}: depends_on should name a condition for each service"
        for other, rule in depends.items():
            assert other in services, f"{name} depends on {other}, which is not a service"
            condition = (rule or {}).get("condition")
            if condition == "service_healthy":
                assert services[other].get("healthcheck"), (
                    f"{name} waits for {other} to be healthy; it has no healthcheck"
                )
            assert set(services[other].get("profiles") or []) <= set(service.get("profiles") or []), (
                f"{name} depends on {other}, which only runs in the profiles {services[other]['profiles']}"
            )
    for name in (*AIRFLOW_COMMANDS, "airflow-init"):
        depends = services[name].get("depends_on") or {}
        for infra in ("postgres", "redis"):
            assert depends.get(infra, {}).get("condition") == "service_healthy", (
                f"{name} should wait for {infra} to be healthy"
            )
    for name in AIRFLOW_COMMANDS:
        condition = services[name]["depends_on"].get("airflow-init", {}).get("condition")
        assert condition == "service_completed_successfully", (
            f"{name} should start only after airflow-init completed successfully (condition is {condition!r})"
        )


def test_celery_executor_with_redis_broker_and_postgres_backends(services, airflow_services):
    for name in airflow_services:
        env = {k: interpolate(v, {}) for k, v in environment(services[name]).items()}
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", (
            f"{name}: the executor is not CeleryExecutor"
        )
        broker = urlsplit(env.get("AIRFLOW__CELERY__BROKER_URL", ""))
        assert broker.scheme == "redis" and broker.hostname in services and broker.hostname == "redis", (
            f"{name}: the Celery broker should be the redis service, got {env.get('AIRFLOW__CELERY__BROKER_URL')!r}"
        )
        for key, prefix in (
            ("AIRFLOW__CELERY__RESULT_BACKEND", "db+"),
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", ""),
        ):
            value = env.get(key, "")
            assert value.startswith(prefix), f"{name}: {key} should start with {prefix!r}, got {value[:20]!r}"
            url = make_url(value.removeprefix(prefix))
            assert url.get_backend_name() == "postgresql" and url.host == "postgres", (
                f"{name}: {key} should point at the postgres service, got {url.render_as_string()}"
            )
            # psycopg 3 is the driver the lock pins; the base image's psycopg2 is not ours to rely on.
            assert url.get_driver_name() == "psycopg", f"{name}: {key} should use the psycopg driver"
        # Without it Airflow derives an asyncpg URL, and the lock has no asyncpg.
        async_url = make_url(env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC", "sqlite://"))
        assert async_url.drivername == "postgresql+psycopg_async" and async_url.host == "postgres", (
            f"{name}: AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC should be postgresql+psycopg_async on postgres"
        )
        assert env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "").startswith(
            "http://airflow-apiserver:"
        ), f"{name}: workers reach the Execution API through the airflow-apiserver service"
    # The image installs the lock, so the executor and its broker's client must be pinned there.
    lock = (REPO / "requirements.txt").read_text(encoding="utf-8")
    for package in ("apache-airflow-providers-celery", "celery", "redis"):
        assert re.search(rf"^{package}==", lock, re.MULTILINE), f"requirements.txt does not pin {package}"
    # ...and load together: celery 5.7 broke the provider's import, which no version check sees.
    from airflow.providers.celery.executors.celery_executor import CeleryExecutor  # noqa: F401


def test_every_airflow_service_reads_the_same_generated_secrets(services, airflow_services):
    from airflow.configuration import conf

    init_env = environment(services["airflow-init"])
    secrets_dir = init_env.get("AIRFLOW_SECRETS_DIR")
    assert secrets_dir, "airflow-init should say where it writes the secrets (AIRFLOW_SECRETS_DIR)"
    expected = {
        "AIRFLOW__CORE__FERNET_KEY_CMD": f"cat {secrets_dir}/fernet_key",
        "AIRFLOW__API_AUTH__JWT_SECRET_CMD": f"cat {secrets_dir}/jwt_secret",
        "AIRFLOW__API__SECRET_KEY_CMD": f"cat {secrets_dir}/api_secret_key",
    }
    for variable in expected:
        section, key = variable.removeprefix("AIRFLOW__").removesuffix("_CMD").lower().split("__")
        # Airflow honours a `_CMD` variant only for the options it marks sensitive.
        assert (section, key) in conf.sensitive_config_values, f"Airflow does not read {variable}"
    for name in airflow_services:
        env = environment(services[name])
        for variable, command in expected.items():
            assert env.get(variable) == command, (
                f"{name}: {variable} is {env.get(variable)!r}, expected {command!r}"
            )
            plain = variable.removesuffix("_CMD")
            assert plain not in env, f"{name} sets {plain} itself: the generated file would be ignored"
        mounts = [str(v).split(":") for v in services[name].get("volumes") or []]
        assert any(m[0] == "airflow-secrets" and m[1] == secrets_dir for m in mounts), (
            f"{name} does not mount the airflow-secrets volume at {secrets_dir}"
        )


def test_volumes_are_declared_and_bind_mounts_exist(compose, services):
    declared = set(compose.get("volumes") or {})
    undeclared = sorted({f"{svc}: {vol}" for svc, vol in named_volumes(services) if vol not in declared})
    assert not undeclared, f"named volumes not declared under top-level `volumes`: {undeclared}"
    problems = missing_bind_sources(services, REPO)
    assert not problems, "\n".join(problems)


def test_the_bind_mount_check_names_a_missing_path():
    synthetic = {"worker": {"volumes": ["./dags:/opt/airflow/dags", "./no-such-dir:/x:ro", "logs:/y"]}}
    assert missing_bind_sources(synthetic, REPO) == [
        "service worker bind-mounts ./no-such-dir, which is not in the repository"
    ]


# -- the init service -------------------------------------------------------------------------------------


def test_init_migrates_both_databases_and_creates_the_pool_and_connections(services, init_script):
    lines = [line.strip() for line in init_script.splitlines()]

    def first(pattern: str) -> int:
        for number, line in enumerate(lines):
            if re.search(pattern, line):
                return number
        pytest.fail(f"airflow-init's script has no line matching {pattern!r}", pytrace=False)

    airflow_migrate = first(r"^airflow db migrate$")
    state_migrate = first(r"migrations\.upgrade\(")
    state_connection = first(rf"^ensure_connection {connections.STATE_DB_CONN_ID} ")
    pool = re.search(r"^airflow pools set (\S+) \"\$\$INTACCT_API_SLOTS\"", init_script, re.MULTILINE)
    assert pool and pool.group(1) == dag_defaults.INTACCT_POOL, (
        f"airflow-init should create the pool {dag_defaults.INTACCT_POOL!r} with $INTACCT_API_SLOTS slots"
    )
    assert airflow_migrate < state_connection < state_migrate, (
        "airflow-init should migrate Airflow's database, then define intacct_state_db, then migrate ours"
    )
    function = re.search(r"ensure_connection\(\) \{(.*?)\n\}", init_script, re.DOTALL)
    assert function and "airflow connections add" in function.group(1), (
        "ensure_connection should create a missing connection with `airflow connections add`"
    )
    ensured = set(re.findall(r"^\s*ensure_connection (\w+)", init_script, re.MULTILINE))
    needed = {connections.STATE_DB_CONN_ID, IntacctHook.default_conn_name}
    assert needed <= ensured, f"airflow-init does not create the connections {sorted(needed - ensured)}"
    forecast = {ForecastHook.default_conn_name, connections.FORECAST_DB_CONN_ID}
    assert ensured & forecast, (
        f"airflow-init creates no Forecast connection ({' or '.join(sorted(forecast))})"
    )
    slots = interpolate(environment(services["airflow-init"])["INTACCT_API_SLOTS"], {})
    assert slots == str(dag_defaults.INTACCT_SLOTS), (
        f"INTACCT_API_SLOTS defaults to {slots} in compose but to {dag_defaults.INTACCT_SLOTS} in the DAGs"
    )


def test_init_script_leaves_every_dollar_to_the_container(init_script):
    # A single `$` is compose's: it would be filled in from the host's environment when compose starts.
    lone = re.findall(r"\$\{?\w+", init_script.replace("$$", ""))
    assert not lone, f"airflow-init's script has compose interpolations {lone}: write $$ for the shell's $"


# -- environment: what the code reads ---------------------------------------------------------------------


def test_every_variable_the_code_reads_is_set_or_defaulted(services, airflow_services):
    reads, unknown = environment_reads(REPO / root for root in CODE_ROOTS)
    assert not unknown, (
        f"environment reads whose variable name is not a literal or a module constant: {unknown}"
    )
    assert reads, "the scan found no environment reads at all: the scanner is broken"
    stale = sorted(set(DEFAULTED) - set(reads))
    assert not stale, f"DEFAULTED lists variables the code no longer reads: {stale}"
    for name in sorted(set(reads) - set(DEFAULTED)):
        for service in airflow_services:
            assert name in environment(services[service]), (
                f"{name} (read at {', '.join(reads[name])}) is not set for {service}: add it to "
                "x-airflow-common's environment, or to DEFAULTED here with the reason it may stay unset"
            )
    doc = DEPLOYMENT_DOC.read_text(encoding="utf-8")
    undocumented = [name for name in DEFAULTED if f"`{name}`" not in doc]
    assert not undocumented, f"{DEPLOYMENT_DOC.name} does not mention the optional variables {undocumented}"


def test_the_environment_scan_finds_literal_constant_and_unknown_names(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "settings.py").write_text(
        "import os\n"
        'TARGET = "FORECAST_TARGET"\n'
        'a = os.environ.get("A_LITERAL", "x")\n'
        "b = os.environ.get(TARGET)\n"
        'c = os.getenv("C_GETENV")\n'
        'd = os.environ["D_SUBSCRIPT"]\n'
        'e = "E_IN" in os.environ\n'
        'os.environ["WRITTEN"] = "1"\n'
        "f = os.environ.get(name_from_somewhere)\n",
        encoding="utf-8",
    )
    reads, unknown = environment_reads([tmp_path / "code"])
    assert sorted(reads) == ["A_LITERAL", "C_GETENV", "D_SUBSCRIPT", "E_IN", "FORECAST_TARGET"]
    assert unknown == ["code/settings.py:9"]


def test_the_include_folder_sits_beside_plugins_in_the_image(compose, stages):
    # Why INTACCT_INCLUDE_DIR may stay unset: unset, include_dir() is the `include/` beside plugins/.
    assert sql_files.include_dir() == (REPO / "plugins").parent / "include"
    destinations = {}
    for keyword, arguments in (i for stage in stages.values() for i in stage):
        if keyword == "COPY":
            parts = [p for p in shlex.split(arguments) if not p.startswith("--")]
            for source in parts[:-1]:
                destinations[source.rstrip("/")] = parts[-1].rstrip("/")
    assert "plugins" in destinations and "include" in destinations, (
        "the Dockerfile copies no plugins/ or include/"
    )
    assert Path(destinations["include"]) == Path(destinations["plugins"]).parent / "include", (
        f"include/ goes to {destinations['include']}, not beside plugins/ ({destinations['plugins']})"
    )
    pythonpath = environment(compose["x-airflow-common"]).get("PYTHONPATH")
    assert pythonpath == destinations["plugins"], (
        f"x-airflow-common's PYTHONPATH is {pythonpath!r}, not the image's plugins folder {destinations['plugins']}"
    )


# -- the Dockerfile -----------------------------------------------------------------------------------------


def test_dockerfile_base_is_the_airflow_version_the_lock_pins(stages):
    lock = (REPO / "requirements.txt").read_text(encoding="utf-8")
    pin = re.search(r"^apache-airflow==(\S+)$", lock, re.MULTILINE)
    assert pin, "requirements.txt pins no apache-airflow version"
    python = re.search(r"--python-version (\d+\.\d+)", lock)
    base = next(iter(stages.values()))[0][1].split()[0]
    match = re.fullmatch(r"apache/airflow:(?P<airflow>[\d.]+)-python(?P<python>[\d.]+)", base)
    assert match, f"the Dockerfile's first FROM is {base!r}, not apache/airflow:<version>-python<version>"
    assert match["airflow"] == pin.group(1), (
        f"the Dockerfile builds on Airflow {match['airflow']} but requirements.txt pins {pin.group(1)}"
    )
    assert python and match["python"] == python.group(1), (
        f"the image's Python is {match['python']}, the lock was compiled for {python and python.group(1)}"
    )
    installs = [a for stage in stages.values() for k, a in stage if k == "RUN" and "pip install" in a]
    assert any("-r /opt/airflow/requirements.txt" in a for a in installs), (
        "the Dockerfile does not install the lock"
    )


def test_dockerfile_copy_sources_exist_and_are_sent_to_the_build(stages):
    ignored = [
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = []
    for stage, instructions in stages.items():
        for keyword, arguments in instructions:
            if keyword not in ("COPY", "ADD"):
                continue
            parts = shlex.split(arguments)
            if any(p.startswith("--from") for p in parts):
                continue
            sources = [p for p in parts if not p.startswith("--")][:-1]
            for source in sources:
                assert (REPO / source).exists(), f"Dockerfile stage {stage}: COPY {source} does not exist"
                assert source.rstrip("/") not in ignored, f".dockerignore leaves {source} out of the build"
                copied.append(source.rstrip("/"))
    for folder in ("dags", "plugins", "include"):
        assert folder in copied, f"the production image does not get {folder}/"
    sandbox_copies = [a for k, a in stages.get("sandbox", []) if k == "COPY"]
    assert any(a.split()[-2].rstrip("/") == "sandbox" for a in sandbox_copies), (
        "the sandbox stage lacks sandbox/"
    )


# -- secrets ------------------------------------------------------------------------------------------------


def _env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: {line!r} is not KEY=VALUE"
            pairs[key.strip()] = value.strip()
    return pairs


def test_no_secret_is_committed(compose):
    documents = {COMPOSE.name: compose, ENV_EXAMPLE.name: _env_file(ENV_EXAMPLE)}
    raws = {p.name: p.read_text(encoding="utf-8") for p in (COMPOSE, ENV_EXAMPLE, DOCKERFILE)}
    problems = secret_problems(documents, raws, ALLOWED_SECRETS)
    assert not problems, "secret-looking literals are committed:\n" + "\n".join(problems)


def test_the_secret_check_finds_each_kind_of_leak():
    fernet = Fernet.generate_key().decode()  # made here, never written to a file
    synthetic = {
        "services": {
            "worker": {
                "environment": {
                    "AIRFLOW__CORE__FERNET_KEY": fernet,
                    "POSTGRES_PASSWORD": "hunter2hunter2",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://airflow:s3cr3t-pw@postgres/airflow",
                    "BROKER": "redis://:${REDIS_PASSWORD:-letmein}@redis:6379/0",
                    "CONN": json.dumps({"password": DEFAULT_API_KEY}),
                    "AIRFLOW__API_AUTH__JWT_SECRET_CMD": "echo jwt",
                    "FINE": "${POSTGRES_PASSWORD:-airflow}",
                }
            }
        }
    }
    problems = secret_problems({"synthetic": synthetic}, {"synthetic": fernet}, ALLOWED_SECRETS)
    text_of = "\n".join(problems)
    for expected in (
        "AIRFLOW__CORE__FERNET_KEY is a literal secret",
        "POSTGRES_PASSWORD is a literal secret",
        "the URL's password is a literal secret",
        "the default of ${REDIS_PASSWORD} is a literal secret",
        "password in its JSON is the sandbox default, outside a sandbox service",
        "AIRFLOW__API_AUTH__JWT_SECRET_CMD must read a file",
        "has the shape of a Fernet key",
    ):
        assert expected in text_of, f"the secret check missed: {expected}\n{text_of}"
    assert "FINE" not in text_of, f"the documented local default was flagged:\n{text_of}"


def test_env_example_lists_exactly_the_variables_compose_reads(compose):
    example = _env_file(ENV_EXAMPLE)
    used = {name for _, _, value in strings(compose) for name, _ in variables_used(value)}
    assert not used - set(example), f"{ENV_EXAMPLE.name} does not document {sorted(used - set(example))}"
    assert not set(example) - used, (
        f"{ENV_EXAMPLE.name} lists variables compose never reads: {sorted(set(example) - used)}"
    )


# -- the sandbox profile --------------------------------------------------------------------------------


def test_sandbox_profile_runs_both_stand_ins_on_every_interface(services):
    parsers = {
        "sandbox.intacct_gateway": gateway_main.build_parser(),
        "sandbox.forecast_api": forecast_main.build_parser(),
    }
    for name, module in SANDBOX_SERVICES.items():
        service = services.get(name)
        assert service, f"the sandbox profile lacks {name}"
        assert service.get("profiles") == ["sandbox"], f"{name} should run only in the sandbox profile"
        command = [interpolate(str(part), {}) for part in service["command"]]
        assert command[:3] == ["python", "-m", module], f"{name} runs {command[:3]}, not python -m {module}"
        try:
            args = parsers[module].parse_args(command[3:])  # the stand-in's own parser
        except SystemExit:
            pytest.fail(f"{name}: python -m {module} does not accept {command[3:]}", pytrace=False)
        assert args.host == "0.0.0.0", f"{name} binds {args.host}: other containers could not reach it"
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"


def test_sandbox_connections_point_at_the_stand_ins(services, monkeypatch):
    init = services.get("sandbox-init")
    assert init and init.get("profiles") == ["sandbox"], "the sandbox profile lacks its sandbox-init service"
    assert init["command"] == services["airflow-init"]["command"], (
        "sandbox-init should run airflow-init's script"
    )
    env = {k: interpolate(v, {}) for k, v in environment(init).items()}
    ports = {
        name: int(s["command"][s["command"].index("--port") + 1])
        for name, s in services.items()
        if name in SANDBOX_SERVICES
    }
    monkeypatch.setenv("AIRFLOW_CONN_INTACCT_DEFAULT", env["INTACCT_DEFAULT_CONN_JSON"])
    monkeypatch.setenv("AIRFLOW_CONN_FORECAST_DEFAULT", env["FORECAST_DEFAULT_CONN_JSON"])
    settings = IntacctHook().settings()  # the hook's own checks: unknown or missing keys fail here
    assert settings.config.endpoint == f"http://intacct-sandbox:{ports['intacct-sandbox']}/ia/xml/xmlgw.phtml"
    assert (
        settings.config.login.user_id,
        settings.config.login.company_id,
        settings.config.sender.sender_id,
    ) == (
        DEFAULT_USER_ID,
        DEFAULT_COMPANY_ID,
        DEFAULT_SENDER_ID,
    )
    forecast = ForecastHook().config()
    assert forecast.base_url == f"http://forecast-sandbox:{ports['forecast-sandbox']}/api"
    assert forecast.api_key == DEFAULT_API_KEY


# -- the docs -----------------------------------------------------------------------------------------------


def test_deployment_doc_has_the_compose_section():
    doc = DEPLOYMENT_DOC.read_text(encoding="utf-8")
    assert re.search(rf"^#+ {re.escape(DOC_SECTION)}$", doc, re.MULTILINE), (
        f"{DEPLOYMENT_DOC.name} lacks the section {DOC_SECTION!r}"
    )
    for phrase in ("docker compose up airflow-init", "--profile sandbox", "run_report", "validated"):
        assert phrase in doc, f"{DEPLOYMENT_DOC.name} does not say {phrase!r}"


# -- the init script, run for real (outside a container) -------------------------------------------------


@pytest.mark.slow
@pytest.mark.postgres
def test_init_script_runs_twice_and_keeps_its_secrets(services, init_script, every_backend, tmp_path):
    """airflow-init's own script, with its container paths moved under tmp_path: Airflow's database on
    SQLite, ours on the PostgreSQL server (a database the script must create). The FAB admin step is the
    one part not run: the FAB provider is not installed here, so the auth manager is the simple one."""
    state_url = make_url(every_backend["postgresql"].create())
    server = create_engine(state_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:  # the factory named it and drops it; the init must create it
        connection.execute(text(f'DROP DATABASE "{state_url.database}"'))
    init_env = {k: interpolate(v, {}) for k, v in environment(services["airflow-init"]).items()}
    sandbox_env = {k: interpolate(v, {}) for k, v in environment(services["sandbox-init"]).items()}
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    env = {
        **init_env,
        **{
            k: v.replace(init_env["AIRFLOW_SECRETS_DIR"], str(secrets))
            for k, v in init_env.items()
            if k.endswith("_CMD")
        },
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW_SECRETS_DIR": str(secrets),
        "PYTHONPATH": str(REPO / "plugins"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",  # migrating needs no Celery; the provider is not installed here
        "INTACCT_STATE_DB_CONN_JSON": json.dumps(
            {
                "conn_type": "postgres",
                "host": state_url.host,
                "port": state_url.port,
                "schema": state_url.database,
                "login": state_url.username,
                "password": state_url.password or "",
            }
        ),
        "INTACCT_DEFAULT_CONN_JSON": sandbox_env["INTACCT_DEFAULT_CONN_JSON"],
        "FORECAST_DEFAULT_CONN_JSON": "",  # not given on the first run: reported, then created on the second
    }
    script = init_script.replace("$$", "$")

    def run() -> str:
        done = subprocess.run(
            ["bash", "-c", script], check=False, env=env, capture_output=True, text=True, timeout=900
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"airflow-init's script failed ({done.returncode}):\n{output[-4000:]}"
        return output

    first = run()
    for name in ("fernet_key", "jwt_secret", "api_secret_key"):
        assert f"{name}: generated" in first
    assert "forecast_default: NOT DEFINED" in first, first[-2000:]
    generated = {path.name: path.read_text() for path in secrets.iterdir()}
    for variable in (
        "AIRFLOW__CORE__FERNET_KEY_CMD",
        "AIRFLOW__API_AUTH__JWT_SECRET_CMD",
        "AIRFLOW__API__SECRET_KEY_CMD",
    ):
        value = subprocess.run(shlex.split(env[variable]), capture_output=True, text=True, check=True).stdout
        assert len(value) >= 43 and "\n" not in value, f"{variable} reads {len(value)} characters"
    Fernet(generated["fernet_key"])  # a valid key, or this raises
    assert f"created database {state_url.database}" in first, first[-2000:]

    env["FORECAST_DEFAULT_CONN_JSON"] = sandbox_env["FORECAST_DEFAULT_CONN_JSON"]
    second = run()
    for name in ("fernet_key", "jwt_secret", "api_secret_key", "intacct_state_db", "intacct_default"):
        assert f"{name}: kept" in second, second[-2000:]
    assert "forecast_default: created" in second
    assert {path.name: path.read_text() for path in secrets.iterdir()} == generated, (
        "a rerun changed the secrets"
    )

    airflow_db = create_engine(f"sqlite:///{tmp_path / 'airflow.db'}")
    with airflow_db.connect() as connection:
        slots = connection.scalar(
            text("SELECT slots FROM slot_pool WHERE pool = :p"), {"p": dag_defaults.INTACCT_POOL}
        )
        stored = {
            row.conn_id: row
            for row in connection.execute(text("SELECT conn_id, password, is_encrypted FROM connection"))
        }
    airflow_db.dispose()
    assert slots == int(init_env["INTACCT_API_SLOTS"]), f"the pool has {slots} slots"
    expected = {connections.STATE_DB_CONN_ID, IntacctHook.default_conn_name, ForecastHook.default_conn_name}
    assert set(stored) == expected, f"connections stored: {sorted(stored)}"
    key = Fernet(generated["fernet_key"])
    for conn_id, password in (
        (IntacctHook.default_conn_name, DEFAULT_USER_PASSWORD),
        (ForecastHook.default_conn_name, DEFAULT_API_KEY),
    ):
        row = stored[conn_id]
        assert row.is_encrypted and key.decrypt(row.password.encode()).decode() == password, (
            f"{conn_id}'s password is not stored encrypted with the generated Fernet key"
        )
    state = db.open_engine(state_url.render_as_string(hide_password=False))
    try:
        assert migrations.current_revision(state) == migrations.head_revision()
    finally:
        state.dispose()
        server.dispose()
