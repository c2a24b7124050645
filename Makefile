# The commands the README shows. `make demo` and `make test` work from a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The demo and `make airflow` keep their Airflow home inside the checkout (git-ignored);
# the tests make a throwaway one of their own.
DEMO_AIRFLOW_HOME := $(CURDIR)/airflow_home

.PHONY: install lock postgres lint format test demo airflow stack stack-stop report clean

install: $(VENV)/.installed

# The lock is the constraint file: a fresh install gets exactly these versions.
$(VENV)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "$$(grep -E '^uv==' requirements.txt)"
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.txt
	@touch $@

lock: install
	$(BIN)/uv pip compile requirements.in --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--quiet -o requirements.txt

postgres:
	@scripts/ensure_postgres.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install postgres lint
	$(BIN)/pytest $(PYTEST_ARGS)

demo: install
	AIRFLOW_HOME=$(DEMO_AIRFLOW_HOME) $(BIN)/python scripts/demo.py

airflow: install
	AIRFLOW_HOME=$(DEMO_AIRFLOW_HOME) scripts/airflow_standalone.sh

# make stack [STACK_ARGS="--api-port 8090"]: the Celery stack on this machine (docs/deployment.md), in var/stack;
# make stack-stop stops what it started, by pid
stack: install
	$(BIN)/python scripts/stack.py start $(STACK_ARGS)

stack-stop:
	$(BIN)/python scripts/stack.py stop $(STACK_ARGS)

# make report [ARGS="--id 3 --csv plan.csv"]: print a stored run report of the demo's state database
report: install
	AIRFLOW_HOME=$(DEMO_AIRFLOW_HOME) PYTHONPATH=plugins $(BIN)/python -m intacct.airflow.report_cli $(ARGS)

clean:
	rm -rf $(DEMO_AIRFLOW_HOME) .pytest_cache .ruff_cache
