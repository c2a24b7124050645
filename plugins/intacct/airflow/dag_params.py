"""The trigger-form params of the DAGs, built from the entity registry so every DAG asks alike.

Schemas here only shape the form: list entries are judged by `run_params` (every bad one named at once),
since Airflow's own schema check stops at the first. Read at DAG-parse time: nothing here touches the
network or a database (custom permission profiles come from the environment, see `permission_levels`).
"""

from __future__ import annotations

import os

from airflow.sdk import Param

from intacct.airflow.run_params import ANY_ENTRY
from intacct.entities import entity
from intacct.forecast.target import DEFAULT_PROFILES

# Custom Forecast permission profiles offered in the team-member form beside the five built-in ones:
# their names, comma-separated (the form is built when the DAG file is parsed, without Forecast).
PERMISSION_LEVELS_VARIABLE = "FORECAST_PERMISSION_LEVELS"


def permission_levels() -> list[str]:
    extra = [n.strip() for n in os.environ.get(PERMISSION_LEVELS_VARIABLE, "").split(",") if n.strip()]
    return list(dict.fromkeys([*DEFAULT_PROFILES, *extra]))


def dry_run() -> Param:
    return Param(
        False, type="boolean", title="Dry run", description="Write nothing; report what would happen."
    )


def name_filter(entity_type: str, among: str) -> Param:
    e = entity(entity_type)
    return Param(
        None,
        type=["null", "string"],
        title="Name filter",
        description=f"Only {e.intacct_records} whose name contains this text (ignoring case), {among}.",
    )


def import_params(entity_type: str, **extra: Param) -> dict[str, Param]:
    """The params of an import DAG: ids or select_all, name_filter, include_inactive, dry_run, and `extra`."""
    e = entity(entity_type)
    return {
        e.ids_param: Param(
            [],
            type="array",
            items={"type": "string"},  # one per line in the form
            title=f"Intacct {e.intacct_key}s",
            description=f"{e.intacct_key}s to import, one per line. Empty: choose from a list during the run.",
        ),
        "select_all": Param(
            False,
            type="boolean",
            title=f"Import every importable {e.intacct_records[:-1]}",
            description=f"Instead of {e.ids_param} or the list: all importable {e.intacct_records} of the plan "
            f"(narrowed by name_filter and include_inactive). Those that look like an existing Forecast "
            f"{e.forecast_record} are left out and reported: link them, or name them in {e.ids_param}.",
        ),
        "name_filter": name_filter(entity_type, "in the list to choose from or with select_all"),
        **extra,
        "include_inactive": Param(False, type="boolean", title=f"Include inactive {e.intacct_records}"),
        "dry_run": dry_run(),
    }


def link_params(entity_type: str) -> dict[str, Param]:
    """The params of a link DAG: links (or a choice among suggestions), unlink, relink, name_filter, dry_run."""
    e = entity(entity_type)
    forecast_key, intacct_key = e.link_keys
    return {
        "links": Param(
            [],
            type="array",
            title="Links",
            description=f'Pairs like {{"{forecast_key}": 12, "{intacct_key}": "…"}}. Empty (and no unlink): '
            "choose among the plan's suggested links during the run.",
            items={
                "type": ANY_ENTRY,
                "properties": {
                    forecast_key: {"description": f"Forecast {e.forecast_record} id (a positive integer)"},
                    intacct_key: {"description": f"Intacct {e.intacct_key}"},
                },
            },
        ),
        "unlink": Param(
            [],
            type="array",
            items={"type": ANY_ENTRY},
            title=f"Unlink Forecast {e.forecast_record} ids",
            description=f"Forecast {e.forecast_record} ids whose links are removed, e.g. [12, 13].",
        ),
        "relink": Param(False, type="boolean", title="Replace existing links"),
        "name_filter": name_filter(entity_type, "among the suggested links to choose from"),
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Check everything; write nothing."
        ),
    }
