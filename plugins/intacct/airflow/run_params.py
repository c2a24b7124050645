"""Checks of a run's conf and params, naming every bad value by its place in the request.

Airflow's own schema check stops at the first bad value and does not say which entry it was, so the DAGs
declare lenient schemas (types that shape the trigger form) and these checks are the ones that answer:
every problem of the request at once, each by position and value, before anything is read or written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from intacct.entities import entity
from intacct.links import LinkPair
from intacct.refusal import Refused

# A JSON-schema type that admits any entry: for list params whose entries the checks here judge, so
# Airflow's schema check (first error only) never answers before they do. Not "string": the trigger form
# would turn the field into one line per entry instead of a JSON list.
ANY_ENTRY = ["object", "array", "string", "number", "boolean", "null"]


class RequestRefused(Refused):
    """A run's parameters cannot be carried out; `problems` names each value."""


def undeclared_conf(conf: Mapping[str, Any] | None, declared: Sequence[str]) -> list[str]:
    """Airflow accepts conf keys that are not params and silently ignores them; we refuse them."""
    unknown = sorted(set(conf or {}) - set(declared))
    if not unknown:
        return []
    return [f"unknown parameter(s) {', '.join(unknown)}: this DAG takes {', '.join(sorted(declared))}"]


def _positive_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def id_problems(values: Any, name: str) -> list[str]:
    """Intacct ids: a list of non-empty strings, each named once."""
    if values is None:
        return []
    if not isinstance(values, list):
        return [f"{name} must be a list of Intacct ids, got {values!r}"]
    problems = [
        f"{name}[{n}] must be a non-empty string, got {value!r}"
        for n, value in enumerate(values)
        if not isinstance(value, str) or not value.strip()
    ]
    counts = Counter(v.strip() for v in values if isinstance(v, str) and v.strip())
    problems += [f"{name} names {key!r} {n} times" for key, n in counts.items() if n > 1]
    return problems


def ids(values: Any, name: str) -> tuple[str, ...]:
    """The checked ids of a param (stripped); `RequestRefused` names every bad one."""
    problems = id_problems(values, name)
    if problems:
        raise RequestRefused(problems)
    return tuple(v.strip() for v in values or ())


def _link_pairs(entity_type: str, raw: Any) -> tuple[list[LinkPair], list[str]]:
    forecast_key, intacct_key = entity(entity_type).link_keys
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], [f"links must be a list of {{{forecast_key}, {intacct_key}}} objects, got {raw!r}"]
    pairs: list[LinkPair] = []
    problems: list[str] = []
    for n, item in enumerate(raw):
        where = f"links[{n}] {item!r}"
        if not isinstance(item, Mapping):
            problems.append(f"{where} must be an object with the keys {forecast_key} and {intacct_key}")
            continue
        wrong = []
        missing = [key for key in (forecast_key, intacct_key) if key not in item]
        if missing:
            wrong.append(f"{' and '.join(missing)} missing")
        extra = sorted(set(item) - {forecast_key, intacct_key})
        if extra:
            wrong.append(f"unknown key(s) {', '.join(map(str, extra))}")
        if forecast_key in item and not _positive_id(item[forecast_key]):
            wrong.append(f"{forecast_key} must be a positive integer, got {item[forecast_key]!r}")
        value = item.get(intacct_key)
        if intacct_key in item and (not isinstance(value, str) or not value.strip()):
            wrong.append(f"{intacct_key} must be a non-empty string, got {value!r}")
        if wrong:
            problems.append(f"{where}: {'; '.join(wrong)}")
        else:
            pairs.append(LinkPair(item[forecast_key], value.strip()))
    return pairs, problems


def link_pairs(entity_type: str, raw: Any) -> tuple[LinkPair, ...]:
    """`[{forecast_<entity>_id, intacct_<key>}]` from the params; `RequestRefused` names every bad entry."""
    pairs, problems = _link_pairs(entity_type, raw)
    if problems:
        raise RequestRefused(problems)
    return tuple(pairs)


def _forecast_id(value: Any) -> int | None:
    # The trigger form's one-per-line field hands over strings: "12" is as good as 12.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if _positive_id(value) else None


def forecast_id_problems(values: Any, name: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list):
        return [f"{name} must be a list of Forecast ids, got {values!r}"]
    return [
        f"{name}[{n}] must be a Forecast id (a positive integer), got {value!r}"
        for n, value in enumerate(values)
        if _forecast_id(value) is None
    ]


def forecast_ids(values: Any, name: str) -> tuple[int, ...]:
    """The checked Forecast ids of a param; `RequestRefused` names every bad one."""
    problems = forecast_id_problems(values, name)
    if problems:
        raise RequestRefused(problems)
    return tuple(_forecast_id(v) for v in values or ())


def check_request(
    entity_type: str,
    conf: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    declared: Sequence[str],
    *,
    ids_param: str | None = None,
) -> int:
    """Every problem of a run's request at once; returns how many records it names."""
    problems = undeclared_conf(conf, declared)
    selected = 0
    if ids_param:
        problems += id_problems(params.get(ids_param), ids_param)
        selected = len(params.get(ids_param) or ())
        if params.get(ids_param):
            problems += [
                f"{other} does not go with {ids_param}: it chooses among the plan's records, {ids_param} "
                "names them"
                for other in ("select_all", "name_filter")
                if params.get(other)
            ]
    if "links" in params:
        pairs, link_problems = _link_pairs(entity_type, params.get("links"))
        problems += link_problems + forecast_id_problems(params.get("unlink"), "unlink")
        selected = len(pairs)
    if problems:
        raise RequestRefused(problems)
    return selected
